// Role assignments for the scanner's identity on one target subscription (deploy once per subscription).
// Built-in role GUIDs: learn.microsoft.com/azure/role-based-access-control/built-in-roles
//   Reader                  acdd72a7-3385-48ef-bd42-f606fba81ae7  (inventory, Resource Graph, auditing policies,
//                                                                 diagnostic settings read: */read covers
//                                                                 Microsoft.Insights/diagnosticSettings/read, so
//                                                                 Monitoring Reader is not needed)
//   Monitoring Contributor  749f88d5-cbae-40b8-bcfc-e573ddc772fa  (Microsoft.Insights/DiagnosticSettings/* write)
//   SQL Security Manager    056cd41c-7e88-42e1-933e-88ba6a50c9c3  (Microsoft.Sql/servers/auditingSettings/*, and
//                                                                 extendedAuditingSettings/read only: the
//                                                                 scanner writes auditingSettings, never the
//                                                                 extended policy)
// Synapse auditing writes use the custom role from synapse-auditing-role.bicep.
targetScope = 'subscription'

param principalId string
@description('true: also grant the write roles (enforce mode). false: Reader only (plan mode).')
param allowRemediation bool = true
param includeSynapse bool = true

var readerRole = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
var writeRoles = [
  '749f88d5-cbae-40b8-bcfc-e573ddc772fa'
  '056cd41c-7e88-42e1-933e-88ba6a50c9c3'
]

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, readerRole)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', readerRole)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource writers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in (allowRemediation ? writeRoles : []): {
  name: guid(subscription().id, principalId, roleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

module synapseRole 'synapse-auditing-role.bicep' = if (allowRemediation && includeSynapse) {
  name: 'auditguard-synapse-role'
}

resource synapseWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (allowRemediation && includeSynapse) {
  name: guid(subscription().id, principalId, 'synapse-auditing-writer')
  properties: {
    roleDefinitionId: (allowRemediation && includeSynapse) ? synapseRole.outputs.roleDefinitionId : ''
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
