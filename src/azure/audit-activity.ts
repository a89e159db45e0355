import { LogsQueryResultStatus } from "@azure/monitor-query-logs";
import type { LogsTable } from "@azure/monitor-query-logs";
import type { ActivityEvent } from "../core/domain.js";
import type { AzureClients } from "./clients.js";
import { resourceUriForSdk } from "./arm-auditing.js";

/**
 * Reads the audit events a target sent to Log Analytics over a look-back window: backups and restores, audit and
 * audit-specification changes, audit state changes. Queries are resource-centric (the target's own ARM id), so
 * no id is ever spliced into KQL and every workspace the target sends to is covered; audit rows land in
 * AzureDiagnostics, or in the resource-specific SQLSecurityAuditEvents table when a diagnostic setting uses the
 * Dedicated destination type.
 */
export interface AuditActivityEvent extends ActivityEvent {
  resourceId: string;
}

export interface AuditActivity {
  window: { from: string; to: string };
  events: AuditActivityEvent[];
  /** The newest audit record of any kind, for silence detection (only when asked for). */
  lastEventTime?: string | null;
  /** True when the service answered only part of a query. */
  partial: boolean;
}

export const ACTIVITY_ACTION_IDS = ["BA", "BAL", "RS", "CR", "AL", "DR", "AUSC"] as const;
const MAX_EVENTS = 5000;
const ids = ACTIVITY_ACTION_IDS.map((id) => `"${id}"`).join(", ");

export const AZURE_DIAGNOSTICS_QUERY = `AzureDiagnostics
| where Category == "SQLSecurityAuditEvents"
| where action_id_s in (${ids})
| project TimeGenerated, action_id_s, action_name_s, class_type_s, statement_s, server_principal_name_s, database_name_s, succeeded_s, client_ip_s, application_name_s, _ResourceId
| order by TimeGenerated asc
| take ${MAX_EVENTS}`;

export const DEDICATED_TABLE_QUERY = `SQLSecurityAuditEvents
| where ActionId in (${ids})
| project TimeGenerated, ActionId, ActionName, ClassType, Statement, ServerPrincipalName, DatabaseName, Succeeded, ClientIp, ApplicationName, _ResourceId
| order by TimeGenerated asc
| take ${MAX_EVENTS}`;

export const LAST_EVENT_QUERY = `AzureDiagnostics
| where Category == "SQLSecurityAuditEvents"
| summarize lastEvent = max(TimeGenerated)`;

function rowsOf(table: LogsTable | undefined): Array<Record<string, unknown>> {
  if (!table) return [];
  const names = table.columnDescriptors.map((c) => c.name ?? "");
  return table.rows.map((row) => Object.fromEntries(names.map((name, i) => [name, row[i]])));
}

const text = (v: unknown): string => (v === null || v === undefined ? "" : String(v));
const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());
const succeeded = (v: unknown): boolean | null => (v === null || v === undefined || v === "" ? null : v === true || String(v).toLowerCase() === "true");

/** Where each event field is in the shared AzureDiagnostics table and in the resource-specific one. */
type Columns = Record<Exclude<keyof AuditActivityEvent, "time">, string>;
const AZURE_DIAGNOSTICS_COLUMNS: Columns = {
  actionId: "action_id_s",
  actionName: "action_name_s",
  classType: "class_type_s",
  statement: "statement_s",
  serverPrincipalName: "server_principal_name_s",
  databaseName: "database_name_s",
  succeeded: "succeeded_s",
  clientIp: "client_ip_s",
  applicationName: "application_name_s",
  resourceId: "_ResourceId",
};
const DEDICATED_COLUMNS: Columns = {
  actionId: "ActionId",
  actionName: "ActionName",
  classType: "ClassType",
  statement: "Statement",
  serverPrincipalName: "ServerPrincipalName",
  databaseName: "DatabaseName",
  succeeded: "Succeeded",
  clientIp: "ClientIp",
  applicationName: "ApplicationName",
  resourceId: "_ResourceId",
};

function toEvent(row: Record<string, unknown>, c: Columns): AuditActivityEvent {
  return {
    time: iso(row.TimeGenerated),
    actionId: text(row[c.actionId]).trim(),
    actionName: text(row[c.actionName]),
    classType: text(row[c.classType]).trim(),
    statement: text(row[c.statement]),
    serverPrincipalName: text(row[c.serverPrincipalName]),
    databaseName: text(row[c.databaseName]),
    succeeded: succeeded(row[c.succeeded]),
    clientIp: text(row[c.clientIp]),
    applicationName: text(row[c.applicationName]),
    resourceId: text(row[c.resourceId]),
  };
}

async function run(clients: AzureClients, resourceId: string, query: string, window: { from: Date; to: Date }, signal?: AbortSignal) {
  const result = await clients.logs().queryResource(resourceUriForSdk(resourceId), query, { startTime: window.from, endTime: window.to }, { abortSignal: signal });
  if (result.status === LogsQueryResultStatus.Success) return { rows: rowsOf(result.tables[0]), partial: false };
  if (result.status === LogsQueryResultStatus.PartialFailure) return { rows: rowsOf(result.partialTables[0]), partial: true };
  throw new Error("Log Analytics query failed");
}

export async function readAuditActivity(
  clients: AzureClients,
  resourceId: string,
  options: { from: Date; to: Date; dedicatedTable?: boolean; silenceSince?: Date; signal?: AbortSignal },
): Promise<AuditActivity> {
  const window = { from: options.from, to: options.to };
  const diagnostics = await run(clients, resourceId, AZURE_DIAGNOSTICS_QUERY, window, options.signal);
  const events = diagnostics.rows.map((r) => toEvent(r, AZURE_DIAGNOSTICS_COLUMNS));
  let partial = diagnostics.partial;
  if (options.dedicatedTable) {
    const dedicated = await run(clients, resourceId, DEDICATED_TABLE_QUERY, window, options.signal);
    partial ||= dedicated.partial;
    events.push(...dedicated.rows.map((r) => toEvent(r, DEDICATED_COLUMNS)));
    events.sort((a, b) => a.time.localeCompare(b.time));
  }
  const activity: AuditActivity = { window: { from: window.from.toISOString(), to: window.to.toISOString() }, events, partial };
  if (options.silenceSince) {
    const last = await run(clients, resourceId, LAST_EVENT_QUERY, { from: options.silenceSince, to: options.to }, options.signal);
    const value = last.rows[0]?.lastEvent;
    activity.lastEventTime = value === null || value === undefined || value === "" ? null : iso(value);
    partial ||= last.partial;
    activity.partial = partial;
  }
  return activity;
}
