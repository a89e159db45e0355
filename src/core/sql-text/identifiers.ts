/**
 * Names that go into T-SQL. Every identifier is validated, then bracket-quoted with QUOTENAME's rule (a `]`
 * doubled); string literals are N'...' with `'` doubled. Validation is deliberately stricter than SQL Server:
 * a name AuditGuard writes must be plain enough that a reviewer reading the plan cannot be fooled by it.
 */
export const IDENTIFIER_RULE =
  "must be 1-128 characters of letters, digits, spaces and _ - . $ # @, starting with a letter or underscore, without leading or trailing spaces";

// Letters (any script), digits, and a few punctuation marks; no brackets, quotes, semicolons or control characters.
const IDENTIFIER = /^[\p{L}_][\p{L}\p{N}_ .$#@-]{0,127}$/u;

export function isValidIdentifier(name: string): boolean {
  return IDENTIFIER.test(name) && name === name.trim() && !name.includes("  ");
}

export class UnsafeNameError extends Error {
  constructor(readonly value: string, what: string) {
    super(`refusing ${what} ${JSON.stringify(value)}: it ${IDENTIFIER_RULE}`);
    this.name = "UnsafeNameError";
  }
}

/** QUOTENAME semantics: [name] with any ] doubled. Refuses names that fail validation. */
export function quoteIdentifier(name: string, what = "identifier"): string {
  if (!isValidIdentifier(name)) throw new UnsafeNameError(name, what);
  return `[${name.replace(/]/g, "]]")}]`;
}

/** An N'...' literal with quotes doubled; refuses control characters. */
export function quoteString(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is being refused
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new UnsafeNameError(value, "string literal");
  return `N'${value.replace(/'/g, "''")}'`;
}

/** Server-level audit action groups (SQL Server audit action groups reference), as written in specs. */
export const ACTION_GROUP_NAMES = [
  "APPLICATION_ROLE_CHANGE_PASSWORD_GROUP",
  "AUDIT_CHANGE_GROUP",
  "BACKUP_RESTORE_GROUP",
  "BATCH_COMPLETED_GROUP",
  "BATCH_STARTED_GROUP",
  "BROKER_LOGIN_GROUP",
  "DATABASE_CHANGE_GROUP",
  "DATABASE_LOGOUT_GROUP",
  "DATABASE_MIRRORING_LOGIN_GROUP",
  "DATABASE_OBJECT_ACCESS_GROUP",
  "DATABASE_OBJECT_CHANGE_GROUP",
  "DATABASE_OBJECT_OWNERSHIP_CHANGE_GROUP",
  "DATABASE_OBJECT_PERMISSION_CHANGE_GROUP",
  "DATABASE_OPERATION_GROUP",
  "DATABASE_OWNERSHIP_CHANGE_GROUP",
  "DATABASE_PERMISSION_CHANGE_GROUP",
  "DATABASE_PRINCIPAL_CHANGE_GROUP",
  "DATABASE_PRINCIPAL_IMPERSONATION_GROUP",
  "DATABASE_ROLE_MEMBER_CHANGE_GROUP",
  "DBCC_GROUP",
  "FAILED_DATABASE_AUTHENTICATION_GROUP",
  "FAILED_LOGIN_GROUP",
  "FULLTEXT_GROUP",
  "LOGIN_CHANGE_PASSWORD_GROUP",
  "LOGOUT_GROUP",
  "SCHEMA_OBJECT_ACCESS_GROUP",
  "SCHEMA_OBJECT_CHANGE_GROUP",
  "SCHEMA_OBJECT_OWNERSHIP_CHANGE_GROUP",
  "SCHEMA_OBJECT_PERMISSION_CHANGE_GROUP",
  "SERVER_OBJECT_CHANGE_GROUP",
  "SERVER_OBJECT_OWNERSHIP_CHANGE_GROUP",
  "SERVER_OBJECT_PERMISSION_CHANGE_GROUP",
  "SERVER_OPERATION_GROUP",
  "SERVER_PERMISSION_CHANGE_GROUP",
  "SERVER_PRINCIPAL_CHANGE_GROUP",
  "SERVER_PRINCIPAL_IMPERSONATION_GROUP",
  "SERVER_ROLE_MEMBER_CHANGE_GROUP",
  "SERVER_STATE_CHANGE_GROUP",
  "SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP",
  "SUCCESSFUL_LOGIN_GROUP",
  "TRACE_CHANGE_GROUP",
  "TRANSACTION_GROUP",
  "USER_CHANGE_PASSWORD_GROUP",
  "USER_DEFINED_AUDIT_GROUP",
] as const;

export type ActionGroup = (typeof ACTION_GROUP_NAMES)[number];

/**
 * The action groups the server and workspace auditing API accepts ("Server Blob Auditing Policies - Create Or
 * Update" and its Synapse twin, properties.auditActionsAndGroups: "The supported action groups to audit are…").
 * AUDIT_CHANGE_GROUP and the other server-scope groups are Managed Instance (SQL Server Audit) groups: the API
 * refuses them with InvalidBlobAuditActionsAndGroups.
 */
export const SERVER_AUDITING_ACTION_GROUPS = [
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

export function quoteActionGroup(group: string): string {
  if (!(ACTION_GROUP_NAMES as readonly string[]).includes(group) || !/^[A-Z_]+$/.test(group)) {
    throw new UnsafeNameError(group, "action group");
  }
  return group;
}
