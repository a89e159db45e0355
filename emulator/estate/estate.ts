import type { LogAnalyticsStore, LogAnalyticsWorkspaceData, LogRow, ResourceGraphStore } from "../data-contracts.js";
import { INGESTION_TIME, SEED_ROW } from "../data-contracts.js";
import { SEED_DATE_COLUMN, parseSeedTime } from "../fleet/seed-time.js";
import { sampleLatency } from "../faults/faults.js";
import { mulberry32, streamSeed } from "../faults/prng.js";
import type { Random } from "../faults/prng.js";
import type { SqlAuditRecord } from "../sql/contracts.js";
import type {
  Fleet,
  FleetAuditingPolicy,
  FleetDiagnosticSetting,
  FleetIdentity,
  FleetManagedInstance,
  LroMode,
} from "../fleet/schema.js";
import { AUDIT_LOG_CATEGORY } from "../fleet/schema.js";
import { idKey, providerId, resourceGroupId, stableGuid } from "./ids.js";
import { azureDiagnosticsRow, resourceSpecificRow } from "./audit-rows.js";

/**
 * The emulated estate built from a fleet: every resource by lower-cased ARM id, auditing policies, diagnostic
 * settings by resource URI and the Log Analytics workspaces with their rows. ARM reads and writes it, the query
 * services read it (it is their LogAnalyticsStore and ResourceGraphStore), and the SQL engine reports audit
 * records to it — which land in a workspace only when a diagnostic setting routes them there, as in Azure.
 */

export type ResourceType =
  | "Microsoft.Sql/managedInstances"
  | "Microsoft.Sql/servers"
  | "Microsoft.Sql/servers/databases"
  | "Microsoft.Synapse/workspaces"
  | "Microsoft.OperationalInsights/workspaces";

export interface EstateResource {
  /** The ARM id in Azure's casing. */
  id: string;
  name: string;
  type: ResourceType;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  kind?: string;
  sku?: Record<string, unknown>;
  identity?: Record<string, unknown>;
  properties: Record<string, unknown>;
  /** The fleet's LRO preference for PUTs under this resource. */
  lro?: LroMode;
  /** For Managed Instances: the in-instance T-SQL state from the fleet (opaque here; emulator/mi owns it). */
  sql?: Record<string, unknown>;
}

export interface ResourceGroupState {
  id: string;
  name: string;
  subscriptionId: string;
  location: string;
  tags: Record<string, string>;
}

export interface SubscriptionState {
  subscriptionId: string;
  displayName: string;
  state: string;
  tenantId: string;
}

/** Auditing policy properties as ARM returns them (never the storage key). */
export type AuditingPolicyProperties = Record<string, unknown> & { state: "Enabled" | "Disabled" };
export type AuditingPolicyKind = "auditingSettings" | "extendedAuditingSettings";

export interface DiagnosticSettingLog {
  category?: string | null;
  categoryGroup?: string | null;
  enabled: boolean;
  retentionPolicy?: { enabled: boolean; days: number };
}

export interface DiagnosticSettingState {
  name: string;
  /** The resource URI the setting is on, in the casing it was created with. */
  resourceUri: string;
  properties: {
    workspaceId?: string;
    storageAccountId?: string;
    eventHubAuthorizationRuleId?: string;
    eventHubName?: string;
    serviceBusRuleId?: string;
    marketplacePartnerId?: string;
    logAnalyticsDestinationType?: string;
    logs: DiagnosticSettingLog[];
    metrics: unknown[];
  };
}

export interface AuditDelivery {
  delivered: boolean;
  destinations: { workspaceCustomerId: string; table: "AzureDiagnostics" | "SQLSecurityAuditEvents"; setting: string }[];
}

/** Whether a log entry routes SQLSecurityAuditEvents (explicitly, or through the audit/allLogs category groups). */
export function logsCoverAudit(logs: readonly DiagnosticSettingLog[]): boolean {
  return logs.some((l) => {
    if (!l.enabled) return false;
    if (l.category) return l.category.toLowerCase() === AUDIT_LOG_CATEGORY.toLowerCase();
    const group = l.categoryGroup?.toLowerCase();
    return group === "audit" || group === "alllogs";
  });
}

