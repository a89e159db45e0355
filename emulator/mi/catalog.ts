import type { ColumnDef, SqlValue } from "../sql/contracts.js";
import type { AuditStatusDesc, MiState } from "./state-schema.js";
import { serverAuditGroups } from "./parser.js";
import { T } from "./values.js";

/** One server audit as the engine holds it. */
export interface AuditObject {
  id: number;
  name: string;
  /** Upper-case, as GUIDs travel. */
  guid: string;
  target: { type: "EXTERNAL_MONITOR" } | { type: "URL"; path: string; retentionDays: number };
  enabled: boolean;
  queueDelay: number;
  onFailure: "CONTINUE" | "FAIL_OPERATION";
  operatorAudit: boolean;
  predicate?: string;
  /** Drift injected by the fleet (e.g. RUNTIME_FAIL); cleared by the next STATE change. */
  statusOverride?: AuditStatusDesc;
  principalId: number;
  createDate: Date;
  modifyDate: Date;
  statusTime: Date;
}

export interface SpecObject {
  id: number;
  name: string;
  auditGuid: string;
  enabled: boolean;
  groups: string[];
  createDate: Date;
  modifyDate: Date;
}

/**
 * The .xel blob a started URL audit writes now. Azure documents audit blobs as
 * <container>/<ServerName>/<DatabaseName>/<AuditName>/<CreationDate>/<FileName>.xel ("sys.fn_get_audit_file_v2",
 * Azure SQL Database); a Managed Instance's server audit is taken to follow it with database master and a file
 * named after the time the audit started [unverified for Managed Instance].
 */
function currentXelFile(a: AuditObject, serverName: string): string | null {
  if (a.target.type !== "URL") return null;
  const started = a.statusTime.toISOString();
  const time = started.slice(11, 23).replace(/[:.]/g, "_");
  return `${a.target.path.replace(/\/$/, "")}/${serverName.split(".")[0]}/master/${a.name}/${started.slice(0, 10)}/${time}_0.xel`;
}

export function auditStatus(a: AuditObject): AuditStatusDesc {
  return a.statusOverride ?? (a.enabled ? "STARTED" : "NOT_STARTED");
}

const statusCodes: Record<AuditStatusDesc, number> = { NOT_STARTED: 0, STARTED: 1, RUNTIME_FAIL: 2, TARGET_CREATION_FAILED: 3, SHUTTING_DOWN: 4 };

/**
 * sys.server_audit_specification_details.audit_action_id: the docs say int, real servers show the 4-letter group
 * code; we return char(4) codes ([unverified], reference §3.1). Groups not listed fall back to their initials.
 */
const groupCodes: Record<string, string> = {
  BACKUP_RESTORE_GROUP: "BRDB",
  AUDIT_CHANGE_GROUP: "CNAU",
  FAILED_LOGIN_GROUP: "LGFL",
  SUCCESSFUL_LOGIN_GROUP: "LGSD",
  LOGOUT_GROUP: "LGO",
  BATCH_COMPLETED_GROUP: "BCMG",
  SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP: "DBAS",
  FAILED_DATABASE_AUTHENTICATION_GROUP: "DBAF",
};
function groupCode(group: string): string {
  return groupCodes[group] ?? group.split("_").map((w) => w[0]).join("").slice(0, 4);
}

/** A login as sys.server_principals and sys.server_permissions show it. */
export interface LoginRow {
  principalId: number;
  name: string;
  kind: "sql" | "entra";
  sid: Uint8Array;
  disabled: boolean;
  /** Granted server permissions; `sysadmin` (role membership) is not a permission and is not listed. */
  permissions: readonly string[];
  createDate: Date;
}

export interface CatalogContext {
  audits: AuditObject[];
  specs: SpecObject[];
  /** The logins the session may see: all with VIEW ANY DEFINITION (or more), else only its own. */
  logins: LoginRow[];
  typeCodes: MiState["auditTypeCodes"];
  /** The instance's FQDN (its first label names the audit blob folder). */
  serverName: string;
  databases: DatabaseRow[];
  credentials: CredentialRow[];
}

export interface View {
  columns: ColumnDef[];
  rows(ctx: CatalogContext): SqlValue[][];
  /** Audit metadata: visible only with ALTER ANY SERVER AUDIT or VIEW ANY DEFINITION (else the view is empty). */
  needsAuditMetadata?: boolean;
}

