import { z } from "zod";

/**
 * The fleet file: everything the emulator serves (tenant, the scanner's identity and its role assignments,
 * subscriptions → resource groups → resources in any state of drift, Log Analytics workspaces with seed rows)
 * and the faults it injects. Validated once at load; a bad file reports every error with its path.
 */

const guid = z.guid();
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._()-]{0,89}$/, "not a valid Azure resource name");
const tags = z.record(z.string(), z.string()).default({});

export const AUDIT_LOG_CATEGORY = "SQLSecurityAuditEvents";

export const builtInRoles = [
  "Owner",
  "Contributor",
  "Reader",
  "SQL Security Manager",
  "SQL Server Contributor",
  "SQL Managed Instance Contributor",
  "Monitoring Contributor",
  "Monitoring Reader",
  "Log Analytics Reader",
  "Log Analytics Contributor",
] as const;
export type BuiltInRole = (typeof builtInRoles)[number];

const roleAssignment = z
  .object({
    /** An ARM scope: /subscriptions/{id}[/resourceGroups/{rg}[/providers/...]]. */
    scope: z.string().regex(/^\/subscriptions\/[^/]+(\/.*)?$/i, "scope must start with /subscriptions/{id}"),
    role: z.enum(builtInRoles).optional(),
    /** A custom role's permitted actions (wildcards allowed), e.g. Microsoft.Sql/servers/auditingSettings/write. */
    actions: z.array(z.string().min(1)).optional(),
  })
  .strict()
  .refine((a) => (a.role === undefined) !== (a.actions === undefined), { message: "give exactly one of role or actions" });

const identity = z
  .object({
    principalId: guid,
    clientId: guid,
    displayName: z.string().min(1),
    roleAssignments: z.array(roleAssignment).default([]),
  })
  .strict();

const logSetting = z
  .object({
    category: z.string().min(1).optional(),
    categoryGroup: z.string().min(1).optional(),
    enabled: z.boolean().default(true),
    retentionPolicy: z.object({ enabled: z.boolean(), days: z.number().int().min(0) }).strict().optional(),
  })
  .strict()
  .refine((l) => (l.category === undefined) !== (l.categoryGroup === undefined), { message: "give exactly one of category or categoryGroup" });

const diagnosticSetting = z
  .object({
    name: z.string().min(1),
    /** A workspace's ARM id (may name a workspace that does not exist), or the name of a workspace in this fleet. */
    workspace: z.string().min(1).optional(),
    storageAccountId: z.string().optional(),
    eventHubAuthorizationRuleId: z.string().optional(),
    eventHubName: z.string().optional(),
    logs: z.array(logSetting).default([]),
    logAnalyticsDestinationType: z.enum(["Dedicated", "AzureDiagnostics"]).optional(),
  })
  .strict();

const auditingPolicy = z
  .object({
    state: z.enum(["Enabled", "Disabled"]).default("Disabled"),
    isAzureMonitorTargetEnabled: z.boolean().default(false),
    auditActionsAndGroups: z.array(z.string()).default([]),
    storageEndpoint: z.string().default(""),
    retentionDays: z.number().int().min(0).default(0),
    storageAccountSubscriptionId: guid.default("00000000-0000-0000-0000-000000000000"),
    isStorageSecondaryKeyInUse: z.boolean().default(false),
    queueDelayMs: z.number().int().min(0).optional(),
    isDevopsAuditEnabled: z.boolean().optional(),
    isManagedIdentityInUse: z.boolean().optional(),
    predicateExpression: z.string().optional(),
  })
  .strict();

/** How a PUT that ARM models as a long-running operation is answered. */
const lroMode = z.enum(["sync", "async"]);