/**
 * A server's, workspace's or database's auditing policy as one record: auditingSettings and
 * extendedAuditingSettings are two views of it, the extended one adding predicateExpression ("Extended Server
 * Blob Auditing Policies"; ExtendedServerBlobAuditingGet.json shows the same fields plus the predicate).
 * isManagedIdentityInUse exists only in the SQL API (Synapse's sqlServer.json 2021-06-01 has no such property).
 */
function auditingProperties(policy: FleetAuditingPolicy, predicateExpression: string | undefined, isSql: boolean): AuditingPolicyProperties {
  const props: AuditingPolicyProperties = {
    ...(policy.isDevopsAuditEnabled !== undefined ? { isDevopsAuditEnabled: policy.isDevopsAuditEnabled } : {}),
    predicateExpression: predicateExpression ?? policy.predicateExpression ?? "",
    retentionDays: policy.retentionDays,
    auditActionsAndGroups: [...policy.auditActionsAndGroups],
    isStorageSecondaryKeyInUse: policy.isStorageSecondaryKeyInUse,
    isAzureMonitorTargetEnabled: policy.isAzureMonitorTargetEnabled,
    ...(policy.queueDelayMs !== undefined ? { queueDelayMs: policy.queueDelayMs } : {}),
    ...(isSql ? { isManagedIdentityInUse: policy.isManagedIdentityInUse ?? false } : {}),
    state: policy.state,
    storageEndpoint: policy.storageEndpoint,
    storageAccountSubscriptionId: policy.storageAccountSubscriptionId,
  };
  return props;
}

const DISABLED_POLICY: FleetAuditingPolicy = {
  state: "Disabled",
  isAzureMonitorTargetEnabled: false,
  auditActionsAndGroups: [],
  storageEndpoint: "",
  retentionDays: 0,
  storageAccountSubscriptionId: "00000000-0000-0000-0000-000000000000",
  isStorageSecondaryKeyInUse: false,
};

export interface EstateSnapshot {
  version: 1;
  policies: Record<string, AuditingPolicyProperties>;
  diagnostics: Array<{ uri: string; settings: DiagnosticSettingState[] }>;
  workspaces: Array<{ customerId: string; tables: Record<string, Array<Record<string, unknown>>> }>;
  extensions?: Record<string, unknown>;
}

export interface EstateOptions {
  now?: () => Date;
}

export class Estate implements LogAnalyticsStore, ResourceGraphStore {
  readonly tenantId: string;
  readonly scanner: FleetIdentity;
  readonly identities: FleetIdentity[];
  now: () => Date;
  private readonly subscriptionsById = new Map<string, SubscriptionState>();
  private readonly groups = new Map<string, ResourceGroupState>();
  private readonly resourcesById = new Map<string, EstateResource>();
  private readonly policies = new Map<string, AuditingPolicyProperties>();
  private readonly diagnostics = new Map<string, Map<string, DiagnosticSettingState>>();
  private readonly workspacesByCustomerId = new Map<string, LogAnalyticsWorkspaceData>();
  private readonly workspacesById = new Map<string, LogAnalyticsWorkspaceData>();

  /** When the estate was built: seed rows' relative times (`-PT20M`) count back from it. */
  readonly start: Date;
  private readonly ingestionRandom: Random;

  constructor(readonly fleet: Fleet, options: EstateOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.start = this.now();
    this.ingestionRandom = mulberry32(streamSeed(fleet.faults.seed, "ingestion"));
    this.tenantId = fleet.tenantId;
    this.scanner = fleet.scanner;
    this.identities = [fleet.scanner, ...fleet.otherIdentities];
    this.build();
  }

  // ---- construction -------------------------------------------------------------------------------------------

