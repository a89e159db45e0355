// No built-in role narrower than Contributor writes Synapse workspace auditing settings (SQL Security Manager
// covers Microsoft.Sql only), so this custom role grants exactly the Synapse auditing actions. The action names
// follow the ARM resource types workspaces/auditingSettings and workspaces/extendedAuditingSettings (REST API
// WorkspaceManagedSqlServerBlobAuditingPolicies); they were not checked against the provider's operations list.
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
          'Microsoft.Synapse/workspaces/extendedAuditingSettings/read'
          'Microsoft.Synapse/workspaces/extendedAuditingSettings/write'
          // Polling the long-running PUT reads operation results under the workspace: */read, as in Reader.
          'Microsoft.Synapse/workspaces/*/read'
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