const managedInstance = z
  .object({
    name,
    location: z.string().optional(),
    tags,
    /** The DNS zone segment of the FQDN: <name>.<dnsZone>.database.windows.net. */
    dnsZone: z.string().regex(/^[a-z0-9]{6,20}$/, "dnsZone is lower-case letters and digits"),
    state: z.enum(["Ready", "Stopped", "Stopping", "Starting", "Creating", "Deleting", "Updating", "Unknown"]).default("Ready"),
    publicDataEndpointEnabled: z.boolean().default(false),
    sku: z.object({ name: z.string(), tier: z.string(), capacity: z.number().int().optional(), family: z.string().optional() }).strict().optional(),
    vCores: z.number().int().optional(),
    storageSizeInGB: z.number().int().optional(),
    diagnosticSettings: z.array(diagnosticSetting).default([]),
    /** The instance's T-SQL state (audits, specifications, logins…), validated by emulator/mi/state-schema.ts. */
    sql: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

const database = z
  .object({
    name,
    auditingSettings: auditingPolicy.optional(),
    extendedAuditingSettings: auditingPolicy.optional(),
    diagnosticSettings: z.array(diagnosticSetting).default([]),
  })
  .strict();

const sqlServer = z
  .object({
    name,
    location: z.string().optional(),
    tags,
    state: z.enum(["Ready", "Disabled"]).default("Ready"),
    publicNetworkAccess: z.enum(["Enabled", "Disabled"]).default("Enabled"),
    auditingSettings: auditingPolicy.prefault({}),
    extendedAuditingSettings: auditingPolicy.optional(),
    /** Diagnostic settings on the master database (where server-level audit logs are routed). */
    diagnosticSettings: z.array(diagnosticSetting).default([]),
    /** User databases, optionally with database-level auditing. */
    databases: z.array(database).default([]),
    lro: lroMode.optional(),
  })
  .strict();

const synapseWorkspace = z
  .object({
    name,
    location: z.string().optional(),
    tags,
    /** Defaults to dev and sql only, as the spec example shows; real workspaces may add web and sqlOnDemand. */
    connectivityEndpoints: z.record(z.string(), z.string()).optional(),
    managedResourceGroupName: z.string().optional(),
    sqlAdministratorLogin: z.string().default("sqladminuser"),
    auditingSettings: auditingPolicy.prefault({}),
    extendedAuditingSettings: auditingPolicy.optional(),
    diagnosticSettings: z.array(diagnosticSetting).default([]),
    lro: lroMode.optional(),
  })
  .strict();

const seedRow = z.record(z.string(), z.unknown());

const logAnalyticsWorkspace = z
  .object({
    name,
    location: z.string().optional(),
    customerId: guid,
    tags,
    /**
     * Seed rows by table name (AzureDiagnostics, SQLSecurityAuditEvents…); `*_t`, TimeGenerated and EventTime
     * values become dates: an ISO 8601 date-time, or a negative ISO 8601 duration relative to the emulator's start
     * (`-PT20M` is twenty minutes before it).
     */
    tables: z.record(z.string(), z.array(seedRow)).default({}),
  })
  .strict();

/**
 * A storage account audit logs may go to: its two access keys (test-only values) and the servers and Synapse
 * workspaces (by name) whose managed identity holds Storage Blob Data Contributor on it. Auditing PUTs naming an
 * account the fleet does not list are not checked.
 */
const storageAccount = z
  .object({
    name: z.string().regex(/^[a-z0-9]{3,24}$/, "storage account names are 3-24 lower-case letters and digits"),
    keys: z.tuple([z.string().min(1), z.string().min(1)]),
    blobDataContributors: z.array(z.string().min(1)).default([]),
  })
  .strict();

const resourceGroup = z
  .object({
    name,
    location: z.string().default("westeurope"),
    tags,
    managedInstances: z.array(managedInstance).default([]),
    sqlServers: z.array(sqlServer).default([]),
    synapseWorkspaces: z.array(synapseWorkspace).default([]),
    logAnalyticsWorkspaces: z.array(logAnalyticsWorkspace).default([]),
  })
  .strict();

const subscription = z
  .object({
    id: guid,
    displayName: z.string().min(1),
    state: z.enum(["Enabled", "Disabled", "Warned", "PastDue", "Deleted"]).default("Enabled"),
    resourceGroups: z.array(resourceGroup).default([]),
  })
  .strict();

export const latencyDistribution = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("fixed"), ms: z.number().min(0) }).strict(),
  z.object({ kind: z.literal("uniform"), minMs: z.number().min(0), maxMs: z.number().min(0) }).strict(),
  z.object({ kind: z.literal("lognormal"), medianMs: z.number().min(0), sigma: z.number().min(0) }).strict(),
]);