  private build(): void {
    const workspaceIdsByName = new Map<string, string>();
    for (const sub of this.fleet.subscriptions) {
      for (const rg of sub.resourceGroups) {
        for (const ws of rg.logAnalyticsWorkspaces) {
          workspaceIdsByName.set(ws.name.toLowerCase(), providerId(sub.id, rg.name, "Microsoft.OperationalInsights", "workspaces", ws.name));
        }
      }
    }
    const workspaceRef = (ref: string | undefined) => (ref === undefined ? undefined : ref.startsWith("/") ? ref : workspaceIdsByName.get(ref.toLowerCase()));

    for (const sub of this.fleet.subscriptions) {
      this.subscriptionsById.set(sub.id.toLowerCase(), { subscriptionId: sub.id, displayName: sub.displayName, state: sub.state, tenantId: this.tenantId });
      for (const rg of sub.resourceGroups) {
        const rgId = resourceGroupId(sub.id, rg.name);
        this.groups.set(idKey(rgId), { id: rgId, name: rg.name, subscriptionId: sub.id, location: rg.location, tags: rg.tags });
        const base = { subscriptionId: sub.id, resourceGroup: rg.name };
        const addSettings = (resourceUri: string, settings: FleetDiagnosticSetting[]) => {
          for (const ds of settings) this.putDiagnosticSetting(resourceUri, ds.name, fleetSettingProperties(ds, workspaceRef(ds.workspace)));
        };

        for (const ws of rg.logAnalyticsWorkspaces) {
          const id = providerId(sub.id, rg.name, "Microsoft.OperationalInsights", "workspaces", ws.name);
          this.addResource({
            ...base,
            id,
            name: ws.name,
            type: "Microsoft.OperationalInsights/workspaces",
            location: ws.location ?? rg.location,
            tags: ws.tags,
            properties: {
              customerId: ws.customerId,
              provisioningState: "Succeeded",
              sku: { name: "PerGB2018" },
              retentionInDays: 30,
              publicNetworkAccessForIngestion: "Enabled",
              publicNetworkAccessForQuery: "Enabled",
            },
          });
          const data: LogAnalyticsWorkspaceData = { customerId: ws.customerId, resourceId: id, tables: new Map() };
          for (const [table, rows] of Object.entries(ws.tables)) data.tables.set(table, rows.map((r) => this.ingest({ ...seedRow(r, this.start), [SEED_ROW]: true })));
          this.workspacesByCustomerId.set(ws.customerId.toLowerCase(), data);
          this.workspacesById.set(idKey(id), data);
        }

        for (const mi of rg.managedInstances) {
          const id = providerId(sub.id, rg.name, "Microsoft.Sql", "managedInstances", mi.name);
          this.addResource({ ...base, ...managedInstanceShape(mi, id, rg.location) });
          addSettings(id, mi.diagnosticSettings);
        }

        for (const server of rg.sqlServers) {
          const id = providerId(sub.id, rg.name, "Microsoft.Sql", "servers", server.name);
          const location = server.location ?? rg.location;
          this.addResource({
            ...base,
            id,
            name: server.name,
            type: "Microsoft.Sql/servers",
            location,
            tags: server.tags,
            kind: "v12.0",
            ...(server.lro ? { lro: server.lro } : {}),
            properties: {
              administratorLogin: "sqladmin",
              version: "12.0",
              state: server.state,
              fullyQualifiedDomainName: `${server.name}.database.windows.net`,
              privateEndpointConnections: [],
              minimalTlsVersion: "1.2",
              publicNetworkAccess: server.publicNetworkAccess,
              restrictOutboundNetworkAccess: "Disabled",
              externalGovernanceStatus: "Disabled",
            },
          });
          this.policies.set(idKey(id), auditingProperties(server.auditingSettings, server.extendedAuditingSettings?.predicateExpression, true));
          const databases = [{ name: "master", diagnosticSettings: server.diagnosticSettings, auditingSettings: undefined, extendedAuditingSettings: undefined }, ...server.databases];
          for (const db of databases) {
            const dbId = `${id}/databases/${db.name}`;
            this.addResource({
              ...base,
              id: dbId,
              name: db.name,
              type: "Microsoft.Sql/servers/databases",
              location,
              tags: {},
              kind: db.name === "master" ? "v12.0,system" : "v12.0,user",
              sku: db.name === "master" ? { name: "System", tier: "System", capacity: 0 } : { name: "GP_S_Gen5", tier: "GeneralPurpose", family: "Gen5", capacity: 2 },
              properties: { collation: "SQL_Latin1_General_CP1_CI_AS", status: "Online", databaseId: stableGuid(dbId.toLowerCase()) },
            });
            // Every database has a database-level policy; Azure reports Disabled until one is set.
            const dbPolicy = db.auditingSettings ?? DISABLED_POLICY;
            this.policies.set(idKey(dbId), auditingProperties(dbPolicy, db.extendedAuditingSettings?.predicateExpression, true));
            addSettings(dbId, db.diagnosticSettings);
          }
        }

        for (const ws of rg.synapseWorkspaces) {
          const id = providerId(sub.id, rg.name, "Microsoft.Synapse", "workspaces", ws.name);
          this.addResource({
            ...base,
            id,
            name: ws.name,
            type: "Microsoft.Synapse/workspaces",
            location: ws.location ?? rg.location,
            tags: ws.tags,
            ...(ws.lro ? { lro: ws.lro } : {}),
            identity: { type: "SystemAssigned", principalId: stableGuid(`principal:${id.toLowerCase()}`), tenantId: this.tenantId },
            properties: {
              defaultDataLakeStorage: { accountUrl: `https://${ws.name.replace(/[^a-z0-9]/gi, "").toLowerCase()}adls.dfs.core.windows.net`, filesystem: "default" },
              sqlAdministratorLogin: ws.sqlAdministratorLogin,
              managedResourceGroupName: ws.managedResourceGroupName ?? `synapseworkspace-managedrg-${stableGuid(id.toLowerCase())}`,
              provisioningState: "Succeeded",
              connectivityEndpoints: ws.connectivityEndpoints ?? {
                dev: `https://${ws.name}.dev.azuresynapse.net`,
                sql: `${ws.name}.sql.azuresynapse.net`,
              },
              workspaceUID: stableGuid(`uid:${id.toLowerCase()}`),
            },
          });
          this.policies.set(idKey(id), auditingProperties(ws.auditingSettings, ws.extendedAuditingSettings?.predicateExpression, false));
          addSettings(id, ws.diagnosticSettings);
        }
      }
    }
  }

