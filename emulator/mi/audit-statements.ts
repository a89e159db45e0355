import { randomUUID } from "node:crypto";
import type { SqlMessage, StatementOutcome } from "../sql/contracts.js";
import { auditStatus, type AuditObject } from "./catalog.js";
import { compileAuditPredicate } from "./audit-filter.js";
import { errors, sqlError } from "./errors.js";
import type { Statement } from "./parser.js";
import type { Env } from "./interpreter.js";
import type { SessionContext } from "./session-context.js";

/**
 * Audit semantics: CREATE/ALTER/DROP SERVER AUDIT [SPECIFICATION] with SQL Server's rules and error numbers, the
 * audit records those changes produce (AUDIT_CHANGE_GROUP, AUSC), and BACKUP/RESTORE with their physics (the
 * BACKUP_RESTORE_GROUP records a STARTED audit writes).
 */
export const AUDIT_CHANGE = "AUDIT_CHANGE_GROUP";
export const BACKUP_RESTORE = "BACKUP_RESTORE_GROUP";

export class AuditStatements {
  constructor(private readonly s: SessionContext) {}

  // ---------------------------------------------------------------------------------------------- audit DDL
  /** 15247 without ALTER ANY SERVER AUDIT; the refused attempt is recorded (succeeded = false) by AUDIT_CHANGE_GROUP audits. */
  private requireAuditPermission(stmt: Statement, classType: "A" | "SA", objectName: string): void {
    if (this.s.engine.hasPermission(this.s.principal, "ALTER ANY SERVER AUDIT")) return;
    const verb = stmt.kind.startsWith("create") ? "CR" : stmt.kind.startsWith("alter") ? "AL" : "DR";
    for (const a of this.s.engine.recorders(AUDIT_CHANGE)) {
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
    this.s.engine.emit(audit, {
      action_id: actionId,
      action_name: actionName,
      class_type: classType,
      class_type_desc: classTypeDesc,
      succeeded,
      session_id: this.s.id,
      server_principal_name: this.s.principal.name,
      session_server_principal_name: this.s.principal.name,
      database_name: this.s.database,
      object_name: objectName,
      statement,
      client_ip: this.s.client.address,
      application_name: this.s.client.appName,
      host_name: this.s.client.hostName,
      sequence_number: 1,
    });
  }

  /**
   * Runs a change to audits or specifications and records it (AUDIT_CHANGE_GROUP) in every audit that records the
   * group before or after the change — so switching a specification off is still recorded by its own audit.
   */
  private changeAudited(statement: Statement, verb: "CR" | "AL" | "DR", classType: "A" | "SA", objectName: string, change: () => void, except?: AuditObject): void {
    const before = this.s.engine.recorders(AUDIT_CHANGE);
    change();
    const after = this.s.engine.recorders(AUDIT_CHANGE);
    const seen = new Set<number>();
    for (const a of [...before, ...after]) {
      if (seen.has(a.id) || a.id === except?.id) continue;
      seen.add(a.id);
      const name = verb === "CR" ? "CREATE" : verb === "AL" ? "ALTER" : "DROP";
      this.record(a, verb, name, classType, classType === "A" ? "SERVER AUDIT" : "SERVER AUDIT SPECIFICATION", statement.text, objectName);
    }
  }

  auditDdl(stmt: Extract<Statement, { kind: "createAudit" | "alterAudit" | "dropAudit" }>, env: Env): StatementOutcome {
    void env;
    this.requireAuditPermission(stmt, "A", stmt.name);
    const now = this.s.engine.clock();
    if (stmt.kind === "createAudit") {
      this.checkName(stmt.name);
      if (this.s.engine.findAudit(stmt.name)) throw errors.alreadyExists("server audit", stmt.name);
      this.checkQueueDelay(stmt.options.queueDelay);
      const predicate = stmt.predicate === undefined ? undefined : compileAuditPredicate(stmt.predicate).text;
      const guid = (stmt.options.auditGuid ?? randomUUID()).toUpperCase();
      if ([...this.s.engine.audits.values()].some((a) => a.guid === guid)) throw errors.alreadyExists("server audit", stmt.name);
      const id = this.s.engine.newAuditId();
      this.s.remember("audit", id);
      this.changeAudited(stmt, "CR", "A", stmt.name, () => {
        this.s.engine.audits.set(id, {
          id,
          name: stmt.name,
          guid,
          target: stmt.target.type === "URL" ? { type: "URL", path: stmt.target.path, retentionDays: stmt.target.retentionDays ?? stmt.options.retentionDays ?? 0 } : { type: "EXTERNAL_MONITOR" },
          enabled: false,
          queueDelay: stmt.options.queueDelay ?? 1000,
          onFailure: stmt.options.onFailure ?? "CONTINUE",
          operatorAudit: stmt.options.operatorAudit ?? false,
          ...(predicate !== undefined ? { predicate } : {}),
          principalId: this.s.engine.principalId(this.s.principal.name),
          createDate: now,
          modifyDate: now,
          statusTime: now,
        });
      });
      return { kind: "done" };
    }
    const audit = this.s.engine.findAudit(stmt.name);
    if (!audit) throw errors.doesNotExist(stmt.kind === "dropAudit" ? "drop" : "alter", "server audit", stmt.name);
    if (stmt.kind === "dropAudit") {
      if (audit.enabled) throw errors.needAuditDisabled();
      this.s.remember("audit", audit.id);
      this.changeAudited(stmt, "DR", "A", audit.name, () => this.s.engine.audits.delete(audit.id));
      return { kind: "done" };
    }
    const { state, ...rest } = stmt.options;
    if (state !== undefined) {
      if (Object.keys(rest).length > 0 || stmt.target || stmt.predicate !== undefined) throw errors.stateAlone();
      if (this.s.inTransaction) throw errors.notInTransaction("ALTER SERVER AUDIT");
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
      const other = this.s.engine.findAudit(stmt.newName);
      if (other && other.id !== audit.id) throw errors.alreadyExists("server audit", stmt.newName);
    }
    this.checkQueueDelay(rest.queueDelay);
    const predicate = stmt.predicate === undefined ? undefined : compileAuditPredicate(stmt.predicate).text;
    this.s.remember("audit", audit.id);
    this.changeAudited(stmt, "AL", "A", audit.name, () => {
      if (stmt.newName !== undefined) audit.name = stmt.newName;
      if (stmt.removeWhere) delete audit.predicate;
      if (predicate !== undefined) audit.predicate = predicate;
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

  specDdl(stmt: Extract<Statement, { kind: "createSpec" | "alterSpec" | "dropSpec" }>): StatementOutcome {
    this.requireAuditPermission(stmt, "SA", stmt.name);
    const now = this.s.engine.clock();
    const what = "server audit specification";
    if (stmt.kind === "createSpec") {
      this.checkName(stmt.name);
      if (this.s.engine.findSpec(stmt.name)) throw errors.alreadyExists(what, stmt.name);
      const audit = this.s.engine.findAudit(stmt.audit);
      if (!audit) throw errors.auditNotFound(stmt.audit);
      if (this.s.engine.specForAudit(audit.guid)) throw errors.specExistsForAudit(audit.name);
      if (stmt.state !== undefined && this.s.inTransaction) throw errors.notInTransaction("CREATE SERVER AUDIT SPECIFICATION");
      const id = this.s.engine.newSpecId();
      this.s.remember("spec", id);
      this.changeAudited(stmt, "CR", "SA", stmt.name, () => {
        this.s.engine.specs.set(id, { id, name: stmt.name, auditGuid: audit.guid, enabled: stmt.state ?? false, groups: [...new Set(stmt.add)], createDate: now, modifyDate: now });
      });
      return { kind: "done" };
    }
    const spec = this.s.engine.findSpec(stmt.name);
    if (!spec) throw errors.doesNotExist(stmt.kind === "dropSpec" ? "drop" : "alter", what, stmt.name);
    if (stmt.kind === "dropSpec") {
      if (spec.enabled) throw errors.dropEnabledSpec();
      this.s.remember("spec", spec.id);
      this.changeAudited(stmt, "DR", "SA", spec.name, () => this.s.engine.specs.delete(spec.id));
      return { kind: "done" };
    }
    const changesContent = stmt.add.length > 0 || stmt.drop.length > 0 || stmt.audit !== undefined;
    if (changesContent && spec.enabled) throw errors.specNeedsDisabled();
    let newAuditGuid: string | undefined;
    if (stmt.audit !== undefined) {
      const audit = this.s.engine.findAudit(stmt.audit);
      if (!audit) throw errors.auditNotFound(stmt.audit);
      const bound = this.s.engine.specForAudit(audit.guid);
      if (bound && bound.id !== spec.id) throw errors.specExistsForAudit(audit.name);
      newAuditGuid = audit.guid;
    }
    if (stmt.state !== undefined && stmt.state !== spec.enabled && this.s.inTransaction) throw errors.notInTransaction("ALTER SERVER AUDIT SPECIFICATION");
    this.s.remember("spec", spec.id);
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
  backupRestore(stmt: Extract<Statement, { kind: "backup" | "restore" }>): StatementOutcome {
    // MI: differential and log backups are not supported (T-SQL differences page).
    if (stmt.kind === "backup" && stmt.log) throw errors.notSupported("LOG");
    const privileged = this.s.engine.hasPermission(this.s.principal, "CONTROL SERVER");
    const backup = stmt.kind === "backup";
    // A permission failure is itself audited (succeeded = false), as audited_result SUCCESS AND FAILURE implies.
    const recordEvent = (database: string, succeeded: boolean): void => {
      for (const audit of this.s.engine.recorders(BACKUP_RESTORE)) {
        this.s.engine.emit(audit, {
          action_id: backup ? "BA" : "RS",
          action_name: backup ? "BACKUP" : "RESTORE",
          class_type: "DB",
          class_type_desc: "DATABASE",
          succeeded,
          session_id: this.s.id,
          server_principal_name: this.s.principal.name,
          session_server_principal_name: this.s.principal.name,
          database_name: database,
          object_name: database,
          statement: stmt.text.slice(0, 4000),
          client_ip: this.s.client.address,
          application_name: this.s.client.appName,
          host_name: this.s.client.hostName,
          sequence_number: 1,
        });
      }
    };
    let database: string;
    if (stmt.kind === "backup") {
      const db = this.s.engine.findDatabase(stmt.database);
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
      if (this.s.engine.findDatabase(stmt.database)) throw errors.databaseExists(stmt.database);
      this.checkName(stmt.database);
      this.s.engine.addDatabase(stmt.database);
      database = stmt.database;
    }
    recordEvent(database, true);
    const info: SqlMessage = backup
      ? { number: 3014, state: 1, class: 0, message: `BACKUP DATABASE successfully processed 0 pages in 0.001 seconds (0.000 MB/sec).`, lineNumber: stmt.line }
      : { number: 3014, state: 1, class: 0, message: `RESTORE DATABASE successfully processed 0 pages in 0.001 seconds (0.000 MB/sec).`, lineNumber: stmt.line };
    return { kind: "done", infos: [info] };
  }
}
