import { ConnectionDropped, type ExecuteRequest, type Principal, type SqlMessage, type SqlSession, type SqlValue, type StatementOutcome } from "../sql/contracts.js";
import { lockModes } from "./applock.js";
import { AuditStatements } from "./audit-statements.js";
import type { AuditObject, SpecObject } from "./catalog.js";
import type { ManagedInstanceEngine } from "./engine.js";
import { errors, injectedError, sqlError, TsqlError } from "./errors.js";
import { Interpreter, type Env } from "./interpreter.js";
import { parseBatch, type Statement } from "./parser.js";
import type { SessionContext } from "./session-context.js";
import { convert, T, toText } from "./values.js";

/**
 * One login's session: runs batches statement by statement as SQL Server does (run-time errors end the statement,
 * some end the batch), owns variables' scopes, control flow, the user transaction and session options, and hands
 * queries to the interpreter and audit statements to audit-statements.ts.
 */
interface Transaction {
  depth: number;
  undo: (() => void)[];
}

/** Errors that end the whole batch rather than the statement (conversion, undeclared variables). */
const BATCH_ABORTING = new Set([245, 137, 134]);

export class MiSession implements SqlSession, SessionContext {
  private tran: Transaction | undefined;
  private closed = false;
  /** SET LOCK_TIMEOUT (ms, -1 = wait forever): sp_getapplock's default timeout, as @@LOCK_TIMEOUT. */
  lockTimeout = -1;
  private xactAbort = false;
  private readonly sql: Interpreter;
  private readonly audit: AuditStatements;

  constructor(
    readonly engine: ManagedInstanceEngine,
    readonly id: number,
    readonly principal: Principal,
    public database: string,
    readonly client: { address: string; appName: string; hostName: string },
  ) {
    this.sql = new Interpreter(this);
    this.audit = new AuditStatements(this);
  }

  get inTransaction(): boolean {
    return this.tran !== undefined;
  }

  get tranCount(): number {
    return this.tran?.depth ?? 0;
  }

  async execute(request: ExecuteRequest): Promise<StatementOutcome[]> {
    let statements: Statement[];
    try {
      statements = parseBatch(request.sql);
    } catch (e) {
      if (e instanceof TsqlError) return [{ kind: "error", error: e.sql }];
      throw e;
    }
    const env: Env = { vars: new Map(), params: request.params };
    const out: StatementOutcome[] = [];
    await this.runAll(statements, env, request.signal, out);
    return out;
  }

  /**
   * Runs statements in order as a batch does: a run-time error ends its statement and the next one runs, unless it
   * ends the batch (conversion, undeclared variable, THROW, XACT_ABORT). Returns false when the batch has ended.
   */
  private async runAll(statements: readonly Statement[], env: Env, signal: AbortSignal, out: StatementOutcome[]): Promise<boolean> {
    for (const stmt of statements) {
      if (signal.aborted) return false;
      try {
        if (stmt.kind === "block") {
          if (!(await this.runAll(stmt.body, env, signal, out))) return false;
        } else if (stmt.kind === "if") {
          const branch = this.sql.truth(stmt.condition, env) === true ? stmt.then : stmt.else;
          if (branch && !(await this.runAll([branch], env, signal, out))) return false;
        } else if (stmt.kind === "execDynamic") {
          if (!(await this.execDynamic(stmt, env, signal, out))) return false;
        } else {
          const fault = this.engine.takeFault(stmt.text);
          if (fault?.error === "drop-connection") throw new ConnectionDropped(false);
          if (typeof fault?.error === "number") throw injectedError(fault.error, fault.message);
          out.push(await this.run(stmt, env, signal));
          if (fault?.error === "no-reply") throw new ConnectionDropped(true);
        }
      } catch (e) {
        if (!(e instanceof TsqlError)) throw e;
        // XACT_ABORT ON: a run-time error rolls the transaction back and ends the batch.
        if (this.xactAbort && this.tran) {
          this.rollback();
          out.push({ kind: "error", error: { ...e.sql, lineNumber: stmt.line }, transaction: "rollback" });
          return false;
        }
        out.push({ kind: "error", error: { ...e.sql, lineNumber: stmt.line } });
        if (BATCH_ABORTING.has(e.sql.number) || e.abortsBatch || this.xactAbort) return false;
      }
    }
    return true;
  }

  /**
   * EXEC (@sql): the string is a batch of its own, with its own variables, parsed when it runs. A syntax error in
   * it, or a statement-level error, is reported and the outer batch goes on; an error that ends a batch (THROW,
   * XACT_ABORT, conversion) ends the outer one too. Returns false when the outer batch must end.
   */
  private async execDynamic(stmt: Extract<Statement, { kind: "execDynamic" }>, env: Env, signal: AbortSignal, out: StatementOutcome[]): Promise<boolean> {
    const depth = (env.depth ?? 0) + 1;
    if (depth > 32) throw sqlError(217, "Maximum stored procedure, function, trigger, or view nesting level exceeded (limit 32).", 16);
    const sql = this.sql.eval(stmt.sql, env).value;
    if (sql === null) return true;
    let inner: Statement[];
    try {
      inner = parseBatch(toText(sql));
    } catch (e) {
      if (!(e instanceof TsqlError)) throw e;
      out.push({ kind: "error", error: e.sql });
      return true;
    }
    return this.runAll(inner, { vars: new Map(), params: new Map(), depth }, signal, out);
  }

