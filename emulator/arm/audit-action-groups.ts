/**
 * The action groups and actions ARM's auditing policies accept, in one place for the emulator (the baseline
 * keeps its own copy from the same documents; neither imports the other).
 *
 * Server and workspace policies ("Server Blob Auditing Policies - Create Or Update" for SQL servers, "Workspace
 * Managed Sql Server Blob Auditing Policies - Create Or Update" for Synapse):
 * the twenty groups below. AUDIT_CHANGE_GROUP is a SQL Server / Managed Instance group and is not one of them.
 * Actions ("SELECT on dbo.t by public") "can't be specified for Server auditing policy", only for databases.
 */
export const SERVER_AUDIT_ACTION_GROUPS = [
  "APPLICATION_ROLE_CHANGE_PASSWORD_GROUP",
  "BACKUP_RESTORE_GROUP",
  "DATABASE_LOGOUT_GROUP",
  "DATABASE_OBJECT_CHANGE_GROUP",
  "DATABASE_OBJECT_OWNERSHIP_CHANGE_GROUP",
  "DATABASE_OBJECT_PERMISSION_CHANGE_GROUP",
  "DATABASE_OPERATION_GROUP",
  "DATABASE_PERMISSION_CHANGE_GROUP",
  "DATABASE_PRINCIPAL_CHANGE_GROUP",
  "DATABASE_PRINCIPAL_IMPERSONATION_GROUP",
  "DATABASE_ROLE_MEMBER_CHANGE_GROUP",
  "FAILED_DATABASE_AUTHENTICATION_GROUP",
  "SCHEMA_OBJECT_ACCESS_GROUP",
  "SCHEMA_OBJECT_CHANGE_GROUP",
  "SCHEMA_OBJECT_OWNERSHIP_CHANGE_GROUP",
  "SCHEMA_OBJECT_PERMISSION_CHANGE_GROUP",
  "SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP",
  "USER_CHANGE_PASSWORD_GROUP",
  "BATCH_STARTED_GROUP",
  "BATCH_COMPLETED_GROUP",
] as const;

/**
 * Database policies ("Database Blob Auditing Policies - Create Or Update"): the same groups and, in the newer API
 * references, DBCC_GROUP and three more ([unverified] beyond DBCC_GROUP, which the DatabaseBlobAuditingPolicy
 * interface documentation lists).
 */
export const DATABASE_AUDIT_ACTION_GROUPS = [...SERVER_AUDIT_ACTION_GROUPS, "DBCC_GROUP", "DATABASE_OWNERSHIP_CHANGE_GROUP", "DATABASE_CHANGE_GROUP", "LEDGER_OPERATION_GROUP"] as const;

/** The actions a database policy may name: `{action} on {object} by {principal}` (same references). */
export const AUDIT_ACTIONS = ["SELECT", "UPDATE", "INSERT", "DELETE", "EXECUTE", "RECEIVE", "REFERENCES"] as const;

const ACTION = new RegExp(`^(${AUDIT_ACTIONS.join("|")})\\s+on\\s+\\S.*\\s+by\\s+\\S+$`, "i");

export type AuditEntryKind = "group" | "action" | "invalid";

/** What one entry of auditActionsAndGroups is for a policy at `level`. */
export function classifyAuditEntry(entry: string, level: "server" | "database"): AuditEntryKind {
  const groups: readonly string[] = level === "server" ? SERVER_AUDIT_ACTION_GROUPS : DATABASE_AUDIT_ACTION_GROUPS;
  if (groups.includes(entry.trim().toUpperCase())) return "group";
  if (ACTION.test(entry.trim())) return "action";
  return "invalid";
}