  private addResource(resource: EstateResource): void {
    this.resourcesById.set(idKey(resource.id), resource);
  }

  // ---- reads ----------------------------------------------------------------------------------------------------

  subscription(subscriptionId: string): SubscriptionState | undefined {
    return this.subscriptionsById.get(subscriptionId.toLowerCase());
  }

  subscriptions(): SubscriptionState[] {
    return [...this.subscriptionsById.values()];
  }

  resourceGroup(subscriptionId: string, name: string): ResourceGroupState | undefined {
    return this.groups.get(idKey(resourceGroupId(subscriptionId, name)));
  }

  resourceGroups(subscriptionId: string): ResourceGroupState[] {
    return [...this.groups.values()].filter((g) => g.subscriptionId.toLowerCase() === subscriptionId.toLowerCase());
  }

  resource(id: string): EstateResource | undefined {
    return this.resourcesById.get(idKey(id));
  }

  /** Resources of a type, optionally within a subscription and resource group (case-insensitive). */
  resourcesOfType(type: ResourceType, subscriptionId?: string, resourceGroup?: string): EstateResource[] {
    const out: EstateResource[] = [];
    for (const r of this.resourcesById.values()) {
      if (r.type !== type) continue;
      if (subscriptionId && r.subscriptionId.toLowerCase() !== subscriptionId.toLowerCase()) continue;
      if (resourceGroup && r.resourceGroup.toLowerCase() !== resourceGroup.toLowerCase()) continue;
      out.push(r);
    }
    return out;
  }

  managedInstances(): EstateResource[] {
    return this.resourcesOfType("Microsoft.Sql/managedInstances");
  }

  /** A Managed Instance by name or FQDN (the first DNS label is the name). */
  managedInstanceByServerName(serverName: string): EstateResource | undefined {
    const name = serverName.toLowerCase().split(".")[0];
    return this.managedInstances().find((r) => r.name.toLowerCase() === name);
  }

