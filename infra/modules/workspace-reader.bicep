// Roles on the audit workspace (learn.microsoft.com/azure/role-based-access-control/built-in-roles/monitor):
// - Log Analytics Reader (73c42c96-874c-492b-b04d-ab87d138a893): the activity sweep queries the workspace's audit
//   tables (AzureDiagnostics, SQLSecurityAuditEvents);
// - with remediation, Monitoring Contributor (749f88d5-cbae-40b8-bcfc-e573ddc772fa) on the workspace itself: a
//   diagnostic setting that sends to a workspace is authorised on the workspace too (linked access check: the caller
//   needs Microsoft.OperationalInsights/workspaces/sharedKeys/action there, else 403 LinkedAuthorizationFailed), which
//   a role on the monitored resources' subscription does not give when the workspace lives elsewhere.
param principalId string
param workspaceName string
param allowRemediation bool = false

var logAnalyticsReader = '73c42c96-874c-492b-b04d-ab87d138a893'
var monitoringContributor = '749f88d5-cbae-40b8-bcfc-e573ddc772fa'
var roles = allowRemediation ? [logAnalyticsReader, monitoringContributor] : [logAnalyticsReader]

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in roles: {
  scope: workspace
  name: guid(workspace.id, principalId, role)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]
