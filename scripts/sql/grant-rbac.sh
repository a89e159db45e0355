#!/bin/sh
# Grant the AuditGuard Function App's identity its Azure RBAC roles on one subscription (or one resource group),
# for estates whose subscriptions are not listed in infra/main.bicep's targetSubscriptionIds.
#   ./grant-rbac.sh <principalId> <subscriptionId> [resourceGroup] [--read-only]
# principalId: `azd env get-value FUNCTION_APP_PRINCIPAL_ID`. Role GUIDs: see grant-sql-server-and-synapse.md.
set -eu
principal="$1"; sub="$2"; rg="${3:-}"; mode="${4:-}"
if [ "$rg" = "--read-only" ]; then rg=""; mode="--read-only"; fi
scope="/subscriptions/$sub"
[ -n "$rg" ] && scope="$scope/resourceGroups/$rg"

assign() {
  az role assignment create --assignee-object-id "$principal" --assignee-principal-type ServicePrincipal \
    --role "$1" --scope "$scope" --only-show-errors >/dev/null
  echo "assigned $1 on $scope"
}

assign acdd72a7-3385-48ef-bd42-f606fba81ae7            # Reader
[ "$mode" = "--read-only" ] && exit 0
assign 749f88d5-cbae-40b8-bcfc-e573ddc772fa            # Monitoring Contributor
assign 056cd41c-7e88-42e1-933e-88ba6a50c9c3            # SQL Security Manager
# Synapse: the custom role is created per subscription by infra/modules/synapse-auditing-role.bicep.
az deployment sub create --location "${AZURE_LOCATION:-westeurope}" --subscription "$sub" \
  --template-file "$(dirname "$0")/../../infra/modules/synapse-auditing-role.bicep" --only-show-errors >/dev/null
assign "AuditGuard Synapse Auditing Writer"
