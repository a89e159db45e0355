import { Connection, Request, TYPES } from "tedious";
import type { ConnectionConfiguration } from "tedious";
import type { TokenCredential } from "@azure/core-auth";

/**
 * The T-SQL side of a Managed Instance: reads the server audit catalog in one round trip and applies a plan's
 * statements in order under an application lock, over one tedious connection with certificate checks on.
 *
 * One connection, not an mssql pool: a pool's connect() opens a test connection and closes it before the first
 * request opens another, so every scan would log in twice (two TLS handshakes, two login audit records on the
 * instance). The application lock belongs to the session, so everything must run on one connection anyway.
 *
 * The connect override keeps the instance's real name for TLS: tedious sends `options.serverName` as SNI and
 * checks the certificate against it, while the socket goes to `connect.host:port` — how Azure's gateway routes,
 * and how the emulator is reached.
 */
export interface SqlTarget {
  /** The instance's fully qualified domain name. */
  serverName: string;
  port?: number;
  /** Connect somewhere else while keeping serverName for TLS (emulator, private endpoint, jump host). */
  connect?: { host: string; port: number };
  database?: string;
}

export type SqlEncryption = "strict" | "mandatory";

export interface SqlAccess {
  credential: TokenCredential;
  /** Extra CA certificate(s) to trust, PEM. */
  caPem?: string;
  /**
   * "strict" (default): TDS 8, TLS before any TDS byte and the certificate always checked; Managed Instance and
   * SQL Server 2022 support it. "mandatory": TDS 7.4 with TLS negotiated inside PRELOGIN, for a path that cannot
   * pass TDS 8 (an older proxy or gateway).
   */
  encryption?: SqlEncryption;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** The rows the four audit views return, unchanged. */
export interface RawAuditCatalog {
  server: { engineEdition: number | null; version: string; loginName: string; canAlterAudits: boolean };
  audits: Array<{
    auditId: number;
    name: string;
    auditGuid: string;
    type: string;
    typeDesc: string;
    onFailureDesc: string;
    isStateEnabled: boolean;
    queueDelay: number;
    predicate: string | null;
    statusDesc: string | null;
    auditFilePath: string | null;
  }>;
  specifications: Array<{ id: number; name: string; auditGuid: string | null; isStateEnabled: boolean }>;
  details: Array<{ specificationId: number; actionName: string; auditedResult: string | null }>;
  /**
   * sys.server_file_audits: the file-like audits (on Managed Instance, the URL audits) with their path and options.
   * `retentionDays` is undefined where the instance has no such column (it is not on the documented page).
   */
  fileAudits: Array<{
    auditId: number;
    logFilePath: string | null;
    logFileName: string | null;
    maxFileSize: number | null;
    maxRolloverFiles: number | null;
    maxFiles: number | null;
    reservedDiskSpace: number | null;
    retentionDays: number | null | undefined;
  }>;
}

/**
 * The catalog in one batch: five result sets, one round trip. The audit's target path comes from
 * sys.server_file_audits (the PATH it was given), never from sys.dm_server_audit_status.audit_file_path, which is
 * the current .xel file and NULL while the audit is stopped ("sys.dm_server_audit_status (Transact-SQL)"). The file
 * audits are read with `*` so a column the instance may or may not have (retention_days) is read where it exists
 * and its absence does not fail the read.
 */
export const READ_AUDIT_CATALOG = `SELECT CAST(SERVERPROPERTY('EngineEdition') AS int) AS engine_edition, @@VERSION AS version, SUSER_SNAME() AS login_name, HAS_PERMS_BY_NAME(NULL, NULL, 'ALTER ANY SERVER AUDIT') AS can_alter;
SELECT a.audit_id, a.name, a.audit_guid, a.type, a.type_desc, a.on_failure_desc, a.is_state_enabled, a.queue_delay, a.predicate, s.status_desc, s.audit_file_path FROM sys.server_audits AS a LEFT JOIN sys.dm_server_audit_status AS s ON s.audit_id = a.audit_id ORDER BY a.name;
SELECT sp.server_specification_id, sp.name, sp.audit_guid, sp.is_state_enabled FROM sys.server_audit_specifications AS sp ORDER BY sp.name;
SELECT d.server_specification_id, d.audit_action_name, d.audited_result FROM sys.server_audit_specification_details AS d ORDER BY d.server_specification_id, d.audit_action_name;
SELECT * FROM sys.server_file_audits ORDER BY audit_id;`;

export const APPLOCK_RESOURCE = "auditguard:server-audit";

/** Takes the remediation lock for the session (parameters @resource, @timeout) and answers its result and @@SPID. */
export const TAKE_REMEDIATION_LOCK =
  "DECLARE @r int; EXEC @r = sp_getapplock @Resource = @resource, @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = @timeout; SELECT @r AS result, @@SPID AS spid;";

/** A statement that runs only on the session holding the lock: a dropped connection would silently lose it. */
export function guardedStatement(spid: number, statement: string): string {
  return `IF @@SPID <> ${spid} THROW 51000, N'AuditGuard lost its remediation session; the statement was not run.', 1;\n${statement}`;
}

/** A SQL error as the server sent it: number, state, class and text, for exact reporting. */
export class SqlStatementError extends Error {
  constructor(
    message: string,
    readonly number: number | undefined,
    readonly state: number | undefined,
    readonly severity: number | undefined,
    readonly statementIndex: number,
    readonly statement: string,
    /** The driver's code when the statement never got an answer (ECLOSE, ETIMEOUT…): its outcome is unknown. */
    readonly code?: string,
  ) {
    super(message);
    this.name = "SqlStatementError";
  }
}

/**
 * tedious hands several errors of one request over as an AggregateError with no number and an empty message
 * (SQL Server often sends two: Msg 300 then 297 for a missing VIEW SERVER STATE). The first numbered one is the
 * cause; every message is kept.
 */
export function unwrapRequestError(error: unknown): unknown {
  if (!(error instanceof AggregateError)) return error;
  const inner = error.errors as Array<{ message?: string; number?: number; state?: number; class?: number; code?: string }>;
  const first = inner.find((e) => typeof e?.number === "number") ?? inner[0];
  if (!first) return error;
  return Object.assign(new Error(inner.map((e) => e?.message ?? String(e)).join(" "), { cause: error }), {
    name: "RequestError",
    ...(first.number !== undefined ? { number: first.number } : {}),
    ...(first.state !== undefined ? { state: first.state } : {}),
    ...(first.class !== undefined ? { class: first.class } : {}),
    ...(first.code !== undefined ? { code: first.code } : {}),
  });
}

export class SqlLockTimeoutError extends Error {}

export function connectionConfig(target: SqlTarget, access: SqlAccess): ConnectionConfiguration {
  return {
    server: target.connect?.host ?? target.serverName,
    authentication: { type: "token-credential", options: { credential: access.credential } },
    options: {
      port: target.connect?.port ?? target.port ?? 1433,
      database: target.database ?? "master",
      encrypt: access.encryption === "mandatory" ? true : "strict",
      trustServerCertificate: false,
      serverName: target.serverName,
      appName: "AuditGuard",
      connectTimeout: access.connectTimeoutMs ?? 15_000,
      requestTimeout: access.requestTimeoutMs ?? 30_000,
      ...(access.caPem ? { cryptoCredentialsDetails: { ca: [access.caPem] } } : {}),
    },
  };
}

const str = (v: unknown): string => (v === null || v === undefined ? "" : String(v));
const bool = (v: unknown): boolean => v === true || v === 1;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function parseAuditCatalog(recordsets: ReadonlyArray<ReadonlyArray<Record<string, unknown>>>): RawAuditCatalog {
  if (recordsets.length !== 5) throw new Error(`expected 5 result sets from the audit catalog query, got ${recordsets.length}`);
  const [serverRows, auditRows, specRows, detailRows, fileRows] = recordsets as [
    ReadonlyArray<Record<string, unknown>>,
    ReadonlyArray<Record<string, unknown>>,
    ReadonlyArray<Record<string, unknown>>,
    ReadonlyArray<Record<string, unknown>>,
    ReadonlyArray<Record<string, unknown>>,
  ];
  const server = serverRows[0] ?? {};
  return {
    server: {
      engineEdition: server.engine_edition === null || server.engine_edition === undefined ? null : Number(server.engine_edition),
      version: str(server.version),
      loginName: str(server.login_name),
      canAlterAudits: bool(server.can_alter),
    },
    audits: auditRows.map((r) => ({
      auditId: Number(r.audit_id),
      name: str(r.name),
      auditGuid: str(r.audit_guid).toLowerCase(),
      type: str(r.type).trim(),
      typeDesc: str(r.type_desc),
      onFailureDesc: str(r.on_failure_desc),
      isStateEnabled: bool(r.is_state_enabled),
      queueDelay: Number(r.queue_delay),
      predicate: r.predicate === null || r.predicate === undefined ? null : String(r.predicate),
      statusDesc: r.status_desc === null || r.status_desc === undefined ? null : String(r.status_desc),
      auditFilePath: r.audit_file_path === null || r.audit_file_path === undefined ? null : String(r.audit_file_path),
    })),
    specifications: specRows.map((r) => ({
      id: Number(r.server_specification_id),
      name: str(r.name),
      auditGuid: r.audit_guid === null || r.audit_guid === undefined ? null : String(r.audit_guid).toLowerCase(),
      isStateEnabled: bool(r.is_state_enabled),
    })),
    details: detailRows.map((r) => ({
      specificationId: Number(r.server_specification_id),
      actionName: str(r.audit_action_name),
      auditedResult: r.audited_result === null || r.audited_result === undefined ? null : String(r.audited_result),
    })),
    fileAudits: fileRows.map((r) => ({
      auditId: Number(r.audit_id),
      logFilePath: r.log_file_path === null || r.log_file_path === undefined ? null : String(r.log_file_path),
      logFileName: r.log_file_name === null || r.log_file_name === undefined ? null : String(r.log_file_name),
      maxFileSize: num(r.max_file_size),
      maxRolloverFiles: num(r.max_rollover_files),
      maxFiles: num(r.max_files),
      reservedDiskSpace: num(r.reserved_disk_space),
      retentionDays: "retention_days" in r ? num(r.retention_days) : undefined,
    })),
  };
}

function toStatementError(error: unknown, index: number, statement: string): SqlStatementError {
  const e = error as { message?: string; number?: number; state?: number; class?: number; code?: string };
  // No SQL number but a driver code: the statement never got an answer, so it may or may not have run.
  const unanswered = e.number === undefined && typeof e.code === "string";
  const message = unanswered ? `${e.message ?? String(error)} (the statement's outcome is unknown: it may have run)` : (e.message ?? String(error));
  return new SqlStatementError(message, e.number, e.state, e.class, index, statement, typeof e.code === "string" ? e.code : undefined);
}

type Row = Record<string, unknown>;
type Parameter = { name: string; type: (typeof TYPES)[keyof typeof TYPES]; value: unknown; length?: number };

export class SqlAuditConnection {
  private constructor(private readonly connection: Connection) {}

