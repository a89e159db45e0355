/**
 * The seam between the emulated estate (emulator/estate: resources, diagnostic settings, workspaces) and the
 * query services that read it (emulator/loganalytics: the Log Analytics query API and Resource Graph, both KQL).
 */

export type LogValue = string | number | boolean | Date | null;

/**
 * Hidden columns of stored rows (never part of a table's schema): when the row was ingested (what
 * `ingestion_time()` returns; a row is invisible to queries until then) and whether it came from the fleet's seed.
 */
export const INGESTION_TIME = "$IngestionTime";
export const SEED_ROW = "$Seed";
/** One row of a Log Analytics table or of Resource Graph's `Resources` table, keyed by column name. */
export type LogRow = Record<string, LogValue | Record<string, unknown> | unknown[]>;

export interface LogAnalyticsWorkspaceData {
  /** The workspace id that the query API takes (a GUID, "customerId" in ARM). */
  customerId: string;
  /** The workspace's ARM resource id. */
  resourceId: string;
  /** Rows by table name, e.g. AzureDiagnostics, SQLSecurityAuditEvents; appended to as events arrive. */
  tables: Map<string, LogRow[]>;
}

export interface LogAnalyticsStore {
  workspaceByCustomerId(customerId: string): LogAnalyticsWorkspaceData | undefined;
  /** Every workspace; resource-centric queries read the rows whose _ResourceId lies under the resource. */
  allWorkspaces(): Iterable<LogAnalyticsWorkspaceData>;
  /** Whether `resourceId` names an existing resource (resource-centric queries on unknown ids fail). */
  resourceExists(resourceId: string): boolean;
}

/**
 * Resource Graph's `Resources` table: one row per resource with the columns Resource Graph returns
 * (id, name, type (lower-case), tenantId, kind, location, resourceGroup, subscriptionId, managedBy, sku, plan,
 * properties, tags, identity, zones, extendedLocation).
 */
export interface ResourceGraphStore {
  resources(): Iterable<LogRow>;
  subscriptionIds(): string[];
}