  /** The policy as `kind` shows it: auditingSettings without the predicate, extendedAuditingSettings with it. */
  auditingPolicy(resourceId: string, kind: AuditingPolicyKind): AuditingPolicyProperties | undefined {
    const policy = this.policies.get(idKey(resourceId));
    if (!policy) return undefined;
    if (kind === "extendedAuditingSettings") return { ...policy };
    const { predicateExpression: _extended, ...plain } = policy;
    return plain;
  }

  /**
   * Replaces the policy through either view; a PUT of auditingSettings, which has no predicate, keeps the one the
   * policy has [unverified: Azure's behaviour for the predicate on a plain PUT]. The storage key is never kept.
   */
  setAuditingPolicy(resourceId: string, kind: AuditingPolicyKind, properties: AuditingPolicyProperties): void {
    const { storageAccountAccessKey: _secret, ...kept } = properties;
    const predicate = kind === "extendedAuditingSettings" ? (kept.predicateExpression ?? "") : (this.policies.get(idKey(resourceId))?.predicateExpression ?? "");
    this.policies.set(idKey(resourceId), { ...kept, predicateExpression: predicate });
  }

  diagnosticSettings(resourceUri: string): DiagnosticSettingState[] {
    return [...(this.diagnostics.get(idKey(resourceUri))?.values() ?? [])];
  }

  diagnosticSetting(resourceUri: string, name: string): DiagnosticSettingState | undefined {
    return this.diagnostics.get(idKey(resourceUri))?.get(name.toLowerCase());
  }

  putDiagnosticSetting(resourceUri: string, name: string, properties: DiagnosticSettingState["properties"]): DiagnosticSettingState {
    const key = idKey(resourceUri);
    let settings = this.diagnostics.get(key);
    if (!settings) {
      settings = new Map();
      this.diagnostics.set(key, settings);
    }
    const existing = settings.get(name.toLowerCase());
    const state: DiagnosticSettingState = { name: existing?.name ?? name, resourceUri: existing?.resourceUri ?? `/${resourceUri.replace(/^\/+/, "")}`, properties };
    settings.set(name.toLowerCase(), state);
    return state;
  }

  deleteDiagnosticSetting(resourceUri: string, name: string): boolean {
    return this.diagnostics.get(idKey(resourceUri))?.delete(name.toLowerCase()) ?? false;
  }

  // ---- persistence (the demo keeps the estate between runs) ------------------------------------------------------

