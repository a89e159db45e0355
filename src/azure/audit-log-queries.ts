import { LogsQueryResultStatus } from "@azure/monitor-query-logs";
import type { LogsTable } from "@azure/monitor-query-logs";
import type { AzureClients } from "./clients.js";
import { resourceUriForSdk } from "./arm-auditing.js";

/**
 * The activity sweep's queries: one Log Analytics workspace at a time, both tables the SQL audit lands in (the shared
 * AzureDiagnostics table with Category "SQLSecurityAuditEvents", and the resource-specific SQLSecurityAuditEvents
 * table a Dedicated diagnostic setting writes to), by ingestion time (`ingestion_time()`), so a record that arrives
 * late is still read exactly once. The detection is done in KQL: only backups and restores (COPY_ONLY, to or from
 * URL), audit and specification changes, and audit state changes come back; the classification into rules and the
 * approved-accounts check are done on those rows (src/core/activity). `union isfuzzy=true` lets a workspace without
 * one of the tables answer from the other. Action ids are trimmed: the blob format pads them to four characters
 * ("SQL Audit log format"), and the tables may or may not keep the padding. No value from outside AuditGuard is ever
 * spliced into the text: only times and our own paging key.
 */
export interface AuditLogRecord {
  /** When the record was ingested into the workspace: the sweep's watermark. */
  ingestedAt: string;
  time: string;
  resourceId: string;
  actionId: string;
  actionName: string;
  classType: string;
  statement: string;
  principal: string;
  databaseName: string;
  succeeded: boolean | null;
  clientIp: string;
  applicationName: string;
  /** The audit record's own id (event_id_g / EventId), empty when the service sent none. */
  eventId: string;
  table: "AzureDiagnostics" | "SQLSecurityAuditEvents";
}

export interface RecordsPage {
  records: AuditLogRecord[];
  /** The service cut the answer (row or size limit): what came back is not everything. */
  partial: boolean;
  /** More rows than the page holds: read on from the last one. */
  more: boolean;
}

export const PAGE_ROWS = 5000;

const kqlTime = (iso: string) => `datetime(${new Date(iso).toISOString()})`;

/** The legs of both tables, projected onto one set of column names (their types made equal with tostring()). */
function recordLegs(window: string): string {
  const detect = (action: string, klass: string, statement: string) => `| extend A = trim(" ", ${action}), C = trim(" ", ${klass}), S = ${statement}
  | where (A in ("BA", "BAL") and S has "COPY_ONLY") or (A in ("BA", "BAL", "RS") and S has "URL") or (A in ("CR", "AL", "DR") and C in ("A", "SA", "DA")) or A == "AUSC"`;
  return `(AzureDiagnostics
  | where ${window}
  | where Category == "SQLSecurityAuditEvents"
  ${detect("action_id_s", "class_type_s", "statement_s")}
  | project Ingested = ingestion_time(), TimeGenerated, ResourceId = _ResourceId, ActionId = A, ActionName = action_name_s, ClassType = C, Statement = S, Principal = server_principal_name_s, DatabaseName = database_name_s, Succeeded = tostring(succeeded_s), ClientIp = client_ip_s, ApplicationName = application_name_s, EventId = tostring(event_id_g), SourceTable = "AzureDiagnostics"),
(SQLSecurityAuditEvents
  | where ${window}
  ${detect("ActionId", "ClassType", "Statement")}
  | project Ingested = ingestion_time(), TimeGenerated, ResourceId = _ResourceId, ActionId = A, ActionName, ClassType = C, Statement = S, Principal = ServerPrincipalName, DatabaseName, Succeeded = tostring(Succeeded), ClientIp, ApplicationName, EventId = tostring(EventId), SourceTable = "SQLSecurityAuditEvents")`;
}

/**
 * The suspicious records ingested after `after` (and, on the same instant, not already read) up to `until`, oldest
 * first, at most PAGE_ROWS + 1 (one more tells that there is more).
 */
export function recordsQuery(window: { after: string; until: string }, take = PAGE_ROWS + 1): string {
  const w = `ingestion_time() > ${kqlTime(window.after)} and ingestion_time() <= ${kqlTime(window.until)}`;
  return `union isfuzzy=true
${recordLegs(w)}
| order by Ingested asc, EventId asc
| take ${take}`;
}

