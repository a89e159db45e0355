import type { DiagnosticSettingsResource } from "@azure/arm-monitor";
import type { AuditingPolicy, ObservedDiagnosticSetting } from "../core/domain.js";
import type { AzureClients } from "./clients.js";

/**
 * Reads and writes the ARM side of auditing: server auditing policies of SQL logical servers and of Synapse
 * workspaces' managed SQL server (both long-running PUTs), and diagnostic settings on any resource. The two policy
 * APIs have one model ("Server Blob Auditing Policies", "Workspace Managed Sql Server Blob Auditing Policies" REST
 * references) and one interface here; which one a target uses is its kind's (src/kinds/<kind>/adapter.ts).
 */
export type PolicyName = "auditingSettings" | "extendedAuditingSettings";

export interface PolicyTarget {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export interface AuditingPolicyApi {
  get(clients: AzureClients, target: PolicyTarget, policy: PolicyName, signal?: AbortSignal): Promise<AuditingPolicy>;
  /** PUTs a policy and waits for the long-running operation to finish; returns the resulting policy. */
  put(clients: AzureClients, target: PolicyTarget, policy: PolicyName, body: AuditingPolicy, signal?: AbortSignal): Promise<AuditingPolicy>;
}

const LRO_POLL_MS = 1_000;

/** Fields a resource envelope carries that must never go back in a PUT body. */
const READ_ONLY = new Set(["id", "name", "type", "systemData", "kind"]);

function plain(value: object): AuditingPolicy {
  return Object.fromEntries(Object.entries(value).filter(([key, v]) => v !== undefined && !READ_ONLY.has(key)));
}

// The SDK models validate `state` and the other fields when they serialise the body.
const parametersOf = (body: AuditingPolicy) => body as { state: "Enabled" | "Disabled" } & AuditingPolicy;

/** A SQL logical server's policies (Microsoft.Sql servers/auditingSettings, servers/extendedAuditingSettings). */
export const serverAuditingPolicies: AuditingPolicyApi = {
  async get(clients, target, policy, signal) {
    const sql = clients.sql(target.subscriptionId);
    const options = { abortSignal: signal };
    return plain(
      policy === "extendedAuditingSettings"
        ? await sql.extendedServerBlobAuditingPolicies.get(target.resourceGroup, target.name, options)
        : await sql.serverBlobAuditingPolicies.get(target.resourceGroup, target.name, options),
    );
  },
  async put(clients, target, policy, body, signal) {
    const sql = clients.sql(target.subscriptionId);
    const options = { abortSignal: signal, updateIntervalInMs: LRO_POLL_MS };
    return plain(
      policy === "extendedAuditingSettings"
        ? await sql.extendedServerBlobAuditingPolicies.beginCreateOrUpdateAndWait(target.resourceGroup, target.name, parametersOf(body), options)
        : await sql.serverBlobAuditingPolicies.beginCreateOrUpdateAndWait(target.resourceGroup, target.name, parametersOf(body), options),
    );
  },
};

/** A Synapse workspace's managed SQL server's policies (Microsoft.Synapse workspaces/auditingSettings, extendedAuditingSettings). */
export const workspaceAuditingPolicies: AuditingPolicyApi = {
  async get(clients, target, policy, signal) {
    const synapse = clients.synapse(target.subscriptionId);
    const options = { abortSignal: signal };
    return plain(
      policy === "extendedAuditingSettings"
        ? await synapse.workspaceManagedSqlServerExtendedBlobAuditingPolicies.get(target.resourceGroup, target.name, "default", options)
        : await synapse.workspaceManagedSqlServerBlobAuditingPolicies.get(target.resourceGroup, target.name, "default", options),
    );
  },
  async put(clients, target, policy, body, signal) {
    const synapse = clients.synapse(target.subscriptionId);
    const options = { abortSignal: signal, updateIntervalInMs: LRO_POLL_MS };
    return plain(
      policy === "extendedAuditingSettings"
        ? await synapse.workspaceManagedSqlServerExtendedBlobAuditingPolicies.beginCreateOrUpdateAndWait(target.resourceGroup, target.name, "default", parametersOf(body), options)
        : await synapse.workspaceManagedSqlServerBlobAuditingPolicies.beginCreateOrUpdateAndWait(target.resourceGroup, target.name, "default", parametersOf(body), options),
    );
  },
};

/** The SDKs put a leading slash of an ARM id into the URL as `//subscriptions` (@azure/arm-monitor 8 puts resourceUri in `/{+resourceUri}/...`; the REST spec
 * examples pass it without the leading slash). */
export function resourceUriForSdk(resourceId: string): string {
  return resourceId.replace(/^\/+/, "");
}

/** A diagnostic setting as the domain sees it, with the ARM id it has once it exists. */
export type DiagnosticSetting = ObservedDiagnosticSetting & { id?: string };

function toSetting(resource: DiagnosticSettingsResource): DiagnosticSetting {
  return {
    ...(resource.id ? { id: resource.id } : {}),
    name: String(resource.name),
    ...(resource.workspaceId ? { workspaceId: resource.workspaceId } : {}),
    ...(resource.logAnalyticsDestinationType ? { logAnalyticsDestinationType: resource.logAnalyticsDestinationType } : {}),
    ...(resource.storageAccountId ? { storageAccountId: resource.storageAccountId } : {}),
    ...(resource.eventHubAuthorizationRuleId ? { eventHubAuthorizationRuleId: resource.eventHubAuthorizationRuleId } : {}),
    ...(resource.eventHubName ? { eventHubName: resource.eventHubName } : {}),
    logs: (resource.logs ?? []).map((log) => ({
      ...(log.category ? { category: log.category } : {}),
      ...(log.categoryGroup ? { categoryGroup: log.categoryGroup } : {}),
      enabled: log.enabled,
    })),
    ...(resource.metrics ? { metrics: resource.metrics.map((m) => ({ ...(m.category ? { category: m.category } : {}), enabled: m.enabled })) } : {}),
  };
}

export async function listDiagnosticSettings(clients: AzureClients, subscriptionId: string, resourceUri: string, signal?: AbortSignal): Promise<DiagnosticSetting[]> {
  const out: DiagnosticSetting[] = [];
  for await (const setting of clients.monitor(subscriptionId).diagnosticSettings.list(resourceUriForSdk(resourceUri), { abortSignal: signal })) {
    out.push(toSetting(setting));
  }
  return out;
}

export async function putDiagnosticSetting(
  clients: AzureClients,
  subscriptionId: string,
  resourceUri: string,
  name: string,
  body: Omit<DiagnosticSetting, "name" | "id">,
  signal?: AbortSignal,
): Promise<DiagnosticSetting> {
  const saved = await clients
    .monitor(subscriptionId)
    .diagnosticSettings.createOrUpdate(resourceUriForSdk(resourceUri), name, body, { abortSignal: signal });
  return toSetting(saved);
}
