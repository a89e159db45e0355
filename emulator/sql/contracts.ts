/**
 * The seam between the TDS protocol server (emulator/tds) and the engine that gives a Managed Instance its
 * behaviour (emulator/mi). The protocol layer knows bytes and sessions; the engine knows T-SQL, catalog views,
 * permissions and audit semantics. Neither imports the other: both import this file.
 */

/** Column types the engine may return; each maps to one TDS TYPE_INFO ([MS-TDS] 2.2.5.6 Type Info Rule Definition). */
export type SqlType =
  | { kind: "int" }
  | { kind: "bigint" }
  | { kind: "smallint" }
  | { kind: "tinyint" }
  | { kind: "bit" }
  | { kind: "float" }
  | { kind: "nvarchar"; length: number | "max" }
  | { kind: "varchar"; length: number }
  | { kind: "char"; length: number }
  | { kind: "datetime" }
  | { kind: "datetime2"; scale: number }
  | { kind: "uniqueidentifier" }
  | { kind: "varbinary"; length: number | "max" }
  /** SERVERPROPERTY and friends: the base type travels with each value (MS-TDS 2.2.5.5.4), chosen from the JS value. */
  | { kind: "sql_variant" };

/** A value in a row or an RPC parameter. GUIDs travel as upper-case strings, datetimes as Date (UTC). */
export type SqlValue = null | string | number | bigint | boolean | Date | Uint8Array;

export interface ColumnDef {
  name: string;
  type: SqlType;
  nullable?: boolean;
}

export interface ResultSet {
  columns: ColumnDef[];
  rows: SqlValue[][];
}

/** An ERROR (class > 10) or INFO (class <= 10) token as SQL Server sends it. */
export interface SqlMessage {
  number: number;
  state: number;
  class: number;
  message: string;
  lineNumber: number;
  procName?: string;
}

export type TransactionChange = "begin" | "commit" | "rollback";

/**
 * What one statement of a batch produced, in order. A batch stops at the first error whose class aborts the
 * batch, as SQL Server does; `error` outcomes carry the message to send.
 */
export type StatementOutcome =
  | { kind: "rows"; resultSet: ResultSet; infos?: SqlMessage[] }
  | { kind: "done"; rowCount?: number; infos?: SqlMessage[]; transaction?: TransactionChange; /** USE: the session's database changed. */ databaseChange?: { from: string; to: string } }
  | { kind: "error"; error: SqlMessage; transaction?: TransactionChange };

export interface ExecuteRequest {
  /** The T-SQL text: a SQL_BATCH payload, or sp_executesql's @statement. */
  sql: string;
  /** sp_executesql parameters by name including the '@' (empty for a SQL_BATCH). */
  params: ReadonlyMap<string, SqlValue>;
  /** Aborted when the client sends ATTENTION (cancel or request timeout). */
  signal: AbortSignal;
}

/** Who logged in. `kind: 'entra'` principals come from verified Entra (emulator identity) access tokens. */
export interface Principal {
  kind: "sql" | "entra";
  /** The server principal name, as SUSER_SNAME() and audit records show it. */
  name: string;
  /** Entra object id for token logins. */
  objectId?: string;
}

export type LoginRequest =
  | { kind: "sql"; userName: string; password: string; database: string; appName: string; hostName: string }
  | {
      kind: "token";
      /** Claims of an access token the protocol layer has already verified (signature, issuer, audience, expiry). */
      claims: { oid: string; appid?: string; name?: string; upn?: string };
      database: string;
      appName: string;
      hostName: string;
    };

export type LoginResult =
  | { ok: true; principal: Principal; database: string }
  | { ok: false; error: SqlMessage };

export interface SqlSession {
  readonly id: number;
  readonly principal: Principal;
  readonly database: string;
  readonly inTransaction: boolean;
  execute(request: ExecuteRequest): Promise<StatementOutcome[]>;
  /** TDS TRANSACTION_MANAGER requests (mssql's Transaction.begin/commit/rollback). */
  beginTransaction(): Promise<StatementOutcome>;
  commitTransaction(): Promise<StatementOutcome>;
  rollbackTransaction(): Promise<StatementOutcome>;
  /** The connection closed: roll back an open transaction and release session-owned locks. */
  close(): void;
}

/** One emulated SQL endpoint (a Managed Instance), chosen by the protocol layer from the TLS SNI name. */
export interface SqlEngine {
  /** The instance's fully qualified domain name, e.g. mi-prod-01.abc123.database.windows.net. */
  readonly serverName: string;
  login(request: LoginRequest, client: { address: string }): Promise<LoginResult>;
  openSession(principal: Principal, database: string, client: { address: string; appName: string; hostName: string }): SqlSession;
}

/** Looks up the engine for a TLS SNI server name (case-insensitive); undefined when no such instance exists. */
export type SqlEngineResolver = (serverName: string) => SqlEngine | undefined;

/**
 * One audit record as SQL Server's audit writes it (the field names sys.fn_get_audit_file returns, Microsoft Learn).
 * The estate turns it into an AzureDiagnostics row for the instance's diagnostic-setting workspace.
 */
export interface SqlAuditRecord {
  event_time: Date;
  action_id: string;
  action_name: string;
  class_type: string;
  class_type_desc?: string;
  succeeded: boolean;
  session_id: number;
  server_principal_name: string;
  server_principal_sid?: string;
  session_server_principal_name?: string;
  database_name: string;
  object_name?: string;
  schema_name?: string;
  statement: string;
  additional_information?: string;
  client_ip: string;
  application_name: string;
  host_name?: string;
  server_instance_name: string;
  sequence_number?: number;
  event_id: string;
  audit_name: string;
}

/**
 * Thrown by SqlSession.execute when the connection must close without a reply (an injected "drop-connection" or
 * "no-reply" fault): `ran` says whether the statement ran first, which the client cannot know.
 */
export class ConnectionDropped extends Error {
  constructor(readonly ran: boolean) {
    super(ran ? "connection dropped after the statement ran" : "connection dropped before the statement ran");
  }
}