  /**
   * The estate's mutable state as JSON-safe data: auditing policies, diagnostic settings and Log Analytics rows.
   * Restoring it on an estate built from the same fleet resumes where a previous run left off.
   */
  snapshot(): EstateSnapshot {
    const encode = (v: unknown): unknown => (v instanceof Date ? { $date: v.toISOString() } : v);
    return {
      version: 1,
      policies: Object.fromEntries(this.policies),
      diagnostics: [...this.diagnostics.entries()].map(([uri, settings]) => ({ uri, settings: [...settings.values()] })),
      workspaces: [...this.workspacesByCustomerId.values()].map((w) => ({
        customerId: w.customerId,
        tables: Object.fromEntries([...w.tables.entries()].map(([t, rows]) => [t, rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, encode(v)])))])),
      })),
      extensions: { ...this.extensions },
    };
  }

  restore(snapshot: EstateSnapshot): void {
    if (snapshot.version !== 1) throw new Error(`unsupported estate snapshot version ${String(snapshot.version)}`);
    const decode = (v: unknown): unknown => (v && typeof v === "object" && "$date" in (v as Record<string, unknown>) ? new Date(String((v as { $date: string }).$date)) : v);
    this.policies.clear();
    // Older snapshots kept the two views apart (`<id>/auditingsettings`, `<id>/extendedauditingsettings`).
    const entries = Object.entries(snapshot.policies).sort(([a], [b]) => Number(a.endsWith("/extendedauditingsettings")) - Number(b.endsWith("/extendedauditingsettings")));
    for (const [key, value] of entries) this.policies.set(key.replace(/\/(extended)?auditingsettings$/, ""), { predicateExpression: "", ...value });
    this.diagnostics.clear();
    for (const { uri, settings } of snapshot.diagnostics) this.diagnostics.set(uri, new Map(settings.map((st) => [st.name.toLowerCase(), st])));
    for (const { customerId, tables } of snapshot.workspaces) {
      const ws = this.workspaceByCustomerId(customerId);
      if (!ws) continue;
      // The fleet's seed rows stay as this estate dated them (relative seed times stay recent); what arrived
      // since (the physics' rows) comes back after them, in its order.
      for (const [table, rows] of ws.tables) ws.tables.set(table, rows.filter((r) => r[SEED_ROW] === true));
      for (const [table, rows] of Object.entries(tables)) {
        const arrived = rows.filter((r) => r[SEED_ROW] !== true).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, decode(v)])) as LogRow);
        if (arrived.length) ws.tables.set(table, [...(ws.tables.get(table) ?? []), ...arrived]);
      }
    }
    Object.assign(this.extensions, snapshot.extensions ?? {});
  }

  /** State other emulator parts (e.g. Managed Instance engines) keep with the estate's snapshot, by name. */
  readonly extensions: Record<string, unknown> = {};

  // ---- LogAnalyticsStore ----------------------------------------------------------------------------------------

  workspaceByCustomerId(customerId: string): LogAnalyticsWorkspaceData | undefined {
    return this.workspacesByCustomerId.get(customerId.toLowerCase());
  }

  workspaceByResourceId(resourceId: string): LogAnalyticsWorkspaceData | undefined {
    return this.workspacesById.get(idKey(resourceId));
  }

  allWorkspaces(): Iterable<LogAnalyticsWorkspaceData> {
    return this.workspacesByCustomerId.values();
  }

  resourceExists(resourceId: string): boolean {
    const key = idKey(resourceId);
    if (this.resourcesById.has(key) || this.groups.has(key)) return true;
    return /^\/subscriptions\/[^/]+$/.test(key) && this.subscriptionsById.has(key.split("/")[2]!);
  }

  // ---- ResourceGraphStore ---------------------------------------------------------------------------------------

  *resources(): Iterable<LogRow> {
    for (const r of this.resourcesById.values()) {
      yield {
        id: r.id,
        name: r.name,
        type: r.type.toLowerCase(),
        tenantId: this.tenantId,
        kind: r.kind ?? "",
        location: r.location.toLowerCase().replace(/\s+/g, ""),
        resourceGroup: r.resourceGroup.toLowerCase(),
        subscriptionId: r.subscriptionId,
        managedBy: "",
        sku: r.sku ?? null,
        plan: null,
        properties: structuredClone(r.properties),
        tags: { ...r.tags },
        identity: r.identity ?? null,
        zones: null,
        extendedLocation: null,
      };
    }
  }

  subscriptionIds(): string[] {
    return [...this.subscriptionsById.values()].map((s) => s.subscriptionId);
  }

  // ---- physics --------------------------------------------------------------------------------------------------

  /** Log Analytics rows become visible at their ingestion time: event time plus the fleet's `faults.ingestionDelay`. */
  private ingest(row: LogRow): LogRow {
    const time = row.TimeGenerated instanceof Date ? row.TimeGenerated : this.start;
    const delay = Math.max(0, Math.round(sampleLatency(this.fleet.faults.ingestionDelay, this.ingestionRandom)));
    return { ...row, [INGESTION_TIME]: new Date(time.getTime() + delay) };
  }

  /**
   * An audit record emitted by a SQL resource (a Managed Instance, a server — routed through its master database
   * — or a Synapse workspace). Every enabled diagnostic setting on it that sends SQLSecurityAuditEvents to an
   * existing workspace gets the row Azure would write; with none, the record goes nowhere.
   */
  appendAuditRecord(resourceId: string, record: SqlAuditRecord): AuditDelivery {
    const resource = this.resource(resourceId);
    const delivery: AuditDelivery = { delivered: false, destinations: [] };
    if (!resource) return delivery;
    const emitter = resource.type === "Microsoft.Sql/servers" ? this.resource(`${resource.id}/databases/master`) ?? resource : resource;
    const logicalServerName = emitter.type === "Microsoft.Sql/servers/databases" ? (emitter.id.split("/")[8] ?? emitter.name) : emitter.name;
    for (const setting of this.diagnosticSettings(emitter.id)) {
      const workspaceId = setting.properties.workspaceId;
      if (!workspaceId || !logsCoverAudit(setting.properties.logs)) continue;
      const workspace = this.workspaceByResourceId(workspaceId);
      if (!workspace) continue;
      const dedicated = setting.properties.logAnalyticsDestinationType?.toLowerCase() === "dedicated";
      const ctx = { resourceId: emitter.id, workspaceCustomerId: workspace.customerId, logicalServerName, timeGenerated: this.now() };
      const table = dedicated ? "SQLSecurityAuditEvents" : "AzureDiagnostics";
      const row = dedicated ? resourceSpecificRow(record, ctx) : azureDiagnosticsRow(record, ctx);
      appendRow(workspace, table, this.ingest(row));
      delivery.delivered = true;
      delivery.destinations.push({ workspaceCustomerId: workspace.customerId, table, setting: setting.name });
    }
    return delivery;
  }
}

