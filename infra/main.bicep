// AuditGuard: Flex Consumption Function App, its storage and telemetry, and the scanner identity's role assignments.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name; names and tags derive from it.')
param environmentName string

@minLength(1)
param location string

@description('NCRONTAB (6 fields) for the timer scan.')
param schedule string = '0 0 * * * *'

@description('NCRONTAB schedule of the activity sweep (reads the audit workspaces for suspicious activity).')
param sweepSchedule string = '0 */5 * * * *'

@description('CloudEvents source attribute of every event this deployment publishes.')
param eventSource string = ''

@description('Baseline file path inside the deployed package.')
param baselinePath string = 'auditguard.yaml'

param tablePrefix string = 'AuditGuard'
param eventsQueueName string = 'auditguard-events'

@description('Subscriptions the scanner reads (and, with allowRemediation, fixes). Role assignments are made on each.')
param targetSubscriptionIds array = []

@description('Resource groups ("<subscriptionId>/<resourceGroup>") to grant on instead of whole subscriptions.')
param targetResourceGroups array = []

@description('false: grant Reader only (plan mode). true: also the write roles enforce mode needs.')
param allowRemediation bool = true

@description('Resource id of the Log Analytics workspace that receives SQLSecurityAuditEvents (empty: skip).')
param auditWorkspaceResourceId string = ''

// Flex Consumption limits (quickstart function-app-flex-managed-identities): 40..1000 instances, 2048 or 4096 MB.
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([2048, 4096])
param instanceMemoryMB int = 2048

var tags = { 'azd-env-name': environmentName, app: 'auditguard' }
var token = toLower(uniqueString(subscription().id, environmentName, location))
var deploymentContainerName = 'app-package-${take(token, 7)}'
// Fixed: the queue trigger's binding names it (src/host/settings.ts SCAN_QUEUE), so it is not a parameter.
var scanQueueName = 'auditguard-scan-requests'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-auditguard-${environmentName}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-auditguard-${token}'
    appInsightsName: 'appi-auditguard-${token}'
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    storageAccountName: 'stag${take(token, 20)}'
    deploymentContainerName: deploymentContainerName
    scanQueueName: scanQueueName
    eventsQueueName: eventsQueueName
  }
}

module app 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    location: location
    tags: tags
    planName: 'plan-auditguard-${token}'
    functionAppName: 'func-auditguard-${token}'
    storageAccountName: storage.outputs.storageAccountName
    deploymentContainerName: deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: {
      AUDITGUARD_BASELINE_PATH: baselinePath
      AUDITGUARD_SCHEDULE: schedule
      AUDITGUARD_SWEEP_SCHEDULE: sweepSchedule
      AUDITGUARD_EVENTS_QUEUE: eventsQueueName
      AUDITGUARD_TABLE_PREFIX: tablePrefix
      AUDITGUARD_EVENT_SOURCE: empty(eventSource) ? 'urn:auditguard:${environmentName}' : eventSource
    }
  }
}

module subscriptionRoles 'modules/subscription-roles.bicep' = [for subId in targetSubscriptionIds: {
  name: 'auditguard-roles-${take(uniqueString(subId), 8)}'
  scope: subscription(subId)
  params: {
    principalId: app.outputs.principalId
    allowRemediation: allowRemediation
  }
}]

// The custom Synapse role lives in each resource group's subscription; one at a time, since resource groups of one
// subscription define the same role (same name, same body) and concurrent writes of it could collide.
@batchSize(1)
module resourceGroupSynapseRole 'modules/synapse-auditing-role.bicep' = [for rgRef in targetResourceGroups: if (allowRemediation) {
  name: 'auditguard-synapse-role-${take(uniqueString(rgRef), 8)}'
  scope: subscription(split(rgRef, '/')[0])
}]

module resourceGroupRoles 'modules/resource-group-roles.bicep' = [for (rgRef, i) in targetResourceGroups: {
  name: 'auditguard-rg-roles-${take(uniqueString(rgRef), 8)}'
  scope: resourceGroup(split(rgRef, '/')[0], split(rgRef, '/')[1])
  params: {
    principalId: app.outputs.principalId
    allowRemediation: allowRemediation
    synapseRoleDefinitionId: allowRemediation ? resourceGroupSynapseRole[i].outputs.roleDefinitionId : ''
  }
}]

// Fallbacks keep the scope expression valid when the module is skipped (ARM still evaluates the scope).
var workspaceParts = split(auditWorkspaceResourceId, '/')
var workspaceSubscriptionId = empty(auditWorkspaceResourceId) ? subscription().subscriptionId : workspaceParts[2]
var workspaceResourceGroup = empty(auditWorkspaceResourceId) ? rg.name : workspaceParts[4]

module workspaceReader 'modules/workspace-reader.bicep' = if (!empty(auditWorkspaceResourceId)) {
  name: 'auditguard-workspace-reader'
  scope: resourceGroup(workspaceSubscriptionId, workspaceResourceGroup)
  params: {
    principalId: app.outputs.principalId
    workspaceName: empty(auditWorkspaceResourceId) ? 'none' : last(split(auditWorkspaceResourceId, '/'))
    allowRemediation: allowRemediation
  }
}

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = rg.name
output FUNCTION_APP_NAME string = app.outputs.name
output FUNCTION_APP_PRINCIPAL_ID string = app.outputs.principalId
output FUNCTION_APP_URL string = 'https://${app.outputs.defaultHostName}'
output STORAGE_ACCOUNT_NAME string = storage.outputs.storageAccountName