/** A database as sys.databases lists it. */
export interface DatabaseRow {
  id: number;
  name: string;
  createDate: Date;
}

/** A credential; its secret is kept by the engine and never reaches a view. */
export interface CredentialRow {
  id: number;
  name: string;
  identity: string;
  createDate: Date;
  modifyDate: Date;
}

const col = (name: string, type: ColumnDef["type"], nullable = true): ColumnDef => ({ name, type, nullable });

const serverAuditColumns: ColumnDef[] = [
  col("audit_id", T.int, false),
  col("name", T.sysname, false),
  col("audit_guid", T.guid),
  col("create_date", T.datetime, false),
  col("modify_date", T.datetime, false),
  col("principal_id", T.int),
  col("type", T.char(2), false),
  col("type_desc", T.nvarchar(60)),
  col("on_failure", T.tinyint),
  col("on_failure_desc", T.nvarchar(60)),
  col("is_state_enabled", T.tinyint),
  col("queue_delay", T.int),
  col("predicate", T.nvarchar(3000)),
  col("is_operator_audit", T.bit),
];

function serverAuditRow(a: AuditObject, ctx: CatalogContext): SqlValue[] {
  const codes = a.target.type === "URL" ? ctx.typeCodes.url : ctx.typeCodes.externalMonitor;
  return [
    a.id,
    a.name,
    a.guid,
    a.createDate,
    a.modifyDate,
    a.principalId,
    codes.type,
    codes.typeDesc,
    a.onFailure === "CONTINUE" ? 0 : 2,
    a.onFailure,
    a.enabled ? 1 : 0,
    a.queueDelay,
    a.predicate ?? null,
    a.operatorAudit,
  ];
}

const byId = <X extends { id: number }>(xs: X[]): X[] => [...xs].sort((a, b) => a.id - b.id);

/** sys.server_permissions.type: four-letter codes as SQL Server lists them [unverified against a Managed Instance]. */
const permissionCodes: Record<string, string> = {
  "CONNECT SQL": "COSQ",
  "ALTER ANY LOGIN": "ALLG",
  "ALTER ANY SERVER AUDIT": "ALAA",
  "CONTROL SERVER": "CL",
  "VIEW ANY DEFINITION": "VWAD",
  "VIEW SERVER STATE": "VWSS",
  "VIEW SERVER SECURITY STATE": "VSSS",
};

