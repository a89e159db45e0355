import type { SqlMessage } from "../sql/contracts.js";

/** A T-SQL error raised while parsing or running a statement; carries the message SQL Server would send. */
export class TsqlError extends Error {
  /** `abortsBatch`: THROW ends the batch (outside TRY/CATCH), unlike most statement-level errors. */
  constructor(
    readonly sql: SqlMessage,
    readonly abortsBatch = false,
  ) {
    super(sql.message);
  }
}

export function sqlError(number: number, message: string, cls = 16, state = 1, lineNumber = 1): TsqlError {
  return new TsqlError({ number, state, class: cls, message, lineNumber });
}

export const errors = {
  syntax: (near: string, line = 1) => sqlError(102, `Incorrect syntax near '${near}'.`, 15, 1, line),
  syntaxKeyword: (keyword: string, line = 1) => sqlError(156, `Incorrect syntax near the keyword '${keyword}'.`, 15, 1, line),
  unclosedQuote: (rest: string, line = 1) => sqlError(105, `Unclosed quotation mark after the character string '${rest}'.`, 15, 1, line),
  /** An unclosed [identifier: SQL Server reports it as an unclosed quotation mark too (105); [unverified] on MI. */
  unclosedIdentifier: (rest: string, line = 1) => sqlError(105, `Unclosed quotation mark after the character string '${rest}'.`, 15, 1, line),
  mustDeclare: (name: string) => sqlError(137, `Must declare the scalar variable "${name}".`, 15, 2),
  alreadyDeclared: (name: string) => sqlError(134, `The variable name '${name}' has already been declared. Variable names must be unique within a query batch or stored procedure.`, 15),
  invalidObject: (name: string) => sqlError(208, `Invalid object name '${name}'.`, 16),
  invalidColumn: (name: string) => sqlError(207, `Invalid column name '${name}'.`, 16),
  ambiguousColumn: (name: string) => sqlError(209, `Ambiguous column name '${name}'.`, 16),
  unknownFunction: (name: string) => sqlError(195, `'${name}' is not a recognized built-in function name.`, 15, 10),
  unknownProcedure: (name: string) => sqlError(2812, `Could not find stored procedure '${name}'.`, 16, 62),
  conversion: (value: string, type: string) => sqlError(245, `Conversion failed when converting the nvarchar value '${value}' to data type ${type}.`, 16),
  noPermission: () => sqlError(15247, "User does not have permission to perform this action.", 16),
  loginNotFound: (name: string) => sqlError(15151, `Cannot find the login '${name}', because it does not exist or you do not have permission.`, 16),
  loginExists: (name: string) => sqlError(15025, `The server principal '${name}' already exists.`, 16),
  /** 4613, database engine error list. */
  grantorLacks: () => sqlError(4613, "Grantor does not have GRANT permission.", 16),
  /** Only an Entra-authenticated session may create Entra logins: 33159, database engine error list. */
  entraOnly: (name: string) =>
    sqlError(33159, `Principal '${name}' could not be created. Only connections established with Active Directory accounts can create other Active Directory users.`, 16),
  /** 33130, database engine error list. */
  principalNotFound: (name: string) => sqlError(33130, `Principal '${name}' could not be found or this principal type is not supported.`, 16),
  /** 33131, database engine error list and "Microsoft Entra logins and users with nonunique display names". */
  duplicateDisplayName: (name: string) =>
    sqlError(33131, `Principal '${name}' has a duplicate display name. Make the display name unique in Azure Active Directory and execute this statement again.`, 16),
  doesNotExist: (verb: "alter" | "drop", what: string, name: string) =>
    sqlError(15151, `Cannot ${verb} the ${what} '${name}', because it does not exist or you do not have permission.`, 16),
  alreadyExists: (what: string, name: string) => sqlError(15530, `The ${what} with name "${name}" already exists.`, 16),
  /** 33071: the %S_MSG substitution ("audit") is [unverified]. */
  needAuditDisabled: () => sqlError(33071, "This command requires audit to be disabled. Disable the audit and rerun this command.", 16),
  stateAlone: () => sqlError(33223, "ALTER SERVER AUDIT requires the STATE option to be specified without using any other options.", 16),
  queueDelay: () => sqlError(33227, "The specified value for QUEUE_DELAY is not valid. Specify either 0 or 1000 and higher.", 16),
  specNeedsDisabled: () => sqlError(33229, "Changes to an audit specification must be done while the audit specification is disabled.", 16),
  specExistsForAudit: (audit: string) => sqlError(33230, `An audit specification for audit '${audit}' already exists.`, 16),
  /** 33073 "Cannot find %S_MSG '%.*ls' or you do not have the required permissions." (database engine error list); the "server audit" substitution is [unverified]. */
  auditNotFound: (audit: string) => sqlError(33073, `Cannot find server audit '${audit}' or you do not have the required permissions.`, 16),
  /**
   * MI refuses TO FILE, BACKUP TO DISK and more: 40517 is Azure SQL's documented "Keyword or statement option … is not
   * supported" error; that MI raises it for each of these is [unverified].
   */
  notSupported: (option: string) => sqlError(40517, `Keyword or statement option '${option}' is not supported in this version of SQL Server.`, 16),
  /** 33533, from the database engine error list: MI has no ON_FAILURE = SHUTDOWN. */
  shutdownNotSupported: () => sqlError(33533, "SHUTDOWN on failure option is not supported in this version of SQL Server.", 16),
  /** 574 "%ls statement cannot be used inside a user transaction." exists; that audit STATE changes raise it is [unverified] (reference §3.2). */
  notInTransaction: (statement: string) => sqlError(574, `${statement} statement cannot be used inside a user transaction.`, 16),
  noTransaction: (verb: "COMMIT" | "ROLLBACK") =>
    verb === "COMMIT"
      ? sqlError(3902, "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.", 16)
      : sqlError(3903, "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.", 16),
  /** 15626 at severity 10: a message, not an error; sp_getapplock then returns -999 (database engine error list). */
  applockNoTransaction: (): SqlMessage => ({ number: 15626, state: 1, class: 10, message: "You attempted to acquire a transactional application lock without an active transaction.", lineNumber: 1 }),
  applockNotHeld: (resource: string) =>
    sqlError(1223, `Cannot release the application lock (Database Principal: 'public', Resource: '${resource}') because it is not currently held.`, 16),
  databaseMissing: (name: string) => sqlError(911, `Database '${name}' does not exist. Make sure that the name is entered correctly.`, 16),
  databaseExists: (name: string) => sqlError(1801, `Database '${name}' already exists. Choose a different database name.`, 16),
  backupDenied: (db: string) => sqlError(262, `BACKUP DATABASE permission denied in database '${db}'.`, 14),
  restoreDenied: () => sqlError(262, "CREATE DATABASE permission denied in database 'master'.", 14),
  viewServerState: () => sqlError(300, "VIEW SERVER STATE permission was denied on object 'server', database 'master'.", 14),
  loginFailed: (user: string) => sqlError(18456, `Login failed for user '${user}'.`, 14),
  cannotOpenDatabase: (db: string) => sqlError(4060, `Cannot open database "${db}" requested by the login. The login failed.`, 11),
  /**
   * An audit predicate naming a field the audit event does not have. SQL Server Audit filters run on Extended Events
   * predicates; 25706 is the Extended Events message for an unknown predicate source [unverified: the number and text
   * were not found in the stored copy of the error list; chosen as the XE message SQL Server Audit is built on].
   */
  unknownAuditField: (field: string) => sqlError(25706, `The event attribute or predicate source, "${field}", could not be found.`, 16),
  /**
   * A predicate value of the wrong kind for its field, e.g. a string for class_type or action_id, which the audit
   * event holds as numbers (Msg 25713, state 23, as SQL Server answers `WHERE ([class_type] = 'FN')`: "Server Audit
   * Mystery 1: Filtering class_type gets Error Msg 25713", sqlquantumleap.com).
   */
  badAuditValue: (field: string) => sqlError(25713, `The value specified for event attribute or predicate source, "${field}", event, "audit_event", is invalid.`, 16, 23),
  /**
   * DROP SERVER AUDIT SPECIFICATION of an enabled specification: the docs require STATE = OFF first ("You must set the
   * state of a server audit specification to OFF … before it can be dropped") without naming the error; 33229 is the
   * list's message for changing an enabled specification [unverified that DROP raises this number].
   */
  dropEnabledSpec: () => sqlError(33229, "Changes to an audit specification must be done while the audit specification is disabled.", 16),
  aggregateInWhere: () =>
    sqlError(147, "An aggregate may not appear in the WHERE clause unless it is in a subquery contained in a HAVING clause or a select list, and the column being aggregated is an outer reference.", 15),
  /** USE of a missing database: 911 (database engine error list). */
  useMissingDatabase: (name: string) => sqlError(911, `Database '${name}' does not exist. Make sure that the name is entered correctly.`, 16),
  /** Unknown action group: MI's answer is [unverified]; group names are grammar tokens, so a syntax error is likely. */
  unknownGroup: (group: string) => sqlError(102, `Incorrect syntax near '${group}'.`, 15),
};

/** The engine's own text for error numbers a fleet may inject without a message (sql.faults). */
export function injectedError(number: number, message?: string): TsqlError {
  const known: Record<number, () => TsqlError> = {
    15247: errors.noPermission,
    33071: errors.needAuditDisabled,
    33223: errors.stateAlone,
    33227: errors.queueDelay,
    33229: errors.specNeedsDisabled,
    1205: () => sqlError(1205, "Transaction (Process ID 51) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction.", 13, 51),
    40613: () => sqlError(40613, "Database 'master' on server is not currently available. Please retry the connection later.", 17),
  };
  if (message !== undefined) return sqlError(number, message, 16);
  return known[number]?.() ?? sqlError(number, `Statement failed with injected error ${number}.`, 16);
}