const services = ["arm", "logAnalytics", "tds"] as const;
export type FaultService = (typeof services)[number];

const throttleBurst = z
  .object({
    service: z.enum(["arm", "logAnalytics"]).default("arm"),
    /** Counted per service (per subscription when subscriptionId is set), starting at 1. */
    startAtRequest: z.number().int().min(1),
    requests: z.number().int().min(1),
    retryAfterSeconds: z.number().int().min(0).default(1),
    /** Also send retry-after-ms (which the Azure SDK prefers) so tests can keep bursts short. */
    retryAfterMs: z.number().int().min(0).optional(),
    subscriptionId: guid.optional(),
  })
  .strict();

/**
 * An ARM or Log Analytics answer that stalls after its status line and headers (the request itself is handled:
 * a PUT takes effect), for clients' timeout handling. `path` is a regular expression over the request path.
 */
const stallAfterHeaders = z
  .object({
    service: z.enum(["arm", "logAnalytics"]),
    path: z
      .string()
      .min(1)
      .refine((p) => {
        try {
          new RegExp(p);
          return true;
        } catch {
          return false;
        }
      }, "not a valid regular expression")
      .optional(),
    /** Probability (0..1) that a matching answer stalls; 1 stalls every one. */
    rate: z.number().min(0).max(1).default(1),
    /** Send the body after this long instead of never (it still arrives, very late). */
    bodyDelayMs: z.number().int().min(0).optional(),
  })
  .strict();

const faults = z
  .object({
    seed: z.number().int().default(1),
    latency: z.partialRecord(z.enum(services), latencyDistribution).default({}),
    /** Probability (0..1) that a request gets a 5xx, per service. */
    errorRate: z.partialRecord(z.enum(["arm", "logAnalytics"]), z.number().min(0).max(1)).default({}),
    throttleBursts: z.array(throttleBurst).default([]),
    /** Resource names or ARM ids: ARM answers for them fail, TDS refuses connections. */
    unreachable: z.array(z.string().min(1)).default([]),
    /** Managed Instance names whose TDS endpoint accepts connections but never answers. */
    hanging: z.array(z.string().min(1)).default([]),
    /**
     * How long after its event time a Log Analytics row is ingested (and becomes visible to queries): seed rows
     * and rows the physics appends. Azure's typical latency is 20 s to 3 min ("Log data ingestion time in Azure
     * Monitor"); the default is a few seconds so tests stay fast.
     */
    ingestionDelay: latencyDistribution.default({ kind: "lognormal", medianMs: 2000, sigma: 0.5 }),
    /** ARM / Log Analytics answers whose body never comes (or comes very late) after the headers. */
    stallAfterHeaders: z.array(stallAfterHeaders).default([]),
    /**
     * Managed Instances whose TDS endpoint answers the login and then never answers a request: a name (stalls
     * from the first request of each connection) or `{ name, answeredRequests }` (answers that many first).
     */
    stallAfterLogin: z
      .array(z.union([z.string().min(1), z.object({ name: z.string().min(1), answeredRequests: z.number().int().min(0) }).strict()]))
      .default([]),
    tds: z
      .object({
        dropConnectionRate: z.number().min(0).max(1).default(0),
        refuseLoginRate: z.number().min(0).max(1).default(0),
      })
      .strict()
      .default({ dropConnectionRate: 0, refuseLoginRate: 0 }),
  })
  .strict();

const bucket = (size: number, refillPerSecond: number) =>
  z
    .object({ size: z.number().int().min(1).default(size), refillPerSecond: z.number().positive().default(refillPerSecond) })
    .strict()
    .prefault({});

/**
 * ARM's token buckets ("Understand how Azure Resource Manager throttles requests"): per subscription, principal and
 * operation type, reads 250 refilled at 25/s, writes and deletes 200 at 10/s; global subscription buckets
 * `globalMultiplier` (15) times larger across principals. `false` lifts throttling (benchmarks).
 */
const armThrottling = z.union([
  z.literal(false),
  z
    .object({
      reads: bucket(250, 25),
      writes: bucket(200, 10),
      deletes: bucket(200, 10),
      globalMultiplier: z.number().positive().default(15),
    })
    .strict(),
]);

