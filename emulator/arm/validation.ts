import type { EmulatorResponse } from "../http-contracts.js";
import type { AuditingPolicyProperties, DiagnosticSettingState, ResourceType } from "../estate/estate.js";
import type { FleetStorageAccount } from "../fleet/schema.js";
import { armError, invalidRequestContent } from "./errors.js";
import { classifyAuditEntry } from "./audit-action-groups.js";

/** PUT bodies checked the way the services check them, with their error codes. */

type Validated<T> = { ok: true; properties: T } | { ok: false; response: EmulatorResponse };

function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false; response: EmulatorResponse } {
  if (body.length === 0) return { ok: false, response: armError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: 'The request body is empty.'.") };
  try {
    return { ok: true, value: JSON.parse(body.toString("utf8")) };
  } catch (error) {
    return { ok: false, response: invalidRequestContent(error instanceof Error ? error.message : "invalid JSON") };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const invalidParameter = (message: string) => armError(400, "DataSecurityInvalidUserSuppliedParameter", message);

/** What the auditing check needs to know about the PUT's target beyond its body. */
export interface AuditingPutContext {
  /** Synapse workspaces have no isManagedIdentityInUse in their API (sqlServer.json 2021-06-01). */
  synapse: boolean;
  extended: boolean;
  /** Server and workspace policies take action groups only; database policies also take actions. */
  level: "server" | "database";
  /** The storage account a storage endpoint names, if the fleet models it (its keys, who may write to it). */
  storageAccount?: (name: string) => FleetStorageAccount | undefined;
  /** Whether the server's or workspace's managed identity may write blobs to that account. */
  identityMayWrite?: (account: FleetStorageAccount) => boolean;
}

const auditingRequestMissing = () =>
  armError(400, "InvalidServerBlobAuditingPolicyCreateRequest", "The create server blob auditing policy request does not exist or has no properties object.");

/**
 * The checks of "Server Blob Auditing Policies - Create Or Update" (and the Synapse workspace and database
 * variants), with the error codes those references list: a body without properties or state, action groups
 * outside the documented list, actions at server level, storage credentials that do not work.
 */
export function validateAuditingPut(body: Buffer, ctx: AuditingPutContext): Validated<AuditingPolicyProperties> {
  const parsed = parseJson(body);
  if (!parsed.ok) return parsed;
  const value = parsed.value;
  if (!isObject(value) || !isObject(value.properties) || value.properties.state === undefined || value.properties.state === null) {
    return { ok: false, response: auditingRequestMissing() };
  }
  const p = value.properties;
  if (p.state !== "Enabled" && p.state !== "Disabled") {
    return {
      ok: false,
      response: invalidRequestContent(`Error converting value ${JSON.stringify(p.state ?? null)} to type 'BlobAuditingPolicyState'. Path 'properties.state'`),
    };
  }
  const str = (k: string) => (typeof p[k] === "string" ? (p[k]) : undefined);
  const bool = (k: string) => (typeof p[k] === "boolean" ? (p[k]) : undefined);
  const storageEndpoint = str("storageEndpoint") ?? "";
  const monitor = bool("isAzureMonitorTargetEnabled") ?? false;
  const key = str("storageAccountAccessKey");
  if (p.state === "Enabled" && !storageEndpoint && !monitor) {
    return {
      ok: false,
      response: invalidParameter("Insufficient parameters: when state is Enabled, storageEndpoint or isAzureMonitorTargetEnabled is required."),
    };
  }
  const endpoint = /^https:\/\/([a-z0-9]+)\.blob\.[a-z0-9.]+\/?$/i.exec(storageEndpoint);
  if (storageEndpoint && !endpoint) {
    return { ok: false, response: invalidParameter("Invalid parameter 'storageEndpoint'. Value should be a blob storage endpoint (e.g. https://MyAccount.blob.core.windows.net).") };
  }
  const retentionDays = p.retentionDays ?? 0;
  if (typeof retentionDays !== "number" || !Number.isInteger(retentionDays) || retentionDays < 0 || retentionDays > 3285) {
    return { ok: false, response: invalidParameter("Invalid parameter 'retentionDays'. Value should be between 0 and 3285.") };
  }
  const groups = p.auditActionsAndGroups ?? [];
  if (!Array.isArray(groups) || groups.some((g) => typeof g !== "string")) {
    return { ok: false, response: invalidRequestContent("Error converting value to type 'List`1'. Path 'properties.auditActionsAndGroups'") };
  }
  for (const entry of groups as string[]) {
    const kind = classifyAuditEntry(entry, ctx.level);
    if (kind === "action" && ctx.level === "server") {
      // "Actions can't be specified for Server auditing policy."
      return { ok: false, response: armError(400, "InvalidBlobAuditActions", `Invalid audit actions: '${entry}'. Audit actions can be specified for database auditing policies only.`) };
    }
    if (kind === "invalid" || (kind === "action" && ctx.level !== "database")) {
      return { ok: false, response: armError(400, "InvalidBlobAuditActionsAndGroups", `Invalid audit actions or action groups: '${entry}'.`) };
    }
  }
  const queueDelayMs = p.queueDelayMs;
  if (queueDelayMs !== undefined && (typeof queueDelayMs !== "number" || (queueDelayMs !== 0 && (queueDelayMs < 1000 || queueDelayMs > 2147483647)))) {
    return { ok: false, response: invalidParameter("Invalid parameter 'queueDelayMs'. Value should be 0 or between 1000 and 2147483647.") };
  }
  // A storage endpoint without a key means the server's system-assigned identity writes the audit blobs (the
  // REST references' storageAccountAccessKey, for servers and for Synapse workspaces); one with a key keeps
  // key-based access. Only accounts the fleet models are checked.
  const secondary = bool("isStorageSecondaryKeyInUse") ?? false;
  const managedIdentity = p.state === "Enabled" && !!storageEndpoint && !key;
  const account = endpoint && p.state === "Enabled" ? ctx.storageAccount?.(endpoint[1]!.toLowerCase()) : undefined;
  if (account) {
    if (key !== undefined && key !== (secondary ? account.keys[1] : account.keys[0])) {
      return { ok: false, response: armError(400, "BlobAuditingInvalidStorageAccountCredentials", "The provided storage account shared access signature or account storage key is not valid.") };
    }
    if (managedIdentity && !ctx.identityMayWrite?.(account)) {
      // [unverified] the code and message Azure sends when the managed identity may not write to the account.
      return {
        ok: false,
        response: armError(400, "BlobAuditingInvalidStorageAccountCredentials", `The server's managed identity does not have access to storage account '${account.name}'. Grant it the Storage Blob Data Contributor role or provide a storage account access key.`),
      };
    }
  }
  const props: AuditingPolicyProperties = {
    ...(bool("isDevopsAuditEnabled") !== undefined ? { isDevopsAuditEnabled: bool("isDevopsAuditEnabled") } : {}),
    ...(ctx.extended ? { predicateExpression: str("predicateExpression") ?? "" } : {}),
    retentionDays,
    // Azure's default when a PUT enables auditing without naming groups.
    auditActionsAndGroups:
      groups.length === 0 && p.state === "Enabled"
        ? ["SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP", "FAILED_DATABASE_AUTHENTICATION_GROUP", "BATCH_COMPLETED_GROUP"]
        : [...(groups as string[])],
    isStorageSecondaryKeyInUse: secondary,
    isAzureMonitorTargetEnabled: monitor,
    ...(queueDelayMs !== undefined ? { queueDelayMs } : {}),
    ...(!ctx.synapse ? { isManagedIdentityInUse: managedIdentity } : {}),
    state: p.state,
    storageEndpoint,
    storageAccountSubscriptionId: str("storageAccountSubscriptionId") ?? "00000000-0000-0000-0000-000000000000",
  };
  return { ok: true, properties: props };
}

const SUPPORTED_CATEGORIES: Partial<Record<ResourceType, string[]>> = {
  "Microsoft.Sql/managedInstances": ["ResourceUsageStats", "SQLSecurityAuditEvents", "DevOpsOperationsAudit"],
  "Microsoft.Sql/servers/databases": [
    "SQLInsights", "AutomaticTuning", "QueryStoreRuntimeStatistics", "QueryStoreWaitStatistics", "Errors", "DatabaseWaitStatistics",
    "Timeouts", "Blocks", "Deadlocks", "DevOpsOperationsAudit", "SQLSecurityAuditEvents",
  ],
  "Microsoft.Synapse/workspaces": [
    "SynapseRbacOperations", "GatewayApiRequests", "BuiltinSqlReqsEnded", "IntegrationPipelineRuns", "IntegrationActivityRuns",
    "IntegrationTriggerRuns", "SynapseLinkEvent", "SQLSecurityAuditEvents",
  ],
};

export function validateDiagnosticSettingPut(body: Buffer, resourceType: ResourceType): Validated<DiagnosticSettingState["properties"]> {
  const parsed = parseJson(body);
  if (!parsed.ok) return parsed;
  const value = parsed.value;
  if (!isObject(value) || !isObject(value.properties)) return { ok: false, response: invalidRequestContent("Required property 'properties' not found in JSON") };
  const p = value.properties;
  const str = (k: string) => (typeof p[k] === "string" && p[k] !== "" ? (p[k]) : undefined);
  const workspaceId = str("workspaceId");
  const storageAccountId = str("storageAccountId");
  const eventHubAuthorizationRuleId = str("eventHubAuthorizationRuleId");
  const marketplacePartnerId = str("marketplacePartnerId");
  if (!workspaceId && !storageAccountId && !eventHubAuthorizationRuleId && !marketplacePartnerId && !str("serviceBusRuleId")) {
    return { ok: false, response: armError(400, "BadRequest", "At least one of storageAccountId, eventHubAuthorizationRuleId, workspaceId or marketplacePartnerId must be set.") };
  }
  const logsIn = p.logs ?? [];
  if (!Array.isArray(logsIn)) return { ok: false, response: invalidRequestContent("Path 'properties.logs' is not an array") };
  const supported = SUPPORTED_CATEGORIES[resourceType];
  const logs: DiagnosticSettingState["properties"]["logs"] = [];
  for (const entry of logsIn) {
    if (!isObject(entry) || typeof entry.enabled !== "boolean") return { ok: false, response: invalidRequestContent("Each log setting needs a boolean 'enabled'") };
    const category = typeof entry.category === "string" ? entry.category : undefined;
    const categoryGroup = typeof entry.categoryGroup === "string" ? entry.categoryGroup : undefined;
    if ((category === undefined) === (categoryGroup === undefined)) {
      return { ok: false, response: armError(400, "BadRequest", "Each log setting must specify exactly one of category or categoryGroup.") };
    }
    if (category && supported && !supported.some((c) => c.toLowerCase() === category.toLowerCase())) {
      return { ok: false, response: armError(400, "BadRequest", `Category '${category}' is not supported.`) };
    }
    if (categoryGroup && !["audit", "alllogs"].includes(categoryGroup.toLowerCase())) {
      return { ok: false, response: armError(400, "BadRequest", `Category group '${categoryGroup}' is not supported.`) };
    }
    const retention = isObject(entry.retentionPolicy) ? { enabled: Boolean(entry.retentionPolicy.enabled), days: Number(entry.retentionPolicy.days ?? 0) } : { enabled: false, days: 0 };
    logs.push({ ...(category ? { category } : {}), ...(categoryGroup ? { categoryGroup } : {}), enabled: entry.enabled, retentionPolicy: retention });
  }
  const ARM_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/[^/]+\/[^/]+\/[^/]+/i;
  for (const [key, id] of [["workspaceId", workspaceId], ["storageAccountId", storageAccountId], ["eventHubAuthorizationRuleId", eventHubAuthorizationRuleId]] as const) {
    if (id && !ARM_ID.test(id)) {
      return {
        ok: false,
        response: armError(
          400,
          "LinkedInvalidPropertyId",
          `Property id '${id}' at path 'properties.${key}' is invalid. Expect fully qualified resource Id that start with '/subscriptions/{subscriptionId}' or '/providers/{resourceProviderNamespace}/'.`,
        ),
      };
    }
  }
  const destination = str("logAnalyticsDestinationType");
  if (destination && destination !== "Dedicated" && destination !== "AzureDiagnostics") {
    return { ok: false, response: armError(400, "BadRequest", `Invalid logAnalyticsDestinationType '${destination}'.`) };
  }
  return {
    ok: true,
    properties: {
      ...(workspaceId ? { workspaceId } : {}),
      ...(storageAccountId ? { storageAccountId } : {}),
      ...(eventHubAuthorizationRuleId ? { eventHubAuthorizationRuleId } : {}),
      ...(str("eventHubName") ? { eventHubName: str("eventHubName")! } : {}),
      ...(str("serviceBusRuleId") ? { serviceBusRuleId: str("serviceBusRuleId")! } : {}),
      ...(marketplacePartnerId ? { marketplacePartnerId } : {}),
      ...(destination ? { logAnalyticsDestinationType: destination } : {}),
      logs,
      metrics: Array.isArray(p.metrics) ? p.metrics : [],
    },
  };
}

export const MAX_DIAGNOSTIC_SETTINGS = 5;

/** The log categories an entry covers: itself, or every category of the type for the audit/allLogs groups. */
function coveredCategories(log: DiagnosticSettingState["properties"]["logs"][number], resourceType: ResourceType): string[] {
  if (!log.enabled) return [];
  if (log.category) return [log.category.toLowerCase()];
  const all = (SUPPORTED_CATEGORIES[resourceType] ?? ["SQLSecurityAuditEvents", "DevOpsOperationsAudit"]).map((c) => c.toLowerCase());
  if (log.categoryGroup?.toLowerCase() === "audit") return all.filter((c) => c === "sqlsecurityauditevents" || c === "devopsoperationsaudit");
  return all;
}

/**
 * Azure Monitor's rules across the settings of one resource: at most five settings, and one destination may
 * receive a category from only one setting (the reason two tools that each want "their" setting fight forever).
 */
export function settingConflict(
  existing: readonly DiagnosticSettingState[],
  name: string,
  properties: DiagnosticSettingState["properties"],
  resourceType: ResourceType,
): EmulatorResponse | undefined {
  const others = existing.filter((s) => s.name.toLowerCase() !== name.toLowerCase());
  if (others.length >= MAX_DIAGNOSTIC_SETTINGS) {
    return armError(400, "BadRequest", `Diagnostic settings count exceeds the limit of ${MAX_DIAGNOSTIC_SETTINGS} for this resource.`);
  }
  const sinks = (p: DiagnosticSettingState["properties"]) =>
    [p.workspaceId, p.storageAccountId, p.eventHubAuthorizationRuleId, p.marketplacePartnerId].filter((x): x is string => Boolean(x)).map((x) => x.toLowerCase());
  const mine = new Set(properties.logs.flatMap((l) => coveredCategories(l, resourceType)));
  for (const other of others) {
    const shared = sinks(other.properties).find((sink) => sinks(properties).includes(sink));
    if (!shared) continue;
    const overlap = other.properties.logs.flatMap((l) => coveredCategories(l, resourceType)).find((c) => mine.has(c));
    if (overlap) {
      const original = (SUPPORTED_CATEGORIES[resourceType] ?? []).find((c) => c.toLowerCase() === overlap) ?? overlap;
      return armError(
        400,
        "BadRequest",
        `Data sink '${shared}' is already used in diagnostic setting '${other.name}' for category '${original}'. Data sinks can't be reused in different settings on the same category for the same resource.`,
      );
    }
  }
  return undefined;
}
