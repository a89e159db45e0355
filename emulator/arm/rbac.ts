import type { BuiltInRole, FleetIdentity } from "../fleet/schema.js";
import { idKey } from "../estate/ids.js";

/**
 * Role-based access as ARM enforces it: an identity may perform an action on a scope when one of its role
 * assignments at that scope or above grants the action (Actions minus NotActions, with wildcards). The built-in
 * roles carry the subset of their real definitions that our operations touch.
 */
interface RoleDefinition {
  actions: string[];
  notActions?: string[];
}

const ROLES: Record<BuiltInRole, RoleDefinition> = {
  Owner: { actions: ["*"] },
  Contributor: { actions: ["*"], notActions: ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write"] },
  Reader: { actions: ["*/read"] },
  "SQL Security Manager": {
    actions: [
      "*/read",
      "Microsoft.Sql/servers/auditingSettings/*",
      "Microsoft.Sql/servers/extendedAuditingSettings/*",
      "Microsoft.Sql/servers/databases/auditingSettings/*",
      "Microsoft.Sql/servers/databases/extendedAuditingSettings/*",
      "Microsoft.Sql/managedInstances/databases/*",
      "Microsoft.Sql/managedInstances/securityAlertPolicies/*",
    ],
  },
  "SQL Server Contributor": {
    actions: ["*/read", "Microsoft.Sql/servers/*"],
    // The real role explicitly excludes the auditing policies (that is what SQL Security Manager is for).
    notActions: [
      "Microsoft.Sql/servers/auditingSettings/*",
      "Microsoft.Sql/servers/extendedAuditingSettings/*",
      "Microsoft.Sql/servers/databases/auditingSettings/*",
      "Microsoft.Sql/servers/databases/extendedAuditingSettings/*",
    ],
  },
  "SQL Managed Instance Contributor": { actions: ["*/read", "Microsoft.Sql/managedInstances/*"] },
  // Monitoring Contributor may also use a workspace's shared keys, which a diagnostic setting to that workspace
  // needs (Azure built-in roles; JimGBritt/AzurePolicy#17); Log Analytics Reader and Reader may not.
  "Monitoring Contributor": { actions: ["*/read", "Microsoft.Insights/diagnosticSettings/*", "Microsoft.OperationalInsights/workspaces/sharedKeys/action"] },
  "Monitoring Reader": { actions: ["*/read"] },
  "Log Analytics Reader": { actions: ["*/read", "Microsoft.OperationalInsights/workspaces/query/*/read"] },
  "Log Analytics Contributor": { actions: ["*/read", "Microsoft.OperationalInsights/*", "Microsoft.Insights/diagnosticSettings/*"] },
};

function matches(pattern: string, action: string): boolean {
  const regex = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`, "i");
  return regex.test(action);
}

function grants(definition: RoleDefinition, action: string): boolean {
  return definition.actions.some((a) => matches(a, action)) && !(definition.notActions ?? []).some((n) => matches(n, action));
}

function covers(assignmentScope: string, scope: string): boolean {
  const a = idKey(assignmentScope);
  const s = idKey(scope);
  return s === a || s.startsWith(`${a}/`);
}

export function isAuthorized(identity: FleetIdentity | undefined, action: string, scope: string): boolean {
  if (!identity) return false;
  return identity.roleAssignments.some((assignment) => {
    if (!covers(assignment.scope, scope)) return false;
    const definition = assignment.role ? ROLES[assignment.role] : { actions: assignment.actions ?? [] };
    return grants(definition, action);
  });
}

/** Whether the identity has any role assignment at or below the subscription (ARM lists only those subscriptions). */
export function canSeeSubscription(identity: FleetIdentity | undefined, subscriptionId: string): boolean {
  if (!identity) return false;
  const sub = idKey(`/subscriptions/${subscriptionId}`);
  return identity.roleAssignments.some((a) => {
    const scope = idKey(a.scope);
    return scope === sub || scope.startsWith(`${sub}/`);
  });
}