export const fleetSchema = z
  .object({
    tenantId: guid,
    scanner: identity,
    /** Other identities the identity endpoint can issue tokens for (client_id), e.g. one without roles. */
    otherIdentities: z.array(identity).default([]),
    /** Default LRO answer for auditing-policy PUTs; a resource's own `lro` wins, then the request's x-emulator-lro header. */
    lro: lroMode.default("sync"),
    /** Polls answered InProgress before an async operation reports Succeeded. */
    lroPollsBeforeDone: z.number().int().min(0).default(1),
    /** Items per page of ARM list answers (nextLink paging), to exercise pagers; unset answers in one page. */
    armPageSize: z.number().int().min(1).optional(),
    /**
     * Answer 429 past Resource Graph's per-user quota (15 queries / 5 s, "Guidance for throttled requests in Azure
     * Resource Graph"); `false` only reports it in the x-ms-user-quota-* headers.
     */
    enforceResourceGraphQuota: z.boolean().default(true),
    armThrottling: armThrottling.prefault({}),
    /**
     * Log Analytics' query rate per identity: 200 queries per 30 s (Azure Monitor service limits); past it, 429
     * with Retry-After. `false` lifts it (the benchmark, which measures the scanner and not the quota).
     */
    logAnalyticsRateLimit: z
      .union([z.literal(false), z.object({ requests: z.number().int().min(1), windowSeconds: z.number().positive() }).strict()])
      .default({ requests: 200, windowSeconds: 30 }),
    /**
     * Log Analytics' other query limits ("Azure Monitor service limits": user query throttling, Log Analytics
     * workspaces): 5 concurrent queries per identity, up to 200 more queued for at most 3 minutes (past that, 429),
     * and at most 500,000 rows and ~100 MiB in one answer (past that, a partial answer). `false` lifts them.
     */
    logAnalyticsQueryLimits: z
      .union([
        z.literal(false),
        z
          .object({
            concurrentQueries: z.number().int().min(1).default(5),
            queueLength: z.number().int().min(0).default(200),
            queueTimeoutSeconds: z.number().positive().default(180),
            maxRows: z.number().int().min(1).default(500_000),
            maxResponseBytes: z.number().int().min(1).default(104_857_600),
          })
          .strict(),
      ])
      .prefault({}),
    subscriptions: z.array(subscription).min(1),
    storageAccounts: z.array(storageAccount).default([]),
    faults: faults.prefault({}),
    /** What a generated baseline should say about this fleet (the designated workspace, the allowed backup accounts). */
    baselineHints: z
      .object({
        designatedWorkspace: z.string().optional(),
        allowedBackupStorageAccounts: z.array(z.string()).default([]),
      })
      .strict()
      .optional(),
  })
  .strict();

export type Fleet = z.output<typeof fleetSchema>;
export type FleetInput = z.input<typeof fleetSchema>;
export type FleetIdentity = z.output<typeof identity>;
export type FleetRoleAssignment = z.output<typeof roleAssignment>;
export type FleetSubscription = z.output<typeof subscription>;
export type FleetResourceGroup = z.output<typeof resourceGroup>;
export type FleetManagedInstance = z.output<typeof managedInstance>;
export type FleetSqlServer = z.output<typeof sqlServer>;
export type FleetDatabase = z.output<typeof database>;
export type FleetSynapseWorkspace = z.output<typeof synapseWorkspace>;
export type FleetLogAnalyticsWorkspace = z.output<typeof logAnalyticsWorkspace>;
export type FleetDiagnosticSetting = z.output<typeof diagnosticSetting>;
export type FleetLogSetting = z.output<typeof logSetting>;
export type FleetAuditingPolicy = z.output<typeof auditingPolicy>;
export type FleetFaults = z.output<typeof faults>;
export type FleetThrottleBurst = z.output<typeof throttleBurst>;
export type FleetStallAfterHeaders = z.output<typeof stallAfterHeaders>;
export type FleetStorageAccount = z.output<typeof storageAccount>;
export type LatencyDistribution = z.output<typeof latencyDistribution>;
export type LroMode = z.output<typeof lroMode>;
