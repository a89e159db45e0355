import type { AuditingPolicyKind, AuditingPolicyProperties, DiagnosticSettingState, EstateResource, SubscriptionState } from "../estate/estate.js";

/**
 * Response bodies in the shape of the public REST API examples (Azure/azure-rest-api-specs' example files for
 * each operation): ARM envelope (id, name, type, location, tags, sku, identity) around `properties`.
 */
export function resourceBody(resource: EstateResource): Record<string, unknown> {
  return {
    location: resource.location,
    ...(Object.keys(resource.tags).length ? { tags: resource.tags } : {}),
    id: resource.id,
    name: resource.name,
    type: resource.type,
    ...(resource.kind ? { kind: resource.kind } : {}),
    ...(resource.sku ? { sku: resource.sku } : {}),
    ...(resource.identity ? { identity: resource.identity } : {}),
    properties: structuredClone(resource.properties),
  };
}

const POLICY_TYPE: Record<string, string> = {
  "Microsoft.Sql/servers": "Microsoft.Sql/servers",
  "Microsoft.Sql/servers/databases": "Microsoft.Sql/servers/databases",
  "Microsoft.Synapse/workspaces": "Microsoft.Synapse/workspaces",
};

export function auditingPolicyBody(parent: EstateResource, kind: AuditingPolicyKind, properties: AuditingPolicyProperties): Record<string, unknown> {
  const { storageAccountAccessKey: _never, ...visible } = properties;
  return {
    id: `${parent.id}/${kind}/default`,
    name: "default",
    type: `${POLICY_TYPE[parent.type] ?? parent.type}/${kind}`,
    properties: visible,
  };
}

export function diagnosticSettingBody(setting: DiagnosticSettingState, apiVersion: string): Record<string, unknown> {
  const legacy = apiVersion < "2021-05-01-preview";
  const logs = setting.properties.logs.map((l) => {
    const out: Record<string, unknown> = {};
    if (l.category) out.category = l.category;
    // 2017-05-01-preview has no categoryGroup; newer versions send both keys, one of them null.
    if (!legacy) {
      if (!l.category) out.category = null;
      out.categoryGroup = l.categoryGroup ?? null;
    } else if (l.categoryGroup) {
      out.categoryGroup = l.categoryGroup;
    }
    out.enabled = l.enabled;
    out.retentionPolicy = l.retentionPolicy ?? { enabled: false, days: 0 };
    return out;
  });
  const p = setting.properties;
  return {
    id: `${setting.resourceUri}/providers/microsoft.insights/diagnosticSettings/${setting.name}`,
    type: "Microsoft.Insights/diagnosticSettings",
    name: setting.name,
    properties: {
      ...(p.storageAccountId !== undefined ? { storageAccountId: p.storageAccountId } : {}),
      ...(p.serviceBusRuleId !== undefined ? { serviceBusRuleId: p.serviceBusRuleId } : {}),
      ...(p.eventHubAuthorizationRuleId !== undefined ? { eventHubAuthorizationRuleId: p.eventHubAuthorizationRuleId } : {}),
      ...(p.eventHubName !== undefined ? { eventHubName: p.eventHubName } : {}),
      ...(p.marketplacePartnerId !== undefined && !legacy ? { marketplacePartnerId: p.marketplacePartnerId } : {}),
      workspaceId: p.workspaceId ?? "",
      ...(p.logAnalyticsDestinationType !== undefined ? { logAnalyticsDestinationType: p.logAnalyticsDestinationType } : {}),
      metrics: p.metrics,
      logs,
    },
  };
}

export function subscriptionBody(sub: SubscriptionState): Record<string, unknown> {
  return {
    id: `/subscriptions/${sub.subscriptionId}`,
    authorizationSource: "RoleBased",
    managedByTenants: [],
    subscriptionId: sub.subscriptionId,
    tenantId: sub.tenantId,
    displayName: sub.displayName,
    state: sub.state,
    subscriptionPolicies: { locationPlacementId: "Public_2014-09-01", quotaId: "PayAsYouGo_2014-09-01", spendingLimit: "Off" },
  };
}