function appendRow(workspace: LogAnalyticsWorkspaceData, table: string, row: LogRow): void {
  let rows = workspace.tables.get(table);
  if (!rows) {
    rows = [];
    workspace.tables.set(table, rows);
  }
  rows.push(row);
}

function managedInstanceShape(mi: FleetManagedInstance, id: string, rgLocation: string): Omit<EstateResource, "subscriptionId" | "resourceGroup"> {
  const sku = mi.sku ?? { name: "GP_Gen5", tier: "GeneralPurpose", capacity: mi.vCores ?? 8, family: "Gen5" };
  return {
    id,
    name: mi.name,
    type: "Microsoft.Sql/managedInstances",
    location: mi.location ?? rgLocation,
    tags: mi.tags,
    sku,
    ...(mi.sql ? { sql: mi.sql } : {}),
    properties: {
      fullyQualifiedDomainName: `${mi.name}.${mi.dnsZone}.database.windows.net`,
      administratorLogin: "miadmin",
      subnetId: `${id.split("/providers/")[0]}/providers/Microsoft.Network/virtualNetworks/vnet-${mi.name}/subnets/ManagedInstance`,
      state: mi.state,
      provisioningState: "Succeeded",
      vCores: mi.vCores ?? sku.capacity ?? 8,
      storageSizeInGB: mi.storageSizeInGB ?? 256,
      licenseType: "LicenseIncluded",
      collation: "SQL_Latin1_General_CP1_CI_AS",
      publicDataEndpointEnabled: mi.publicDataEndpointEnabled,
      proxyOverride: "Default",
      minimalTlsVersion: "1.2",
      dnsZone: mi.dnsZone,
      currentBackupStorageRedundancy: "Geo",
      requestedBackupStorageRedundancy: "Geo",
    },
  };
}

function fleetSettingProperties(ds: FleetDiagnosticSetting, workspaceId: string | undefined): DiagnosticSettingState["properties"] {
  return {
    ...(workspaceId ? { workspaceId } : {}),
    ...(ds.storageAccountId ? { storageAccountId: ds.storageAccountId } : {}),
    ...(ds.eventHubAuthorizationRuleId ? { eventHubAuthorizationRuleId: ds.eventHubAuthorizationRuleId } : {}),
    ...(ds.eventHubName ? { eventHubName: ds.eventHubName } : {}),
    ...(ds.logAnalyticsDestinationType ? { logAnalyticsDestinationType: ds.logAnalyticsDestinationType } : {}),
    logs: ds.logs.map((l) => ({
      ...(l.category !== undefined ? { category: l.category } : {}),
      ...(l.categoryGroup !== undefined ? { categoryGroup: l.categoryGroup } : {}),
      enabled: l.enabled,
      retentionPolicy: l.retentionPolicy ?? { enabled: false, days: 0 },
    })),
    metrics: [],
  };
}

/** Seed rows come from YAML/JSON: datetime columns (absolute, or relative to the estate's start) become Dates. */
function seedRow(row: Record<string, unknown>, start: Date): LogRow {
  const out: LogRow = {};
  for (const [key, value] of Object.entries(row)) {
    const date = SEED_DATE_COLUMN.test(key) ? parseSeedTime(value, start) : undefined;
    out[key] = date ?? (value as LogRow[string]);
  }
  return out;
}
