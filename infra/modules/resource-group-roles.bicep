// The same roles as subscription-roles.bicep, narrowed to one resource group (for estates scoped by resource group
// in the baseline). Role GUIDs and reasons: see subscription-roles.bicep.
param principalId string
param allowRemediation bool = true
@description('The custom Synapse auditing role of this resource group\'s subscription (synapse-auditing-role.bicep); empty: none.')
param synapseRoleDefinitionId string = ''

var roles = allowRemediation ? [
  'acdd72a7-3385-48ef-bd42-f606fba81ae7'
  '749f88d5-cbae-40b8-bcfc-e573ddc772fa'
  '056cd41c-7e88-42e1-933e-88ba6a50c9c3'
] : [
  'acdd72a7-3385-48ef-bd42-f606fba81ae7'
]

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in roles: {
  name: guid(resourceGroup().id, principalId, roleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

resource synapseWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (allowRemediation && !empty(synapseRoleDefinitionId)) {
  name: guid(resourceGroup().id, principalId, 'synapse-auditing-writer')
  properties: {
    roleDefinitionId: synapseRoleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
