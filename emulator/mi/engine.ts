import { createHash, randomUUID } from "node:crypto";
import type {
  ExecuteRequest,
  LoginRequest,
  LoginResult,
  Principal,
  ResultSet,
  SqlAuditRecord,
  SqlEngine,
  SqlMessage,
  SqlSession,
  SqlValue,
  StatementOutcome,
} from "../sql/contracts.js";
import { AppLockManager, lockModes, type LockMode } from "./applock.js";
import { auditStatus, views, type AuditObject, type CatalogContext, type LoginRow, type SpecObject } from "./catalog.js";
import { errors, sqlError, TsqlError } from "./errors.js";
import { parseBatch, type Expr, type Statement } from "./parser.js";
import { miStateSchema, serverPermissions, type MiLogin, type MiState, type MiStateInput, type ServerPermission } from "./state-schema.js";
import { compare, convert, likeToRegExp, T, toText, typeOfValue, type Typed } from "./values.js";

export interface ManagedInstanceEngineOptions {
  /** The instance's FQDN, e.g. mi-prod-01.7f3c9a2b1d4e.database.windows.net (@@SERVERNAME). */
  serverName: string;
  /** The fleet file's `sql:` block (validated here by miStateSchema) or an already-parsed state. */
  state?: MiStateInput | MiState;
  now?: () => Date;
  /** Called once per audit record, per STARTED audit whose enabled specification holds the event's group. */
  onAuditRecord?: (record: SqlAuditRecord) => void;
  /** The tenant's Microsoft Entra directory, for CREATE LOGIN … FROM EXTERNAL PROVIDER. None: no Entra login can be created. */
  directory?: readonly DirectoryObject[];
}

export interface DirectoryObject {
  displayName: string;
  objectId: string;
  /** Applications and managed identities: the token's appid claim, which their login is matched by. */
  appId?: string;
}

const SYSTEM_DATABASES = ["master", "tempdb", "model", "msdb"];
const AUDIT_CHANGE = "AUDIT_CHANGE_GROUP";
const BACKUP_RESTORE = "BACKUP_RESTORE_GROUP";
/** Errors that end the whole batch rather than the statement (conversion, undeclared variables). */
const BATCH_ABORTING = new Set([245, 137, 134]);