  /**
   * Logs in. With a signal, the connection is closed the moment it fires, so a stalled login or request never
   * outlives the target's budget (the caller races the call against the same signal and reports which call it was).
   */
  static async open(target: SqlTarget, access: SqlAccess, signal?: AbortSignal): Promise<SqlAuditConnection> {
    const connection = new Connection(connectionConfig(target, access));
    // A socket error after login surfaces on the next request; an unheard 'error' event would end the process.
    connection.on("error", () => undefined);
    const onAbort = () => connection.close();
    if (signal?.aborted) throw new Error("the login was not attempted: the target's budget had run out");
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await new Promise<void>((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve())));
    } catch (error) {
      signal?.removeEventListener("abort", onAbort);
      throw error;
    }
    const opened = new SqlAuditConnection(connection);
    if (signal) opened.detach = () => signal.removeEventListener("abort", onAbort);
    return opened;
  }

  private detach: () => void = () => undefined;

  /** Runs one request and collects its result sets (a new one at each column metadata), rows as objects. */
  private run(sql: string, parameters: readonly Parameter[] = [], timeoutMs?: number): Promise<Row[][]> {
    return new Promise((resolve, reject) => {
      const recordsets: Row[][] = [];
      let names: string[] = [];
      const request = new Request(sql, (error) => (error ? reject(unwrapRequestError(error)) : resolve(recordsets)));
      if (timeoutMs !== undefined) request.setTimeout(timeoutMs);
      request.on("columnMetadata", (columns: Array<{ colName: string }> | Record<string, { colName: string }>) => {
        names = (Array.isArray(columns) ? columns : Object.values(columns)).map((c) => c.colName);
        recordsets.push([]);
      });
      request.on("row", (columns: Array<{ value: unknown }>) => {
        recordsets.at(-1)!.push(Object.fromEntries(names.map((name, i) => [name, columns[i]?.value ?? null])));
      });
      for (const p of parameters) request.addParameter(p.name, p.type, p.value, p.length === undefined ? undefined : { length: p.length });
      if (parameters.length) this.connection.execSql(request);
      else this.connection.execSqlBatch(request);
    });
  }

  async readCatalog(): Promise<RawAuditCatalog> {
    return parseAuditCatalog(await this.run(READ_AUDIT_CATALOG));
  }

  /**
   * Runs `work` on this connection's session while it holds an exclusive application lock, so two scanners
   * remediating the same instance serialise instead of interleaving; `work` gets a runner for statements.
   */
  async withRemediationLock<T>(work: (run: (statements: readonly string[]) => Promise<number>) => Promise<T>, lockTimeoutMs = 30_000): Promise<T> {
    const [rows] = await this.run(
      TAKE_REMEDIATION_LOCK,
      [
        { name: "resource", type: TYPES.NVarChar, value: APPLOCK_RESOURCE, length: 255 },
        { name: "timeout", type: TYPES.Int, value: lockTimeoutMs },
      ],
      // Longer than the lock wait, so contention ends as sp_getapplock's own answer, never as a cancelled request
      // that might leave the lock granted but unseen.
      lockTimeoutMs + 10_000,
    );
    const code = Number(rows?.[0]?.result);
    const spid = Number(rows?.[0]?.spid);
    if (!(code >= 0)) throw new SqlLockTimeoutError(`could not take the remediation lock on the instance (sp_getapplock returned ${code})`);
    if (!Number.isInteger(spid)) throw new Error("the instance did not report its session id");
    try {
      return await work((statements) => this.runGuarded(statements, spid));
    } finally {
      await this.run("EXEC sp_releaseapplock @Resource = @resource, @LockOwner = 'Session';", [{ name: "resource", type: TYPES.NVarChar, value: APPLOCK_RESOURCE, length: 255 }]).catch(
        () => undefined,
      );
    }
  }

  /**
   * Each statement in its own batch, first checking that it still runs on the locking session (a dropped
   * connection would silently lose the lock). Stops at the first error and reports it exactly; earlier
   * statements stay applied, since audit state changes cannot run inside a user transaction.
   */
  private async runGuarded(statements: readonly string[], spid: number): Promise<number> {
    let applied = 0;
    for (const [index, statement] of statements.entries()) {
      const guarded = guardedStatement(spid, statement);
      try {
        await this.run(guarded);
      } catch (error) {
        throw toStatementError(error, index, statement);
      }
      applied++;
    }
    return applied;
  }

  /** The statements in order under the remediation lock. */
  async applyStatements(statements: readonly string[], lockTimeoutMs = 30_000): Promise<number> {
    return this.withRemediationLock((run) => run(statements), lockTimeoutMs);
  }

  async close(): Promise<void> {
    this.detach();
    if (this.connection.closed) return;
    await new Promise<void>((resolve) => {
      this.connection.once("end", () => resolve());
      this.connection.close();
    });
  }
}
