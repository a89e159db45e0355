// No built-in role narrower than Contributor writes Synapse workspace auditing settings (SQL Security Manager
// covers Microsoft.Sql only), so this custom role grants exactly the Synapse auditing actions. Every action name is
// in the Microsoft.Synapse operations list (learn.microsoft.com/azure/role-based-access-control/permissions/analytics).
targetScope = 'subscription'

param roleName string = 'AuditGuard Synapse Auditing Writer'

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, roleName)
  properties: {
    roleName: roleName
    description: 'Read and write Synapse workspace (managed SQL server) auditing settings, nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Synapse/workspaces/read'
          'Microsoft.Synapse/workspaces/auditingSettings/read'
          'Microsoft.Synapse/workspaces/auditingSettings/write'
          // Read only: remediation writes the auditingSettings policy, never the extended one.
          'Microsoft.Synapse/workspaces/extendedAuditingSettings/read'
          // Polling the long-running PUT reads the workspace's async operation results and statuses.
          'Microsoft.Synapse/workspaces/operationResults/read'
          'Microsoft.Synapse/workspaces/operationStatuses/read'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

output roleDefinitionId string = role.id
