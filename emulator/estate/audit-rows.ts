import type { SqlAuditRecord } from "../sql/contracts.js";
import type { LogRow } from "../data-contracts.js";
import { parseId } from "./ids.js";

/**
 * The rows Azure Monitor writes for one SQL audit record (Azure Monitor's table references, Microsoft
 * Learn: "AzureDiagnostics", "SQLSecurityAuditEvents"): AzureDiagnostics with
 * `_s/_d/_t/_g` suffixed columns in the default mode, the resource-specific SQLSecurityAuditEvents table with
 * PascalCase columns when the diagnostic setting's destination type is Dedicated.
 */
export interface AuditRowContext {
  /** The resource the logs are emitted for (MI, the master database of a server, a Synapse workspace). */
  resourceId: string;
  /** The workspace's customerId, which Azure puts in TenantId. */
  workspaceCustomerId: string;
  /** The logical server / instance / workspace name (LogicalServerName). */
  logicalServerName: string;
  timeGenerated: Date;
}

function upperId(resourceId: string): string {
  return resourceId.toUpperCase();
}

function resourceTypeOf(resourceId: string): { provider: string; type: string; resource: string } {
  const parsed = parseId(resourceId);
  const provider = (parsed.provider ?? "").toUpperCase();
  const type = parsed.segments.map(([t]) => t.toUpperCase()).join("/");
  const resource = (parsed.segments.at(-1)?.[1] ?? "").toUpperCase();
  return { provider, type, resource };
}

export function azureDiagnosticsRow(record: SqlAuditRecord, ctx: AuditRowContext): LogRow {
  const parsed = parseId(ctx.resourceId);
  const { provider, type, resource } = resourceTypeOf(ctx.resourceId);
  const row: LogRow = {
    TenantId: ctx.workspaceCustomerId,
    TimeGenerated: ctx.timeGenerated,
    ResourceId: upperId(ctx.resourceId),
    _ResourceId: ctx.resourceId.toLowerCase(),
    Category: "SQLSecurityAuditEvents",
    SubscriptionId: (parsed.subscriptionId ?? "").toUpperCase(),
    ResourceGroup: (parsed.resourceGroup ?? "").toUpperCase(),
    ResourceProvider: provider,
    ResourceType: type,
    Resource: resource,
    OperationName: "AuditEvent",
    SourceSystem: "Azure",
    Type: "AzureDiagnostics",
    LogicalServerName_s: ctx.logicalServerName,
    event_time_t: record.event_time,
    action_id_s: record.action_id.trim(),
    action_name_s: record.action_name,
    class_type_s: record.class_type,
    succeeded_s: record.succeeded ? "true" : "false",
    session_id_d: record.session_id,
    server_principal_name_s: record.server_principal_name,
    database_name_s: record.database_name,
    statement_s: record.statement.slice(0, 4000),
    client_ip_s: record.client_ip,
    application_name_s: record.application_name,
    server_instance_name_s: record.server_instance_name,
    audit_schema_version_d: 1,
    event_id_g: record.event_id,
    is_server_level_audit_s: "true",
  };
  if (record.class_type_desc !== undefined) row.class_type_description_s = record.class_type_desc;
  if (record.server_principal_sid !== undefined) row.server_principal_sid_s = record.server_principal_sid;
  if (record.session_server_principal_name !== undefined) row.session_server_principal_name_s = record.session_server_principal_name;
  if (record.object_name !== undefined) row.object_name_s = record.object_name;
  if (record.schema_name !== undefined) row.schema_name_s = record.schema_name;
  if (record.additional_information !== undefined) row.additional_information_s = record.additional_information;
  if (record.host_name !== undefined) row.host_name_s = record.host_name;
  if (record.sequence_number !== undefined) row.sequence_number_d = record.sequence_number;
  return row;
}

export function resourceSpecificRow(record: SqlAuditRecord, ctx: AuditRowContext): LogRow {
  const parsed = parseId(ctx.resourceId);
  const row: LogRow = {
    TenantId: ctx.workspaceCustomerId,
    TimeGenerated: ctx.timeGenerated,
    _ResourceId: ctx.resourceId.toLowerCase(),
    _SubscriptionId: (parsed.subscriptionId ?? "").toLowerCase(),
    ResourceGroup: parsed.resourceGroup ?? "",
    Category: "SQLSecurityAuditEvents",
    SourceSystem: "Azure",
    Type: "SQLSecurityAuditEvents",
    LogicalServerName: ctx.logicalServerName,
    EventTime: record.event_time,
    ActionId: record.action_id.trim(),
    ActionName: record.action_name,
    ClassType: record.class_type,
    Succeeded: record.succeeded,
    SessionId: record.session_id,
    ServerPrincipalName: record.server_principal_name,
    DatabaseName: record.database_name,
    Statement: record.statement.slice(0, 4000),
    ClientIp: record.client_ip,
    ApplicationName: record.application_name,
    AuditSchemaVersion: 1,
    EventId: record.event_id,
    IsServerLevelAudit: true,
  };
  if (record.class_type_desc !== undefined) row.ClassTypeDescription = record.class_type_desc;
  if (record.server_principal_sid !== undefined) row.ServerPrincipalSid = record.server_principal_sid;
  if (record.session_server_principal_name !== undefined) row.SessionServerPrincipalName = record.session_server_principal_name;
  if (record.object_name !== undefined) row.ObjectName = record.object_name;
  if (record.schema_name !== undefined) row.SchemaName = record.schema_name;
  if (record.additional_information !== undefined) row.AdditionalInformation = record.additional_information;
  if (record.host_name !== undefined) row.HostName = record.host_name;
  if (record.sequence_number !== undefined) row.SequenceNumber = record.sequence_number;
  return row;
}
