import { createHash, randomUUID } from "node:crypto";
import type { LoginRequest, LoginResult, Principal, SqlAuditRecord, SqlEngine, SqlSession } from "../sql/contracts.js";
import { AppLockManager } from "./applock.js";
import { auditStatus, type AuditObject, type CatalogContext, type CredentialRow, type LoginRow, type SpecObject } from "./catalog.js";
import { auditFilterOf, compileAuditPredicate } from "./audit-filter.js";
import { errors } from "./errors.js";
import type { Statement } from "./parser.js";
import { MiSession } from "./session.js";
import { miStateSchema, serverPermissions, type MiStatementFault, type MiLogin, type MiState, type MiStateInput, type ServerPermission } from "./state-schema.js";

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
  private readonly faultsLeft = new Map<number, number>();
  private readonly databaseCreated = new Map<string, Date>();
  private readonly credentials = new Map<string, CredentialRow & { secret?: string }>();
  private nextCredentialId = 65536;

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
        ...(a.predicate !== undefined ? { predicate: compileAuditPredicate(a.predicate).text } : {}),
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

  /** The injected fault for a statement about to run, if any (sql.faults), counting down its `times`. */
  takeFault(statement: string): MiStatementFault | undefined {
    for (const [i, f] of this.state.faults.entries()) {
      const left = this.faultsLeft.get(i) ?? f.times ?? Infinity;
      if (left <= 0 || !new RegExp(f.statement, "i").test(statement)) continue;
      this.faultsLeft.set(i, left - 1);
      return f;
    }
    return undefined;
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
    this.databaseCreated.set(name.toLowerCase(), this.now());
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
    return {
      audits: [...this.audits.values()],
      specs: [...this.specs.values()],
      logins: viewer ? this.loginRows(viewer) : [],
      typeCodes: this.state.auditTypeCodes,
      serverName: this.serverName,
      databases: this.databases.map((name, i) => ({ id: i + 1, name, createDate: this.databaseCreated.get(name.toLowerCase()) ?? this.started })),
      credentials: [...this.credentials.values()].map(({ secret: _secret, ...shown }) => shown),
    };
  }

  /** database_id: master 1, tempdb 2, model 3, msdb 4, user databases after them in creation order. */
  databaseId(name: string): number | undefined {
    const i = this.databases.findIndex((d) => d.toLowerCase() === name.toLowerCase());
    return i < 0 ? undefined : i + 1;
  }

  databaseName(id: number): string | undefined {
    return this.databases[id - 1];
  }

  /** CREATE CREDENTIAL (needs ALTER ANY CREDENTIAL); the secret is kept here and shown nowhere. Returns the undo. */
  createCredential(by: Principal, name: string, identity: string, secret: string | undefined): () => void {
    if (!this.hasPermission(by, "ALTER ANY CREDENTIAL")) throw errors.noPermission();
    const key = name.toLowerCase();
    if (this.credentials.has(key)) throw errors.alreadyExists("credential", name);
    const now = this.now();
    this.credentials.set(key, { id: this.nextCredentialId++, name, identity, ...(secret !== undefined ? { secret } : {}), createDate: now, modifyDate: now });
    return () => this.credentials.delete(key);
  }

  dropCredential(by: Principal, name: string): () => void {
    if (!this.hasPermission(by, "ALTER ANY CREDENTIAL")) throw errors.noPermission();
    const key = name.toLowerCase();
    const existing = this.credentials.get(key);
    if (!existing) throw errors.doesNotExist("drop", "credential", name);
    this.credentials.delete(key);
    return () => this.credentials.set(key, existing);
  }

  /** Audits that would record an event of `group` right now: STARTED, with an enabled specification holding it. */
  recorders(group: string): AuditObject[] {
    return [...this.audits.values()].filter((a) => {
      if (auditStatus(a) !== "STARTED") return false;
      const spec = this.specForAudit(a.guid);
      return !!spec && spec.enabled && spec.groups.includes(group);
    });
  }

  /** Writes a record to `audit`, unless the audit's filter (WHERE predicate) excludes it. */
  emit(audit: AuditObject, record: Omit<SqlAuditRecord, "audit_name" | "event_id" | "server_instance_name" | "event_time">): void {
    if (!this.onAuditRecord) return;
    const full = { ...record, server_instance_name: this.serverName.split(".")[0] ?? this.serverName };
    if (audit.predicate !== undefined && !auditFilterOf(audit.predicate).accepts(full)) return;
    this.onAuditRecord({ ...full, event_time: this.now(), event_id: randomUUID().toUpperCase(), audit_name: audit.name });
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