/** The newest record per resource among those ingested in the window (for silence), both tables. */
export function newestQuery(window: { after: string; until: string }): string {
  const w = `ingestion_time() > ${kqlTime(window.after)} and ingestion_time() <= ${kqlTime(window.until)}`;
  return `union isfuzzy=true
(AzureDiagnostics | where ${w} | where Category == "SQLSecurityAuditEvents" | summarize Newest = max(TimeGenerated) by ResourceId = _ResourceId),
(SQLSecurityAuditEvents | where ${w} | summarize Newest = max(TimeGenerated) by ResourceId = _ResourceId)
| summarize Newest = max(Newest) by ResourceId`;
}

function rowsOf(table: LogsTable | undefined): Array<Record<string, unknown>> {
  if (!table) return [];
  const names = table.columnDescriptors.map((c) => c.name ?? "");
  return table.rows.map((row) => Object.fromEntries(names.map((name, i) => [name, row[i]])));
}

const text = (v: unknown): string => (v === null || v === undefined ? "" : String(v));
const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
const succeeded = (v: unknown): boolean | null => (v === null || v === undefined || v === "" ? null : v === true || String(v).toLowerCase() === "true" || String(v) === "1");

export function toRecord(row: Record<string, unknown>): AuditLogRecord {
  return {
    ingestedAt: iso(row.Ingested),
    time: iso(row.TimeGenerated),
    resourceId: text(row.ResourceId),
    actionId: text(row.ActionId).trim(),
    actionName: text(row.ActionName),
    classType: text(row.ClassType).trim(),
    statement: text(row.Statement),
    principal: text(row.Principal),
    databaseName: text(row.DatabaseName),
    succeeded: succeeded(row.Succeeded),
    clientIp: text(row.ClientIp),
    applicationName: text(row.ApplicationName),
    eventId: text(row.EventId),
    table: row.SourceTable === "SQLSecurityAuditEvents" ? "SQLSecurityAuditEvents" : "AzureDiagnostics",
  };
}

/** How far back a late record's TimeGenerated may lie: the query's timespan must include it (the API filters on it). */
const LATE_RECORDS_MS = 2 * 24 * 3600_000;

/**
 * Runs one query against a workspace, by the workspace's own ARM id (a resource-centric query on a workspace runs in
 * that workspace). `signal` is honoured by racing (LogsQueryClient ignores abort signals): the caller's budget does.
 */
export async function queryWorkspace(clients: AzureClients, workspaceId: string, query: string, window: { after: string; until: string }, signal?: AbortSignal) {
  const result = await clients
    .logs()
    .queryResource(resourceUriForSdk(workspaceId), query, { startTime: new Date(Date.parse(window.after) - LATE_RECORDS_MS), endTime: new Date(Date.parse(window.until) + 60_000) }, { abortSignal: signal });
  if (result.status === LogsQueryResultStatus.Success) return { rows: rowsOf(result.tables[0]), partial: false };
  if (result.status === LogsQueryResultStatus.PartialFailure) return { rows: rowsOf(result.partialTables[0]), partial: true };
  throw new Error("Log Analytics query failed");
}

export async function readRecordsPage(clients: AzureClients, workspaceId: string, window: { after: string; until: string }, signal?: AbortSignal, take = PAGE_ROWS): Promise<RecordsPage> {
  const { rows, partial } = await queryWorkspace(clients, workspaceId, recordsQuery(window, take + 1), window, signal);
  const records = rows.map(toRecord);
  const more = records.length > take;
  return { records: more ? records.slice(0, take) : records, partial, more };
}

export async function readNewest(clients: AzureClients, workspaceId: string, window: { after: string; until: string }, signal?: AbortSignal): Promise<{ newest: Map<string, string>; partial: boolean }> {
  const { rows, partial } = await queryWorkspace(clients, workspaceId, newestQuery(window), window, signal);
  return { newest: new Map(rows.filter((r) => r.Newest).map((r) => [text(r.ResourceId).toLowerCase(), iso(r.Newest)])), partial };
}