  async beginTransaction(): Promise<StatementOutcome> {
    return this.begin();
  }
  async commitTransaction(): Promise<StatementOutcome> {
    return this.guard(() => this.commit());
  }
  async rollbackTransaction(): Promise<StatementOutcome> {
    return this.guard(() => this.rollback());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.tran) this.rollback();
    this.engine.locks.cancelWaits(this.id);
    this.engine.locks.releaseAll({ sessionId: this.id, type: "Session" });
    this.engine.locks.releaseAll({ sessionId: this.id, type: "Transaction" });
  }

  private guard(f: () => StatementOutcome): StatementOutcome {
    try {
      return f();
    } catch (e) {
      if (e instanceof TsqlError) return { kind: "error", error: e.sql };
      throw e;
    }
  }

  // ---------------------------------------------------------------------------------------------- transactions
  private begin(): StatementOutcome {
    if (this.tran) {
      this.tran.depth++;
      return { kind: "done" };
    }
    this.tran = { depth: 1, undo: [] };
    return { kind: "done", transaction: "begin" };
  }

  private commit(): StatementOutcome {
    if (!this.tran) throw errors.noTransaction("COMMIT");
    this.tran.depth--;
    if (this.tran.depth > 0) return { kind: "done" };
    this.tran = undefined;
    this.engine.locks.releaseAll({ sessionId: this.id, type: "Transaction" });
    return { kind: "done", transaction: "commit" };
  }

  private rollback(): StatementOutcome {
    if (!this.tran) throw errors.noTransaction("ROLLBACK");
    const undo = this.tran.undo;
    this.tran = undefined;
    for (const u of undo.reverse()) u();
    this.engine.locks.releaseAll({ sessionId: this.id, type: "Transaction" });
    return { kind: "done", transaction: "rollback" };
  }

  /** Remembers how to undo a catalog change if the user transaction rolls back (CREATE … is transactional). */
  remember(kind: "audit" | "spec", id: number): void {
    if (!this.tran) return;
    const map = (kind === "audit" ? this.engine.audits : this.engine.specs) as Map<number, AuditObject | SpecObject>;
    const prev = map.get(id);
    const copy = prev ? structuredClone(prev) : undefined;
    this.tran.undo.push(() => {
      if (copy) map.set(id, copy);
      else map.delete(id);
    });
  }

  // ---------------------------------------------------------------------------------------------- dispatch
  private async run(stmt: Statement, env: Env, signal: AbortSignal): Promise<StatementOutcome> {
    switch (stmt.kind) {
      case "select":
        return { kind: "rows", resultSet: this.sql.select(stmt, env) };
      case "use": {
        // "USE (Transact-SQL)": 911 for a database that does not exist; the client is told by ENVCHANGE and 5701.
        const database = this.engine.findDatabase(stmt.database);
        if (!database) throw errors.useMissingDatabase(stmt.database);
        const from = this.database;
        this.database = database;
        return { kind: "done", databaseChange: { from, to: database } };
      }
      case "createCredential":
      case "dropCredential": {
        const undo = stmt.kind === "createCredential" ? this.engine.createCredential(this.principal, stmt.name, stmt.identity, stmt.secret) : this.engine.dropCredential(this.principal, stmt.name);
        this.tran?.undo.push(undo);
        return { kind: "done" };
      }
      case "declare":
        for (const v of stmt.vars) {
          const key = v.name.toLowerCase();
          if (env.vars.has(key)) throw errors.alreadyDeclared(v.name);
          env.vars.set(key, { type: v.type, value: v.init ? convert(this.sql.eval(v.init, env), v.type).value : null });
        }
        return { kind: "done" };
      case "set": {
        const target = env.vars.get(stmt.name.toLowerCase());
        if (!target) throw errors.mustDeclare(stmt.name);
        env.vars.set(stmt.name.toLowerCase(), convert(this.sql.eval(stmt.expr, env), target.type));
        return { kind: "done" };
      }
      case "setOption":
        return this.setOption(stmt);
      case "print": {
        const text = toText(this.sql.eval(stmt.expr, env).value);
        return { kind: "done", infos: [{ number: 0, state: 1, class: 0, message: text, lineNumber: stmt.line }] };
      }
      case "if":
      case "block":
      case "execDynamic":
        throw new Error(`${stmt.kind} runs through runAll`);
      case "createLogin":
      case "grant":
      case "revoke": {
        const undo = stmt.kind === "createLogin" ? this.engine.createLogin(this.principal, stmt) : this.engine.changePermissions(this.principal, stmt);
        // CREATE LOGIN and GRANT take part in a user transaction: a rollback undoes them.
        this.tran?.undo.push(undo);
        return { kind: "done" };
      }
      case "throw": {
        const number = convert(this.sql.eval(stmt.number, env), T.int).value as number | null;
        const message = toText(this.sql.eval(stmt.message, env).value);
        const state = convert(this.sql.eval(stmt.state, env), T.int).value as number | null;
        if (number === null || number < 50000) throw sqlError(35100, `Error number ${number ?? "NULL"} in the THROW statement is outside the valid range. Specify an error number in the valid range of 50000 to 2147483647.`, 16);
        throw new TsqlError({ number, state: state ?? 1, class: 16, message, lineNumber: stmt.line }, true);
      }
      case "begin":
        return this.begin();
      case "commit":
        return this.commit();
      case "rollback":
        return this.rollback();
      case "exec":
        return this.exec(stmt, env, signal);
      case "createAudit":
      case "alterAudit":
      case "dropAudit":
        return this.audit.auditDdl(stmt, env);
      case "createSpec":
      case "alterSpec":
      case "dropSpec":
        return this.audit.specDdl(stmt);
      case "backup":
      case "restore":
        return this.audit.backupRestore(stmt);
    }
  }

  private setOption(stmt: Extract<Statement, { kind: "setOption" }>): StatementOutcome {
    const [option] = stmt.options;
    if (option === "LOCK_TIMEOUT") {
      const n = Number(stmt.value);
      if (!Number.isInteger(n)) throw errors.syntax(stmt.value);
      this.lockTimeout = n;
    } else if (stmt.options.includes("XACT_ABORT")) this.xactAbort = stmt.value === "ON";
    else if (option === "IMPLICIT_TRANSACTIONS" && stmt.value === "ON") throw errors.notSupported("IMPLICIT_TRANSACTIONS ON");
    return { kind: "done" };
  }


  // ---------------------------------------------------------------------------------------------- EXEC
  private async exec(stmt: Extract<Statement, { kind: "exec" }>, env: Env, signal: AbortSignal): Promise<StatementOutcome> {
    const proc = stmt.proc.toLowerCase();
    const names = proc === "sp_getapplock" ? ["@resource", "@lockmode", "@lockowner", "@locktimeout", "@dbprincipal"] : proc === "sp_releaseapplock" ? ["@resource", "@lockowner", "@dbprincipal"] : undefined;
    if (!names) throw errors.unknownProcedure(stmt.proc);
    const args = new Map<string, SqlValue>();
    stmt.args.forEach((a, i) => {
      const key = a.name ? a.name.toLowerCase() : names[i];
      if (!key || !names.includes(key)) throw sqlError(8145, `${a.name ?? "@" + i} is not a parameter for procedure ${stmt.proc}.`, 16);
      args.set(key, this.sql.eval(a.expr, env).value);
    });
    if (stmt.returnVar && !env.vars.has(stmt.returnVar.toLowerCase())) throw errors.mustDeclare(stmt.returnVar);
    const ownerText = args.has("@lockowner") ? toText(args.get("@lockowner") ?? null) : "Transaction";
    const ownerType = ownerText.toLowerCase() === "session" ? "Session" : ownerText.toLowerCase() === "transaction" ? "Transaction" : undefined;
    const resource = args.get("@resource");
    let rc: number;
    let error: TsqlError | undefined;
    let info: SqlMessage | undefined;
    if (resource === null || resource === undefined || !ownerType) rc = -999;
    else if (ownerType === "Transaction" && !this.tran) {
      rc = -999;
      if (proc === "sp_getapplock") info = { ...errors.applockNoTransaction(), lineNumber: stmt.line };
      else error = errors.applockNotHeld(toText(resource));
    } else if (proc === "sp_getapplock") {
      const modeText = toText(args.get("@lockmode") ?? null);
      const mode = lockModes.find((m) => m.toLowerCase() === modeText.toLowerCase());
      const timeoutValue = args.get("@locktimeout");
      const timeout = timeoutValue === undefined || timeoutValue === null ? this.lockTimeout : Number(timeoutValue);
      if (!mode || Number.isNaN(timeout)) rc = -999;
      else rc = await this.engine.locks.acquire(toText(resource).slice(0, 255), mode, { sessionId: this.id, type: ownerType }, timeout, signal);
    } else {
      rc = this.engine.locks.release(toText(resource).slice(0, 255), { sessionId: this.id, type: ownerType }) ? 0 : -999;
      if (rc === -999) error = errors.applockNotHeld(toText(resource));
    }
    if (stmt.returnVar) {
      const key = stmt.returnVar.toLowerCase();
      env.vars.set(key, convert({ type: T.int, value: rc }, env.vars.get(key)!.type));
    }
    if (error) throw error;
    return { kind: "done", ...(info ? { infos: [info] } : {}) };
  }

}