export const views: Record<string, View> = {
  server_principals: {
    columns: [
      col("name", T.sysname, false),
      col("principal_id", T.int, false),
      col("sid", { kind: "varbinary", length: 85 }),
      col("type", T.char(1), false),
      col("type_desc", T.nvarchar(60)),
      col("is_disabled", T.bit),
      col("create_date", T.datetime, false),
      col("modify_date", T.datetime, false),
      col("default_database_name", T.sysname),
    ],
    // Entra users and applications are EXTERNAL_LOGIN (E); groups would be EXTERNAL_GROUP (X), which the fleet does not model.
    rows: (ctx) =>
      [...ctx.logins]
        .sort((a, b) => a.principalId - b.principalId)
        .map((l) => [l.name, l.principalId, l.sid, l.kind === "entra" ? "E" : "S", l.kind === "entra" ? "EXTERNAL_LOGIN" : "SQL_LOGIN", l.disabled, l.createDate, l.createDate, "master"]),
  },
  server_permissions: {
    columns: [
      col("class", T.tinyint, false),
      col("class_desc", T.nvarchar(60)),
      col("major_id", T.int, false),
      col("minor_id", T.int, false),
      col("grantee_principal_id", T.int, false),
      col("grantor_principal_id", T.int, false),
      col("type", T.char(4), false),
      col("permission_name", T.nvarchar(128)),
      col("state", T.char(1), false),
      col("state_desc", T.nvarchar(60)),
    ],
    // Every login holds CONNECT SQL; the grantor of permissions is reported as sa (principal 1).
    rows: (ctx) =>
      [...ctx.logins]
        .sort((a, b) => a.principalId - b.principalId)
        .flatMap((l) => ["CONNECT SQL", ...l.permissions].map((p) => [100, "SERVER", 0, 0, l.principalId, 1, (permissionCodes[p] ?? p.split(" ").map((w) => w[0]).join("")).padEnd(4, " "), p, "G", "GRANT"])),
  },
  server_audits: {
    needsAuditMetadata: true,
    columns: serverAuditColumns,
    rows: (ctx) => byId(ctx.audits).map((a) => serverAuditRow(a, ctx)),
  },
  /**
   * Columns and types from "sys.server_file_audits (Transact-SQL)" (which applies to Managed Instance). URL audits are
   * MI's file-like audits (.xel files in blob storage), so they are listed here with the container URL as
   * log_file_path and EXTERNAL_MONITOR audits are not; retention_days is added for URL audits' RETENTION_DAYS. The
   * page documents none of these three for MI: [unverified] (reference §3.1).
   */
  server_file_audits: {
    needsAuditMetadata: true,
    columns: [
      ...serverAuditColumns.filter((c) => c.name !== "is_operator_audit").map((c) => (c.name === "predicate" ? col("predicate", T.nvarchar(8000)) : c)),
      col("max_file_size", T.bigint),
      col("max_rollover_files", T.int),
      col("max_files", T.int),
      col("reserved_disk_space", T.int),
      col("log_file_path", T.nvarchar(260)),
      col("log_file_name", T.nvarchar(260)),
      col("retention_days", T.int),
    ],
    rows: (ctx) =>
      byId(ctx.audits).flatMap((a) =>
        a.target.type === "URL" ? [[...serverAuditRow(a, ctx).slice(0, -1), 0, 0, 0, 0, a.target.path, `${a.name}_${a.guid}.xel`, a.target.retentionDays]] : [],
      ),
  },
  server_audit_specifications: {
    needsAuditMetadata: true,
    columns: [
      col("name", T.sysname, false),
      col("server_specification_id", T.int, false),
      col("create_date", T.datetime, false),
      col("modify_date", T.datetime, false),
      col("audit_guid", T.guid),
      col("is_state_enabled", T.tinyint),
    ],
    rows: (ctx) => byId(ctx.specs).map((s) => [s.name, s.id, s.createDate, s.modifyDate, s.auditGuid, s.enabled ? 1 : 0]),
  },
  server_audit_specification_details: {
    needsAuditMetadata: true,
    columns: [
      col("server_specification_id", T.int, false),
      col("audit_action_id", T.char(4), false),
      col("audit_action_name", T.sysname),
      col("class", T.tinyint, false),
      col("class_desc", T.nvarchar(60)),
      col("major_id", T.int, false),
      col("minor_id", T.int, false),
      col("audited_principal_id", T.int, false),
      col("audited_result", T.nvarchar(60)),
      col("is_group", T.bit),
    ],
    // class 100 / SERVER mirrors sys.server_permissions' class for the server scope [unverified].
    rows: (ctx) =>
      byId(ctx.specs).flatMap((s) => s.groups.map((g) => [s.id, groupCode(g).padEnd(4, " "), g, 100, "SERVER", 0, 0, 0, "SUCCESS AND FAILURE", true])),
  },
  /**
   * "sys.databases (Transact-SQL)": the columns everyday queries read, with their documented types. Every login sees
   * every database (public holds VIEW ANY DATABASE by default). Ids: master 1, tempdb 2, model 3, msdb 4, then user
   * databases in creation order.
   */
  databases: {
    columns: [
      col("name", T.sysname, false),
      col("database_id", T.int, false),
      col("source_database_id", T.int),
      col("create_date", T.datetime, false),
      col("compatibility_level", T.tinyint, false),
      col("collation_name", T.sysname),
      col("user_access", T.tinyint),
      col("user_access_desc", T.nvarchar(60)),
      col("is_read_only", T.bit),
      col("state", T.tinyint),
      col("state_desc", T.nvarchar(60)),
      col("recovery_model", T.tinyint),
      col("recovery_model_desc", T.nvarchar(60)),
      col("is_encrypted", T.bit),
    ],
    // MI: user databases use the full recovery model and TDE by default ("T-SQL differences", "Transparent data
    // encryption"); the system databases' values are SQL Server's [unverified on MI].
    rows: (ctx) =>
      ctx.databases.map((d) => {
        const user = d.id > 4;
        const recovery = user || d.name === "model" ? 1 : 3;
        return [d.name, d.id, null, d.createDate, 160, "SQL_Latin1_General_CP1_CI_AS", 0, "MULTI_USER", false, 0, "ONLINE", recovery, recovery === 1 ? "FULL" : "SIMPLE", user];
      }),
  },
  /**
   * "sys.dm_audit_actions (Transact-SQL)": one row per action group (action_id NULL for groups, as documented) and per
   * action AuditGuard reads or causes. Action names for BA/RS/BAL and class names are [unverified] (reference §4.3).
   */
  dm_audit_actions: {
    columns: [
      col("action_id", { kind: "varchar", length: 4 }),
      col("action_in_log", T.bit),
      col("name", T.sysname, false),
      col("class_desc", T.nvarchar(120), false),
      col("parent_class_desc", T.nvarchar(120)),
      col("covering_parent_action_name", T.nvarchar(120)),
      col("configuration_level", T.nvarchar(10)),
      col("containing_group_name", T.nvarchar(120)),
    ],
    rows: () => auditActions,
  },
  /** "sys.credentials (Transact-SQL)": never the secret. Visible with VIEW ANY DEFINITION (or more) [unverified on MI]. */
  credentials: {
    needsAuditMetadata: true,
    columns: [
      col("credential_id", T.int, false),
      col("name", T.sysname, false),
      col("credential_identity", T.nvarchar(4000)),
      col("create_date", T.datetime, false),
      col("modify_date", T.datetime, false),
      col("target_type", T.nvarchar(100)),
      col("target_id", T.int),
    ],
    rows: (ctx) => ctx.credentials.map((c) => [c.id, c.name, c.identity, c.createDate, c.modifyDate, null, null]),
  },
  dm_server_audit_status: {
    columns: [
      col("audit_id", T.int, false),
      col("name", T.sysname, false),
      col("status", T.smallint, false),
      col("status_desc", T.nvarchar(256), false),
      col("status_time", T.datetime2, false),
      col("event_session_address", { kind: "varbinary", length: 8 }),
      col("audit_file_path", T.nvarchar(256)),
      col("audit_file_size", T.bigint),
    ],
    rows: (ctx) =>
      byId(ctx.audits).map((a) => {
        const desc = auditStatus(a);
        const started = desc === "STARTED";
        return [
          a.id,
          a.name,
          statusCodes[desc],
          desc,
          a.statusTime,
          started ? Uint8Array.from([0, 0, 0, 0, 0, 0, 0, a.id & 0xff]) : null,
          started ? currentXelFile(a, ctx.serverName) : null,
          a.target.type === "URL" && started ? 0 : null,
        ];
      }),
  },
};