function guidFrom(text: string): string {
  const h = createHash("sha1").update(text).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`.toUpperCase();
}

/** A Managed Instance's T-SQL behaviour: logins, sessions, the audit catalog, audit DDL, BACKUP/RESTORE physics. */
export class ManagedInstanceEngine implements SqlEngine {
  readonly serverName: string;
  readonly state: MiState;
  readonly locks = new AppLockManager();
  private readonly now: () => Date;
  private readonly onAuditRecord: ((record: SqlAuditRecord) => void) | undefined;
  private readonly logins: MiLogin[];
  private readonly loginCreated = new Map<string, Date>();
  /** principal_id by login name: fleet logins 259, 260, … in order, created ones after them. */
  private readonly loginIds = new Map<string, number>();
  private nextLoginId = 0;
  private readonly adminName: string | undefined;
  private readonly directory: readonly DirectoryObject[];
  private readonly started: Date;
  private readonly databases: string[];
  readonly audits = new Map<number, AuditObject>();
  readonly specs = new Map<number, SpecObject>();
  private nextAuditId = 65536;
  private nextSpecId = 65536;
  private nextSessionId = 51;

  constructor(options: ManagedInstanceEngineOptions) {
    this.serverName = options.serverName;
    this.now = options.now ?? (() => new Date());
    this.onAuditRecord = options.onAuditRecord;
    this.state = miStateSchema.parse(options.state ?? {});
    this.directory = options.directory ?? [];
    this.started = this.now();
    const admin = this.state.entraAdmin;
    // Logins change (CREATE LOGIN, GRANT, REVOKE): the engine keeps its own copies; exportLogins() hands them back.
    this.logins = this.state.logins.map((l) => ({ ...l, permissions: [...l.permissions] }));
    if (admin && !this.logins.some((l) => l.name.toLowerCase() === admin.name.toLowerCase())) {
      this.adminName = admin.name;
      this.logins.push({ kind: "entra", ...admin, permissions: ["sysadmin"], disabled: false });
    }
    this.logins.forEach((l, i) => this.loginIds.set(l.name.toLowerCase(), 259 + i));
    this.nextLoginId = 259 + this.logins.length;
    this.databases = [...SYSTEM_DATABASES, ...this.state.databases.map((d) => d.name)];
    const start = this.now();
    for (const a of this.state.audits) {
      const id = this.nextAuditId++;
      const created = a.createDate ? new Date(a.createDate) : start;
      this.audits.set(id, {
        id,
        name: a.name,
        guid: (a.guid ?? guidFrom(`${this.serverName}/audit/${a.name}`)).toUpperCase(),
        target: a.target === "EXTERNAL_MONITOR" ? { type: "EXTERNAL_MONITOR" } : { type: "URL", path: a.target.path, retentionDays: a.target.retentionDays },
        enabled: a.enabled,
        queueDelay: a.queueDelay,
        onFailure: a.onFailure,
        operatorAudit: a.operatorAudit,
        ...(a.predicate !== undefined ? { predicate: a.predicate } : {}),
        ...(a.status !== undefined ? { statusOverride: a.status } : {}),
        principalId: this.principalId(a.createdBy),
        createDate: created,
        modifyDate: a.modifyDate ? new Date(a.modifyDate) : created,
        statusTime: start,
      });
    }
    for (const s of this.state.serverAuditSpecifications) {
      const id = this.nextSpecId++;
      const audit = this.findAudit(s.audit)!;
      const created = s.createDate ? new Date(s.createDate) : start;
      this.specs.set(id, {
        id,
        name: s.name,
        auditGuid: audit.guid,
        enabled: s.enabled,
        groups: [...new Set(s.actionGroups)],
        createDate: created,
        modifyDate: s.modifyDate ? new Date(s.modifyDate) : created,
      });
    }
  }

  // ---------------------------------------------------------------------------------------------- logins
  async login(request: LoginRequest, client: { address: string }): Promise<LoginResult> {
    void client;
    let login: MiLogin | undefined;
    if (request.kind === "sql") {
      login = this.logins.find((l) => l.kind === "sql" && l.name.toLowerCase() === request.userName.toLowerCase());
      // Compare passwords in constant time relative to their content; never echo either.
      if (!login || login.kind !== "sql" || login.disabled || !sameSecret(login.password, request.password)) {
        return { ok: false, error: errors.loginFailed(request.userName).sql };
      }
    } else {
      const { oid, appid } = request.claims;
      login = this.logins.find(
        (l) => l.kind === "entra" && !l.disabled && ((l.objectId && l.objectId.toLowerCase() === oid.toLowerCase()) || (appid && l.appId && l.appId.toLowerCase() === appid.toLowerCase())),
      );
      if (!login) return { ok: false, error: errors.loginFailed("<token-identified principal>").sql };
    }
    const requested = request.database || "master";
    const database = this.databases.find((d) => d.toLowerCase() === requested.toLowerCase());
    if (!database) return { ok: false, error: errors.cannotOpenDatabase(requested).sql };
    const principal: Principal = { kind: login.kind, name: login.name, ...(login.kind === "entra" && login.objectId ? { objectId: login.objectId } : {}) };
    return { ok: true, principal, database };
  }

  openSession(principal: Principal, database: string, client: { address: string; appName: string; hostName: string }): SqlSession {
    return new MiSession(this, this.nextSessionId++, principal, database, client);
  }

  // ---------------------------------------------------------------------------------------------- shared state
  findLogin(name: string): MiLogin | undefined {
    return this.logins.find((l) => l.name.toLowerCase() === name.toLowerCase());
  }

  hasPermission(principal: Principal, permission: ServerPermission): boolean {
    const login = this.findLogin(principal.name);
    if (!login) return false;
    const p = login.permissions;
    if (p.includes("sysadmin") || p.includes("CONTROL SERVER")) return true;
    if (permission === "VIEW SERVER STATE" && p.includes("VIEW SERVER SECURITY STATE")) return true;
    return p.includes(permission);
  }

  /** The logins as the fleet's `sql.logins` writes them (the Entra admin stays in `entraAdmin`). */
  exportLogins(): MiState["logins"] {
    return this.logins.filter((l) => l.name !== this.adminName).map((l) => ({ ...l, permissions: [...l.permissions] }));
  }

  /** Sees every login with VIEW ANY DEFINITION (or CONTROL SERVER, sysadmin); otherwise only its own. */
  loginRows(viewer: Principal): LoginRow[] {
    const all = this.hasPermission(viewer, "VIEW ANY DEFINITION") || this.hasPermission(viewer, "ALTER ANY LOGIN");
    return this.logins
      .filter((l) => all || l.name.toLowerCase() === viewer.name.toLowerCase())
      .map((l) => ({
        principalId: this.principalId(l.name),
        name: l.name,
        kind: l.kind,
        sid: sidOf(l),
        disabled: l.disabled,
        permissions: l.permissions.filter((p) => p !== "sysadmin"),
        createDate: this.loginCreated.get(l.name.toLowerCase()) ?? this.started,
      }));
  }

  /**
   * CREATE LOGIN. An Entra login needs an Entra-authenticated caller and a display name (or WITH OBJECT_ID) that the
   * directory resolves to exactly one object; its tokens are then matched by oid or, for applications, appid.
   */
  createLogin(by: Principal, stmt: Extract<Statement, { kind: "createLogin" }>): () => void {
    if (!this.hasPermission(by, "ALTER ANY LOGIN")) throw errors.noPermission();
    if (this.findLogin(stmt.name)) throw errors.loginExists(stmt.name);
    let login: MiLogin;
    if (stmt.source.kind === "sql") login = { kind: "sql", name: stmt.name, password: stmt.source.password, permissions: [], disabled: false };
    else {
      if (by.kind !== "entra") throw errors.entraOnly(stmt.name);
      const wanted = stmt.source.objectId?.toLowerCase();
      // Display names need not be unique in Entra ID; WITH OBJECT_ID names the object itself.
      const found = this.directory.filter((o) => (wanted ? o.objectId.toLowerCase() === wanted : o.displayName.toLowerCase() === stmt.name.toLowerCase()));
      if (found.length === 0) throw errors.principalNotFound(stmt.name);
      if (found.length > 1) throw errors.duplicateDisplayName(stmt.name);
      const o = found[0]!;
      login = { kind: "entra", name: stmt.name, objectId: o.objectId, ...(o.appId ? { appId: o.appId } : {}), permissions: [], disabled: false };
    }
    this.logins.push(login);
    this.loginIds.set(stmt.name.toLowerCase(), this.nextLoginId++);
    this.loginCreated.set(stmt.name.toLowerCase(), this.now());
    return () => {
      const i = this.logins.indexOf(login);
      if (i >= 0) this.logins.splice(i, 1);
      // Ids are not reused, as on a real server: the logins created after this one keep theirs.
      this.loginIds.delete(stmt.name.toLowerCase());
      this.loginCreated.delete(stmt.name.toLowerCase());
    };
  }

  /** GRANT / REVOKE of server permissions; REVOKE of a permission never granted, like a repeated GRANT, changes nothing. */
  changePermissions(by: Principal, stmt: Extract<Statement, { kind: "grant" | "revoke" }>): () => void {
    const grantable = serverPermissions.filter((p) => p !== "sysadmin") as string[];
    const unknown = stmt.permissions.find((p) => !grantable.includes(p));
    if (unknown) throw errors.syntax(unknown.split(" ")[0]!);
    const login = this.findLogin(stmt.principal);
    if (!login) throw errors.loginNotFound(stmt.principal);
    if (!this.hasPermission(by, "CONTROL SERVER")) throw errors.grantorLacks();
    const names = stmt.permissions as ServerPermission[];
    // The undo reverses only what this statement changed, so a rollback keeps what others committed meanwhile.
    const changed = stmt.kind === "grant" ? names.filter((p) => !login.permissions.includes(p)) : names.filter((p) => login.permissions.includes(p));
    login.permissions = stmt.kind === "grant" ? [...login.permissions, ...changed] : login.permissions.filter((p) => !changed.includes(p));
    return () => {
      login.permissions = stmt.kind === "grant" ? login.permissions.filter((p) => !changed.includes(p)) : [...login.permissions, ...changed.filter((p) => !login.permissions.includes(p))];
    };
  }

  principalId(loginName: string | undefined): number {
    return (loginName && this.loginIds.get(loginName.toLowerCase())) || 1;
  }

  findDatabase(name: string): string | undefined {
    return this.databases.find((d) => d.toLowerCase() === name.toLowerCase());
  }

  addDatabase(name: string): void {
    this.databases.push(name);
  }

  findAudit(name: string): AuditObject | undefined {
    return [...this.audits.values()].find((a) => a.name.toLowerCase() === name.toLowerCase());
  }

  findSpec(name: string): SpecObject | undefined {
    return [...this.specs.values()].find((s) => s.name.toLowerCase() === name.toLowerCase());
  }

  specForAudit(guid: string): SpecObject | undefined {
    return [...this.specs.values()].find((s) => s.auditGuid === guid);
  }

  newAuditId(): number {
    return this.nextAuditId++;
  }
  newSpecId(): number {
    return this.nextSpecId++;
  }
  clock(): Date {
    return this.now();
  }

  catalog(viewer?: Principal): CatalogContext {
    return { audits: [...this.audits.values()], specs: [...this.specs.values()], logins: viewer ? this.loginRows(viewer) : [], typeCodes: this.state.auditTypeCodes };
  }

  /** Audits that would record an event of `group` right now: STARTED, with an enabled specification holding it. */
  recorders(group: string): AuditObject[] {
    return [...this.audits.values()].filter((a) => {
      if (auditStatus(a) !== "STARTED") return false;
      const spec = this.specForAudit(a.guid);
      return !!spec && spec.enabled && spec.groups.includes(group);
    });
  }

  emit(audit: AuditObject, record: Omit<SqlAuditRecord, "audit_name" | "event_id" | "server_instance_name" | "event_time">): void {
    if (!this.onAuditRecord) return;
    this.onAuditRecord({
      ...record,
      event_time: this.now(),
      event_id: randomUUID().toUpperCase(),
      server_instance_name: this.serverName.split(".")[0] ?? this.serverName,
      audit_name: audit.name,
    });
  }
}

/** An Entra login's SID is its application id (or object id) as GUID bytes; a SQL login's is derived from its name. */
function sidOf(l: MiLogin): Uint8Array {
  const guid = l.kind === "entra" ? (l.appId ?? l.objectId) : undefined;
  if (guid) {
    const hex = guid.replace(/-/g, "");
    // GUID byte order: the first three groups little-endian, as uniqueidentifier travels.
    const b = Buffer.from(hex, "hex");
    return Uint8Array.from([b[3]!, b[2]!, b[1]!, b[0]!, b[5]!, b[4]!, b[7]!, b[6]!, ...b.subarray(8)]);
  }
  return Uint8Array.from(createHash("sha1").update(`login:${l.name.toLowerCase()}`).digest().subarray(0, 16));
}

function sameSecret(a: string, b: string): boolean {
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return x.equals(y);
}

interface Transaction {
  depth: number;
  undo: (() => void)[];
}

type Row = Map<string, { view: string; values: SqlValue[] } | null>;

interface Env {
  vars: Map<string, Typed>;
  params: ReadonlyMap<string, SqlValue>;
  /** How deep in EXEC (@sql) this batch runs: SQL Server stops at 32 (error 217). */
  depth?: number;
  row?: Row;
  sources?: { alias: string; view: string }[];
}

class MiSession implements SqlSession {
  private tran: Transaction | undefined;
  private closed = false;
  /** SET LOCK_TIMEOUT (ms, -1 = wait forever): sp_getapplock's default timeout, as @@LOCK_TIMEOUT. */
  private lockTimeout = -1;
  private xactAbort = false;

  constructor(
    private readonly engine: ManagedInstanceEngine,
    readonly id: number,
    readonly principal: Principal,
    readonly database: string,
    private readonly client: { address: string; appName: string; hostName: string },
  ) {}

  get inTransaction(): boolean {
    return this.tran !== undefined;
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
          const branch = this.truth(stmt.condition, env) === true ? stmt.then : stmt.else;
          if (branch && !(await this.runAll([branch], env, signal, out))) return false;
        } else if (stmt.kind === "execDynamic") {
          if (!(await this.execDynamic(stmt, env, signal, out))) return false;
        } else out.push(await this.run(stmt, env, signal));
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
    const sql = this.eval(stmt.sql, env).value;
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
  private remember(kind: "audit" | "spec", id: number): void {
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
        return { kind: "rows", resultSet: this.select(stmt, env) };
      case "declare":
        for (const v of stmt.vars) {
          const key = v.name.toLowerCase();
          if (env.vars.has(key)) throw errors.alreadyDeclared(v.name);
          env.vars.set(key, { type: v.type, value: v.init ? convert(this.eval(v.init, env), v.type).value : null });
        }
        return { kind: "done" };
      case "set": {
        const target = env.vars.get(stmt.name.toLowerCase());
        if (!target) throw errors.mustDeclare(stmt.name);
        env.vars.set(stmt.name.toLowerCase(), convert(this.eval(stmt.expr, env), target.type));
        return { kind: "done" };
      }
      case "setOption":
        return this.setOption(stmt);
      case "print": {
        const text = toText(this.eval(stmt.expr, env).value);
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
        const number = convert(this.eval(stmt.number, env), T.int).value as number | null;
        const message = toText(this.eval(stmt.message, env).value);
        const state = convert(this.eval(stmt.state, env), T.int).value as number | null;
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
        return this.auditDdl(stmt, env);
      case "createSpec":
      case "alterSpec":
      case "dropSpec":
        return this.specDdl(stmt);
      case "backup":
      case "restore":
        return this.backupRestore(stmt);
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

  // ---------------------------------------------------------------------------------------------- SELECT
  private select(stmt: Extract<Statement, { kind: "select" }>, env: Env): ResultSet {
    const sources: { alias: string; view: string }[] = [];
    const resolve = (t: { schema: string; name: string; alias: string }): string => {
      const view = t.name.toLowerCase();
      if (t.schema.toLowerCase() !== "sys" || !(view in views)) throw errors.invalidObject(t.schema.toLowerCase() === "dbo" ? t.name : `${t.schema}.${t.name}`);
      if (view === "dm_server_audit_status" && !this.engine.hasPermission(this.principal, "VIEW SERVER STATE")) throw errors.viewServerState();
      if (sources.some((s) => s.alias.toLowerCase() === t.alias.toLowerCase())) {
        throw sqlError(1011, `The correlation name '${t.alias}' is specified multiple times in a FROM clause.`, 16);
      }
      sources.push({ alias: t.alias, view });
      return view;
    };
    // Metadata visibility: without these permissions the audit views are simply empty, as on a real server; the
    // principal views filter their own rows (a login always sees itself).
    const canSee = this.engine.hasPermission(this.principal, "ALTER ANY SERVER AUDIT") || this.engine.hasPermission(this.principal, "VIEW ANY DEFINITION");
    const viewRows = (view: string): SqlValue[][] =>
      view === "server_principals" || view === "server_permissions" || canSee || view === "dm_server_audit_status" ? views[view]!.rows(this.engine.catalog(this.principal)) : [];

    let rows: Row[] = [new Map()];
    if (stmt.from) {
      const v = resolve(stmt.from);
      rows = viewRows(v).map((values) => new Map([[stmt.from!.alias.toLowerCase(), { view: v, values }]]));
    }
    const scope = (row: Row): Env => ({ ...env, row, sources });
    for (const j of stmt.joins) {
      const v = resolve(j.table);
      const right = viewRows(v);
      const next: Row[] = [];
      for (const left of rows) {
        let matched = false;
        for (const values of right) {
          const candidate = new Map(left).set(j.table.alias.toLowerCase(), { view: v, values });
          if (this.truth(j.on, scope(candidate)) === true) {
            matched = true;
            next.push(candidate);
          }
        }
        if (!matched && j.type === "LEFT") next.push(new Map(left).set(j.table.alias.toLowerCase(), null));
      }
      rows = next;
    }
    if (stmt.where) rows = rows.filter((r) => this.truth(stmt.where!, scope(r)) === true);

    // Expand the select list into named expressions.
    const items: { name: string; expr: Expr }[] = [];
    for (const item of stmt.items) {
      if (item.kind === "star") {
        const chosen = item.qualifier ? sources.filter((s) => s.alias.toLowerCase() === item.qualifier!.toLowerCase()) : sources;
        if (chosen.length === 0) throw item.qualifier ? sqlError(4104, `The multi-part identifier "${item.qualifier}" could not be bound.`, 16) : sqlError(263, "Must specify table to select from.", 16);
        for (const s of chosen) for (const c of views[s.view]!.columns) items.push({ name: c.name, expr: { kind: "column", qualifier: s.alias, name: c.name } });
      } else {
        const e = item.expr!;
        items.push({ name: item.alias ?? (e.kind === "column" ? e.name : ""), expr: e });
      }
    }
    // Column types come from evaluating against an all-NULL row, so an empty result still has real metadata.
    const nullRow: Row = new Map(sources.map((s) => [s.alias.toLowerCase(), { view: s.view, values: views[s.view]!.columns.map(() => null) }]));
    const columns = items.map((i) => {
      const col = i.expr.kind === "column" ? this.columnDef(i.expr, scope(nullRow)) : undefined;
      if (i.expr.kind === "call" && i.expr.name === "COUNT") return { name: i.name, type: T.int, nullable: false };
      return { name: i.name, type: col?.type ?? this.eval(i.expr, scope(nullRow)).type, nullable: col?.nullable ?? true };
    });

    // COUNT(*) / COUNT(expr) without GROUP BY: one row over the filtered rows.
    const isCount = (e: Expr): boolean => e.kind === "call" && e.name === "COUNT";
    if (items.some((i) => isCount(i.expr))) {
      const bad = items.find((i) => !isCount(i.expr) && i.expr.kind === "column");
      if (bad) throw sqlError(8120, `Column '${bad.expr.kind === "column" ? bad.expr.name : ""}' is invalid in the select list because it is not contained in either an aggregate function or the GROUP BY clause.`, 16);
      const row = items.map((i) => {
        if (!isCount(i.expr)) return this.eval(i.expr, env).value;
        const arg = (i.expr as Extract<Expr, { kind: "call" }>).args[0]!;
        return rows.filter((r) => this.eval(arg, scope(r)).value !== null).length;
      });
      return { columns, rows: [row] };
    }
    if (stmt.orderBy.length > 0) {
      const keyed = rows.map((r) => ({
        r,
        keys: stmt.orderBy.map((o) => {
          // ORDER BY 2 means the second select-list column.
          const e = o.expr.kind === "literal" && typeof o.expr.value === "number" ? (items[o.expr.value - 1]?.expr ?? o.expr) : o.expr;
          const aliasHit = e.kind === "column" && !e.qualifier ? items.find((i) => i.name.toLowerCase() === e.name.toLowerCase() && !(i.expr.kind === "column" && i.expr.name === e.name && i.expr.qualifier === undefined)) : undefined;
          return this.eval(aliasHit ? aliasHit.expr : e, scope(r)).value;
        }),
      }));
      keyed.sort((a, b) => {
        for (let i = 0; i < stmt.orderBy.length; i++) {
          const x = a.keys[i]!;
          const y = b.keys[i]!;
          const c = x === null && y === null ? 0 : x === null ? -1 : y === null ? 1 : (compare(x, y) ?? 0);
          if (c !== 0) return stmt.orderBy[i]!.desc ? -c : c;
        }
        return 0;
      });
      rows = keyed.map((k) => k.r);
    }
    if (stmt.top) {
      const n = convert(this.eval(stmt.top, env), T.bigint).value as number;
      rows = rows.slice(0, Math.max(0, n));
    }
    return { columns, rows: rows.map((r) => items.map((i, k) => convert(this.eval(i.expr, scope(r)), columns[k]!.type).value)) };
  }

  private lookupColumn(e: { qualifier?: string; name: string }, env: Env): { index: number; view: string; alias: string } {
    const sources = env.sources ?? [];
    const hits: { index: number; view: string; alias: string }[] = [];
    for (const s of sources) {
      if (e.qualifier && s.alias.toLowerCase() !== e.qualifier.toLowerCase()) continue;
      const index = views[s.view]!.columns.findIndex((c) => c.name.toLowerCase() === e.name.toLowerCase());
      if (index >= 0) hits.push({ index, view: s.view, alias: s.alias });
    }
    if (e.qualifier && !sources.some((s) => s.alias.toLowerCase() === e.qualifier!.toLowerCase())) {
      throw sqlError(4104, `The multi-part identifier "${e.qualifier}.${e.name}" could not be bound.`, 16);
    }
    if (hits.length === 0) throw errors.invalidColumn(e.name);
    if (hits.length > 1) throw errors.ambiguousColumn(e.name);
    return hits[0]!;
  }

  private columnDef(e: { qualifier?: string; name: string }, env: Env) {
    const hit = this.lookupColumn(e, env);
    return views[hit.view]!.columns[hit.index]!;
  }

  // ---------------------------------------------------------------------------------------------- expressions
  private truth(e: Expr, env: Env): boolean | null {
    switch (e.kind) {
      case "binary":
        if (e.op === "AND") {
          const a = this.truth(e.left, env);
          if (a === false) return false;
          const b = this.truth(e.right, env);
          return b === false ? false : a === null || b === null ? null : true;
        }
        if (e.op === "OR") {
          const a = this.truth(e.left, env);
          if (a === true) return true;
          const b = this.truth(e.right, env);
          return b === true ? true : a === null || b === null ? null : false;
        }
        if (e.op === "LIKE") {
          const a = this.eval(e.left, env).value;
          const b = this.eval(e.right, env).value;
          if (a === null || b === null) return null;
          return likeToRegExp(toText(b)).test(toText(a));
        }
        if (["=", "<>", "<", ">", "<=", ">="].includes(e.op)) {
          const c = compare(this.eval(e.left, env).value, this.eval(e.right, env).value);
          if (c === null) return null;
          return e.op === "=" ? c === 0 : e.op === "<>" ? c !== 0 : e.op === "<" ? c < 0 : e.op === ">" ? c > 0 : e.op === "<=" ? c <= 0 : c >= 0;
        }
        break;
      case "unary":
        if (e.op === "NOT") {
          const a = this.truth(e.expr, env);
          return a === null ? null : !a;
        }
        break;
      case "isnull": {
        const isNull = this.eval(e.expr, env).value === null;
        return e.not ? !isNull : isNull;
      }
      case "in": {
        const v = this.eval(e.expr, env).value;
        let unknown = v === null;
        let found = false;
        for (const item of e.list) {
          const c = compare(v, this.eval(item, env).value);
          if (c === null) unknown = true;
          else if (c === 0) found = true;
        }
        const r = found ? true : unknown ? null : false;
        return e.not ? (r === null ? null : !r) : r;
      }
      default:
        break;
    }
    throw errors.syntax(e.kind === "binary" ? e.op : "=");
  }

  private eval(e: Expr, env: Env): Typed {
    switch (e.kind) {
      case "literal":
        if (e.value === null) return { type: T.int, value: null };
        if (typeof e.value === "number") return { type: Number.isInteger(e.value) && Math.abs(e.value) < 2 ** 31 ? T.int : T.float, value: e.value };
        return { type: e.national ? T.nvarchar(Math.max(1, e.value.length)) : { kind: "varchar", length: Math.max(1, e.value.length) }, value: e.value };
      case "var": {
        const v = env.vars.get(e.name.toLowerCase());
        if (v) return v;
        const key = [...env.params.keys()].find((k) => k.toLowerCase() === e.name.toLowerCase());
        if (key !== undefined) {
          const value = env.params.get(key) ?? null;
          return { type: typeOfValue(value), value };
        }
        throw errors.mustDeclare(e.name);
      }
      case "sysvar":
        return this.sysvar(e.name);
      case "column": {
        const hit = this.lookupColumn(e, env);
        const entry = env.row?.get(hit.alias.toLowerCase());
        const type = views[hit.view]!.columns[hit.index]!.type;
        return { type, value: entry ? (entry.values[hit.index] ?? null) : null };
      }
      case "cast":
        return convert(this.eval(e.expr, env), e.type);
      case "unary": {
        if (e.op === "NOT") throw errors.syntaxKeyword("NOT");
        const v = this.eval(e.expr, env);
        return { type: v.type, value: v.value === null ? null : -Number(v.value) };
      }
      case "binary": {
        if (["+", "-", "*", "/"].includes(e.op)) {
          const a = this.eval(e.left, env);
          const b = this.eval(e.right, env);
          const stringy = (t: Typed): boolean => ["nvarchar", "varchar", "char"].includes(t.type.kind);
          if (e.op === "+" && stringy(a) && stringy(b)) {
            return { type: T.nvarchar(4000), value: a.value === null || b.value === null ? null : toText(a.value) + toText(b.value) };
          }
          if (a.value === null || b.value === null) return { type: T.int, value: null };
          const x = Number(convert(a, T.float).value);
          const y = Number(convert(b, T.float).value);
          if (e.op === "/" && y === 0) throw sqlError(8134, "Divide by zero error encountered.", 16);
          const r = e.op === "+" ? x + y : e.op === "-" ? x - y : e.op === "*" ? x * y : a.type.kind === "float" || b.type.kind === "float" ? x / y : Math.trunc(x / y);
          return { type: Number.isInteger(r) ? T.int : T.float, value: r };
        }
        const t = this.truth(e, env);
        // A predicate where a value is expected is a syntax error in T-SQL.
        void t;
        throw errors.syntax(e.op);
      }
      case "isnull":
      case "in":
        throw errors.syntaxKeyword(e.kind === "in" ? "IN" : "IS");
      case "call":
        return this.call(e.name, e.args, env);
    }
  }

  private sysvar(name: string): Typed {
    switch (name) {
      case "@@VERSION":
        return {
          type: T.nvarchar(300),
          value: `Microsoft SQL Azure (RTM) - 12.0.2000.8 \n\tOct  2 2026 12:00:00 \n\tCopyright (C) 2022 Microsoft Corporation\n`,
        };
      case "@@SERVERNAME":
        return { type: T.sysname, value: this.engine.serverName };
      case "@@SPID":
        return { type: T.smallint, value: this.id };
      case "@@LOCK_TIMEOUT":
        return { type: T.int, value: this.lockTimeout };
      case "@@TRANCOUNT":
        return { type: T.int, value: this.tran?.depth ?? 0 };
      // "@@MAX_PRECISION (Transact-SQL)": tinyint, 38 by default (jTDS reads it when it connects).
      case "@@MAX_PRECISION":
        return { type: T.tinyint, value: 38 };
      // "@@SERVICENAME (Transact-SQL)": nvarchar(128), MSSQLSERVER for a default instance [unverified on MI].
      case "@@SERVICENAME":
        return { type: T.nvarchar(128), value: "MSSQLSERVER" };
      default:
        throw errors.mustDeclare(name);
    }
  }

  private call(name: string, args: Expr[], env: Env): Typed {
    const arity = (n: number): void => {
      if (args.length !== n) throw sqlError(174, `The ${name.toLowerCase()} function requires ${n} argument(s).`, 15);
    };
    switch (name) {
      case "SERVERPROPERTY": {
        arity(1);
        const prop = toText(this.eval(args[0]!, env).value).toLowerCase();
        // Real servers return sql_variant; the contract has no variant type, so EngineEdition comes back as int and
        // the string properties as nvarchar(128). Clients should CAST (reference §1.8), which works either way.
        switch (prop) {
          case "engineedition":
            return { type: T.int, value: this.engine.state.engineEdition };
          case "edition":
            return { type: T.nvarchar(128), value: "SQL Azure" };
          case "productversion":
            return { type: T.nvarchar(128), value: "12.0.2000.8" };
          case "servername":
            return { type: T.nvarchar(128), value: this.engine.serverName };
          default:
            return { type: T.nvarchar(128), value: null };
        }
      }
      case "SUSER_SNAME":
      case "SUSER_NAME":
        if (args.length > 0) throw sqlError(174, `The ${name.toLowerCase()} function requires 0 argument(s).`, 15);
        return { type: T.nvarchar(128), value: this.principal.name };
      case "QUOTENAME": {
        if (args.length < 1 || args.length > 2) throw sqlError(174, "The quotename function requires 1 to 2 argument(s).", 15);
        const value = this.eval(args[0]!, env).value;
        const quote = args[1] ? toText(this.eval(args[1], env).value) : "[";
        const [open, close] = quote === "[" || quote === "]" ? ["[", "]"] : quote === '"' ? ['"', '"'] : quote === "'" ? ["'", "'"] : quote === "`" ? ["`", "`"] : [undefined, undefined];
        const text = value === null ? null : toText(value);
        // NULL for input longer than 128 characters or an unsupported quote, as documented.
        if (text === null || text.length > 128 || !open) return { type: T.nvarchar(258), value: null };
        return { type: T.nvarchar(258), value: `${open}${text.replaceAll(close!, close! + close!)}${close}` };
      }
      case "SUSER_ID": {
        if (args.length > 1) throw sqlError(174, "The suser_id function requires 0 to 1 argument(s).", 15);
        const name = args[0] ? this.eval(args[0], env).value : this.principal.name;
        const login = name === null ? undefined : this.engine.findLogin(toText(name));
        return { type: T.int, value: login ? this.engine.principalId(login.name) : null };
      }
      case "DB_NAME":
        if (args.length > 0) throw sqlError(174, "The db_name function requires 0 argument(s).", 15);
        return { type: T.nvarchar(128), value: this.database };
      case "HAS_PERMS_BY_NAME": {
        if (args.length < 3) throw sqlError(174, "The has_perms_by_name function requires 3 to 5 arguments.", 15);
        const securable = this.eval(args[0]!, env).value;
        const cls = this.eval(args[1]!, env).value;
        const perm = toText(this.eval(args[2]!, env).value).toUpperCase();
        if (securable !== null || (cls !== null && toText(cls).toUpperCase() !== "SERVER")) return { type: T.int, value: null };
        const known = ["ALTER ANY SERVER AUDIT", "CONTROL SERVER", "VIEW ANY DEFINITION", "VIEW SERVER STATE", "VIEW SERVER SECURITY STATE"];
        return { type: T.int, value: known.includes(perm) && this.engine.hasPermission(this.principal, perm as ServerPermission) ? 1 : 0 };
      }
      case "ISNULL": {
        arity(2);
        // A bare NULL has no type of its own; ISNULL(NULL, x) is x.
        if (args[0]!.kind === "literal" && args[0]!.value === null) return this.eval(args[1]!, env);
        const a = this.eval(args[0]!, env);
        return a.value !== null ? a : convert(this.eval(args[1]!, env), a.type);
      }
      case "COALESCE": {
        if (args.length < 2) throw sqlError(189, "The coalesce function requires 2 to 1 arguments.", 15);
        const vals = args.map((a) => this.eval(a, env));
        const first = vals.find((v) => v.value !== null);
        return first ?? { type: vals.find((v) => v.type.kind !== "int")?.type ?? vals[0]!.type, value: null };
      }
      case "GETUTCDATE":
      case "GETDATE":
        arity(0);
        return { type: T.datetime, value: this.engine.clock() };
      case "SYSUTCDATETIME":
        arity(0);
        return { type: T.datetime2, value: this.engine.clock() };
      case "UPPER":
      case "LOWER": {
        arity(1);
        const v = this.eval(args[0]!, env);
        return { type: T.nvarchar(4000), value: v.value === null ? null : name === "UPPER" ? toText(v.value).toUpperCase() : toText(v.value).toLowerCase() };
      }
      case "COUNT":
        throw sqlError(147, "An aggregate may not appear in the WHERE clause unless it is in a subquery contained in a HAVING clause or a select list, and the column being aggregated is an outer reference.", 15);
      case "LEN": {
        arity(1);
        const v = this.eval(args[0]!, env);
        return { type: T.int, value: v.value === null ? null : toText(v.value).replace(/ +$/, "").length };
      }
      default:
        throw errors.unknownFunction(name.toLowerCase());
    }
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
      args.set(key, this.eval(a.expr, env).value);
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
      const mode = lockModes.find((m) => m.toLowerCase() === modeText.toLowerCase()) as LockMode | undefined;
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

  // ---------------------------------------------------------------------------------------------- audit DDL
  /** 15247 without ALTER ANY SERVER AUDIT; the refused attempt is recorded (succeeded = false) by AUDIT_CHANGE_GROUP audits. */
  private requireAuditPermission(stmt: Statement, classType: "A" | "SA", objectName: string): void {
    if (this.engine.hasPermission(this.principal, "ALTER ANY SERVER AUDIT")) return;
    const verb = stmt.kind.startsWith("create") ? "CR" : stmt.kind.startsWith("alter") ? "AL" : "DR";
    for (const a of this.engine.recorders(AUDIT_CHANGE)) {
      this.record(a, verb, verb === "CR" ? "CREATE" : verb === "AL" ? "ALTER" : "DROP", classType, classType === "A" ? "SERVER AUDIT" : "SERVER AUDIT SPECIFICATION", stmt.text, objectName, false);
    }
    throw errors.noPermission();
  }

  private checkName(name: string): void {
    if (name.length > 128) throw sqlError(103, `The identifier that starts with '${name.slice(0, 128)}' is too long. Maximum length is 128.`, 15);
  }

  /** MI refuses QUEUE_DELAY 0 as well as 1–999; the number for 0 is [unverified] — we reuse 33227. */
  private checkQueueDelay(q: number | undefined): void {
    if (q !== undefined && q < 1000) throw errors.queueDelay();
  }

  private record(audit: AuditObject, actionId: string, actionName: string, classType: string, classTypeDesc: string, statement: string, objectName: string, succeeded = true): void {
    this.engine.emit(audit, {
      action_id: actionId,
      action_name: actionName,
      class_type: classType,
      class_type_desc: classTypeDesc,
      succeeded,
      session_id: this.id,
      server_principal_name: this.principal.name,
      session_server_principal_name: this.principal.name,
      database_name: this.database,
      object_name: objectName,
      statement,
      client_ip: this.client.address,
      application_name: this.client.appName,
      host_name: this.client.hostName,
      sequence_number: 1,
    });
  }

  /**
   * Runs a change to audits or specifications and records it (AUDIT_CHANGE_GROUP) in every audit that records the
   * group before or after the change — so switching a specification off is still recorded by its own audit.
   */
  private changeAudited(statement: Statement, verb: "CR" | "AL" | "DR", classType: "A" | "SA", objectName: string, change: () => void, except?: AuditObject): void {
    const before = this.engine.recorders(AUDIT_CHANGE);
    change();
    const after = this.engine.recorders(AUDIT_CHANGE);
    const seen = new Set<number>();
    for (const a of [...before, ...after]) {
      if (seen.has(a.id) || a.id === except?.id) continue;
      seen.add(a.id);
      const name = verb === "CR" ? "CREATE" : verb === "AL" ? "ALTER" : "DROP";
      this.record(a, verb, name, classType, classType === "A" ? "SERVER AUDIT" : "SERVER AUDIT SPECIFICATION", statement.text, objectName);
    }
  }

  private auditDdl(stmt: Extract<Statement, { kind: "createAudit" | "alterAudit" | "dropAudit" }>, env: Env): StatementOutcome {
    void env;
    this.requireAuditPermission(stmt, "A", stmt.name);
    const now = this.engine.clock();
    if (stmt.kind === "createAudit") {
      this.checkName(stmt.name);
      if (this.engine.findAudit(stmt.name)) throw errors.alreadyExists("server audit", stmt.name);
      this.checkQueueDelay(stmt.options.queueDelay);
      const guid = (stmt.options.auditGuid ?? randomUUID()).toUpperCase();
      if ([...this.engine.audits.values()].some((a) => a.guid === guid)) throw errors.alreadyExists("server audit", stmt.name);
      const id = this.engine.newAuditId();
      this.remember("audit", id);
      this.changeAudited(stmt, "CR", "A", stmt.name, () => {
        this.engine.audits.set(id, {
          id,
          name: stmt.name,
          guid,
          target: stmt.target.type === "URL" ? { type: "URL", path: stmt.target.path, retentionDays: stmt.target.retentionDays ?? stmt.options.retentionDays ?? 0 } : { type: "EXTERNAL_MONITOR" },
          enabled: false,
          queueDelay: stmt.options.queueDelay ?? 1000,
          onFailure: stmt.options.onFailure ?? "CONTINUE",
          operatorAudit: stmt.options.operatorAudit ?? false,
          ...(stmt.predicate !== undefined ? { predicate: stmt.predicate } : {}),
          principalId: this.engine.principalId(this.principal.name),
          createDate: now,
          modifyDate: now,
          statusTime: now,
        });
      });
      return { kind: "done" };
    }
    const audit = this.engine.findAudit(stmt.name);
    if (!audit) throw errors.doesNotExist(stmt.kind === "dropAudit" ? "drop" : "alter", "server audit", stmt.name);
    if (stmt.kind === "dropAudit") {
      if (audit.enabled) throw errors.needAuditDisabled();
      this.remember("audit", audit.id);
      this.changeAudited(stmt, "DR", "A", audit.name, () => this.engine.audits.delete(audit.id));
      return { kind: "done" };
    }
    const { state, ...rest } = stmt.options;
    if (state !== undefined) {
      if (Object.keys(rest).length > 0 || stmt.target || stmt.predicate !== undefined) throw errors.stateAlone();
      if (this.tran) throw errors.notInTransaction("ALTER SERVER AUDIT");
      if (state === audit.enabled) return { kind: "done" };
      // An audit records its own session change: the stop before it stops, the start once it has started.
      if (!state && auditStatus(audit) === "STARTED") this.record(audit, "AUSC", "AUDIT SESSION CHANGED", "A", "SERVER AUDIT", stmt.text, audit.name);
      this.changeAudited(
        stmt,
        "AL",
        "A",
        audit.name,
        () => {
          audit.enabled = state;
          delete audit.statusOverride;
          audit.statusTime = now;
          audit.modifyDate = now;
        },
        audit,
      );
      if (state) this.record(audit, "AUSC", "AUDIT SESSION CHANGED", "A", "SERVER AUDIT", stmt.text, audit.name);
      return { kind: "done" };
    }
    if (audit.enabled) throw errors.needAuditDisabled();
    if (stmt.newName !== undefined) {
      this.checkName(stmt.newName);
      const other = this.engine.findAudit(stmt.newName);
      if (other && other.id !== audit.id) throw errors.alreadyExists("server audit", stmt.newName);
    }
    this.checkQueueDelay(rest.queueDelay);
    this.remember("audit", audit.id);
    this.changeAudited(stmt, "AL", "A", audit.name, () => {
      if (stmt.newName !== undefined) audit.name = stmt.newName;
      if (stmt.removeWhere) delete audit.predicate;
      if (stmt.predicate !== undefined) audit.predicate = stmt.predicate;
      if (stmt.target) {
        audit.target = stmt.target.type === "URL" ? { type: "URL", path: stmt.target.path, retentionDays: stmt.target.retentionDays ?? rest.retentionDays ?? 0 } : { type: "EXTERNAL_MONITOR" };
      } else if (rest.retentionDays !== undefined && audit.target.type === "URL") audit.target.retentionDays = rest.retentionDays;
      if (rest.queueDelay !== undefined) audit.queueDelay = rest.queueDelay;
      if (rest.onFailure !== undefined) audit.onFailure = rest.onFailure;
      if (rest.operatorAudit !== undefined) audit.operatorAudit = rest.operatorAudit;
      if (rest.auditGuid !== undefined) throw errors.syntax("AUDIT_GUID");
      audit.modifyDate = now;
    });
    return { kind: "done" };
  }

  private specDdl(stmt: Extract<Statement, { kind: "createSpec" | "alterSpec" | "dropSpec" }>): StatementOutcome {
    this.requireAuditPermission(stmt, "SA", stmt.name);
    const now = this.engine.clock();
    const what = "server audit specification";
    if (stmt.kind === "createSpec") {
      this.checkName(stmt.name);
      if (this.engine.findSpec(stmt.name)) throw errors.alreadyExists(what, stmt.name);
      const audit = this.engine.findAudit(stmt.audit);
      if (!audit) throw errors.auditNotFound(stmt.audit);
      if (this.engine.specForAudit(audit.guid)) throw errors.specExistsForAudit(audit.name);
      if (stmt.state !== undefined && this.tran) throw errors.notInTransaction("CREATE SERVER AUDIT SPECIFICATION");
      const id = this.engine.newSpecId();
      this.remember("spec", id);
      this.changeAudited(stmt, "CR", "SA", stmt.name, () => {
        this.engine.specs.set(id, { id, name: stmt.name, auditGuid: audit.guid, enabled: stmt.state ?? false, groups: [...new Set(stmt.add)], createDate: now, modifyDate: now });
      });
      return { kind: "done" };
    }
    const spec = this.engine.findSpec(stmt.name);
    if (!spec) throw errors.doesNotExist(stmt.kind === "dropSpec" ? "drop" : "alter", what, stmt.name);
    if (stmt.kind === "dropSpec") {
      this.remember("spec", spec.id);
      this.changeAudited(stmt, "DR", "SA", spec.name, () => this.engine.specs.delete(spec.id));
      return { kind: "done" };
    }
    const changesContent = stmt.add.length > 0 || stmt.drop.length > 0 || stmt.audit !== undefined;
    if (changesContent && spec.enabled) throw errors.specNeedsDisabled();
    let newAuditGuid: string | undefined;
    if (stmt.audit !== undefined) {
      const audit = this.engine.findAudit(stmt.audit);
      if (!audit) throw errors.auditNotFound(stmt.audit);
      const bound = this.engine.specForAudit(audit.guid);
      if (bound && bound.id !== spec.id) throw errors.specExistsForAudit(audit.name);
      newAuditGuid = audit.guid;
    }
    if (stmt.state !== undefined && stmt.state !== spec.enabled && this.tran) throw errors.notInTransaction("ALTER SERVER AUDIT SPECIFICATION");
    this.remember("spec", spec.id);
    this.changeAudited(stmt, "AL", "SA", spec.name, () => {
      if (newAuditGuid) spec.auditGuid = newAuditGuid;
      for (const g of stmt.add) if (!spec.groups.includes(g)) spec.groups.push(g);
      spec.groups = spec.groups.filter((g) => !stmt.drop.includes(g));
      if (stmt.state !== undefined) spec.enabled = stmt.state;
      spec.modifyDate = now;
    });
    return { kind: "done" };
  }

  // ---------------------------------------------------------------------------------------------- BACKUP / RESTORE
  private backupRestore(stmt: Extract<Statement, { kind: "backup" | "restore" }>): StatementOutcome {
    // MI: differential and log backups are not supported (T-SQL differences page).
    if (stmt.kind === "backup" && stmt.log) throw errors.notSupported("LOG");
    const privileged = this.engine.hasPermission(this.principal, "CONTROL SERVER");
    const backup = stmt.kind === "backup";
    // A permission failure is itself audited (succeeded = false), as audited_result SUCCESS AND FAILURE implies.
    const recordEvent = (database: string, succeeded: boolean): void => {
      for (const audit of this.engine.recorders(BACKUP_RESTORE)) {
        this.engine.emit(audit, {
          action_id: backup ? "BA" : "RS",
          action_name: backup ? "BACKUP" : "RESTORE",
          class_type: "DB",
          class_type_desc: "DATABASE",
          succeeded,
          session_id: this.id,
          server_principal_name: this.principal.name,
          session_server_principal_name: this.principal.name,
          database_name: database,
          object_name: database,
          statement: stmt.text.slice(0, 4000),
          client_ip: this.client.address,
          application_name: this.client.appName,
          host_name: this.client.hostName,
          sequence_number: 1,
        });
      }
    };
    let database: string;
    if (stmt.kind === "backup") {
      const db = this.engine.findDatabase(stmt.database);
      if (!db) throw errors.databaseMissing(stmt.database);
      if (!privileged) {
        recordEvent(db, false);
        throw errors.backupDenied(db);
      }
      database = db;
    } else {
      if (!privileged) {
        recordEvent(stmt.database, false);
        throw errors.restoreDenied();
      }
      if (this.engine.findDatabase(stmt.database)) throw errors.databaseExists(stmt.database);
      this.checkName(stmt.database);
      this.engine.addDatabase(stmt.database);
      database = stmt.database;
    }
    recordEvent(database, true);
    const info: SqlMessage = backup
      ? { number: 3014, state: 1, class: 0, message: `BACKUP DATABASE successfully processed 0 pages in 0.001 seconds (0.000 MB/sec).`, lineNumber: stmt.line }
      : { number: 3014, state: 1, class: 0, message: `RESTORE DATABASE successfully processed 0 pages in 0.001 seconds (0.000 MB/sec).`, lineNumber: stmt.line };
    return { kind: "done", infos: [info] };
  }
}
