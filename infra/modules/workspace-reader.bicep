// Log Analytics Reader (73c42c96-874c-492b-b04d-ab87d138a893, learn.microsoft.com/azure/role-based-access-control/
// built-in-roles/monitor) on the audit workspace: the activity rules query AzureDiagnostics there.
param principalId string
param workspaceName string

var logAnalyticsReader = '73c42c96-874c-492b-b04d-ab87d138a893'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: workspace
  name: guid(workspace.id, principalId, logAnalyticsReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsReader)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