const groupRow = (name: string): SqlValue[] => [null, false, name, "SERVER", null, null, "Group", null];
const actionRow = (id: string, name: string, cls: string, group: string | null): SqlValue[] => [id, true, name, cls, cls === "SERVER" ? null : "SERVER", group, group ? "Action" : null, group];
const auditActions: SqlValue[][] = [
  ...[...serverAuditGroups].sort().map(groupRow),
  actionRow("BA", "BACKUP", "DATABASE", "BACKUP_RESTORE_GROUP"),
  actionRow("BAL", "BACKUP LOG", "DATABASE", "BACKUP_RESTORE_GROUP"),
  actionRow("RS", "RESTORE", "DATABASE", "BACKUP_RESTORE_GROUP"),
  actionRow("CR", "CREATE", "SERVER AUDIT", "AUDIT_CHANGE_GROUP"),
  actionRow("AL", "ALTER", "SERVER AUDIT", "AUDIT_CHANGE_GROUP"),
  actionRow("DR", "DROP", "SERVER AUDIT", "AUDIT_CHANGE_GROUP"),
  actionRow("AUSC", "AUDIT SESSION CHANGED", "SERVER", null),
  actionRow("AUSF", "AUDIT SHUTDOWN ON FAILURE", "SERVER", null),
  actionRow("LGIS", "LOGIN SUCCEEDED", "SERVER", "SUCCESSFUL_LOGIN_GROUP"),
  actionRow("LGIF", "LOGIN FAILED", "SERVER", "FAILED_LOGIN_GROUP"),
  actionRow("LGO", "LOGOUT", "SERVER", "LOGOUT_GROUP"),
  actionRow("BCM", "BATCH COMPLETED", "SERVER", "BATCH_COMPLETED_GROUP"),
];
