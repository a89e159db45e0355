import type { AuditTarget, ManagedInstanceSql, RemediationAction, SqlOperation, Target } from "../../core/domain.js";
import { renderStatement } from "../../core/sql-text/render.js";
import { SqlAuditConnection, SqlStatementError } from "../../azure/sql-audit.js";
import { managedInstances } from "../../azure/arm-resources.js";
import type { RawAuditCatalog } from "../../azure/sql-audit.js";
import { describeError, UntrustedTargetError } from "../../scan/errors.js";
import type { ScanEnvironment } from "../../scan/environment.js";
import type { Budget } from "../../scan/budget.js";
import { sleepUnder } from "../../scan/budget.js";
import { trustedSqlHost } from "../../scan/target-trust.js";
import { failure } from "../../scan/apply-outcome.js";
import type { ApplyOutcome } from "../../scan/apply-outcome.js";
import type { ApplyContext, KindAdapter } from "../adapter.js";
import { KIND } from "./id.js";

type FileAudit = RawAuditCatalog["fileAudits"][number];

/**
 * The audit's target, derived defensively from the type text (MI's type codes are undocumented data) and, for a
 * URL audit, its row in sys.server_file_audits: the container path it was given and its retention, if reported.
 */
export function auditTargetOf(typeDesc: string, file: FileAudit | undefined): AuditTarget {
  const desc = typeDesc.toUpperCase();
  if (desc.includes("EXTERNAL_MONITOR") || desc.includes("EXTERNAL MONITOR")) return { kind: "EXTERNAL_MONITOR" };
  if (desc.includes("URL") || (file?.logFilePath ?? "").toLowerCase().startsWith("https://")) {
    return { kind: "URL", path: file?.logFilePath ?? null, retentionDays: file?.retentionDays ?? null };
  }
  return { kind: "OTHER", description: typeDesc || "unknown" };
}

export function toManagedInstanceSql(raw: RawAuditCatalog): ManagedInstanceSql {
  const files = new Map(raw.fileAudits.map((f) => [f.auditId, f]));
  return {
    engineEdition: raw.server.engineEdition,
    loginName: raw.server.loginName,
    canAlterAudits: raw.server.canAlterAudits,
    audits: raw.audits.map((a) => {
      const file = files.get(a.auditId);
      return {
        name: a.name,
        auditGuid: a.auditGuid,
        type: a.type,
        typeDesc: a.typeDesc,
        target: auditTargetOf(a.typeDesc, file),
        isStateEnabled: a.isStateEnabled,
        queueDelay: a.queueDelay,
        onFailure: a.onFailureDesc,
        predicate: a.predicate,
        status: a.statusDesc,
        ...(file
          ? { file: { maxFileSize: file.maxFileSize, maxRolloverFiles: file.maxRolloverFiles, maxFiles: file.maxFiles, reservedDiskSpace: file.reservedDiskSpace, currentFile: a.auditFilePath } }
          : {}),
      };
    }),
    specifications: raw.specifications.map((s) => ({
      name: s.name,
      auditGuid: s.auditGuid,
      isStateEnabled: s.isStateEnabled,
      groups: raw.details.filter((d) => d.specificationId === s.id).map((d) => d.actionName),
    })),
  };
}

/**
 * Connection settings for a target's instance: only a host ARM reported for it and inside the cloud's Managed
 * Instance DNS zone ever gets the scanner's Entra token. Timeouts stay inside what is left of the target's budget.
 */
export function sqlTargetOf(env: ScanEnvironment, target: Target, remainingMs = env.baseline.scan.targetTimeoutSeconds * 1000) {
  const host = trustedSqlHost(target, env.managedInstanceDnsSuffix);
  if (!host.ok) throw new UntrustedTargetError("UntrustedHost", host.reason);
  const timeoutMs = Math.max(1, Math.min(15_000, env.baseline.scan.targetTimeoutSeconds * 1000, remainingMs));
  return {
    target: { serverName: host.host, ...(env.sqlConnect ? { connect: env.sqlConnect } : {}) },
    access: { credential: env.credential, encryption: env.sqlEncryption, connectTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs * 2, ...(env.caPem ? { caPem: env.caPem } : {}) },
  };
}

const SQL_READ_ATTEMPTS = 3;

/** Reads the audit catalog, retrying transient failures (dropped connections, transient login errors) inside the budget. */
export async function readManagedInstanceSql(env: ScanEnvironment, target: Target, budget: Budget): Promise<ManagedInstanceSql> {
  for (let attempt = 1; ; attempt++) {
    const { target: sqlTarget, access } = sqlTargetOf(env, target, budget.remainingMs());
    try {
      const connection = await SqlAuditConnection.open(sqlTarget, access, budget.signal);
      try {
        return toManagedInstanceSql(await connection.readCatalog());
      } finally {
        await connection.close().catch(() => undefined);
      }
    } catch (error) {
      const transient = describeError(error, "read-sql-audit", target.id, budget.signal).transient;
      if (!transient || attempt >= SQL_READ_ATTEMPTS || budget.signal.aborted) throw error;
      await sleepUnder(budget.signal, 200 * attempt, "waiting to retry the T-SQL read", budget.seconds);
    }
  }
}

type TsqlAction = Extract<RemediationAction, { kind: "tsql" }>;

const firstLine = (statement: string) => statement.split("\n")[0]!.slice(0, 120);

/** The statements that switch back ON what a plan switched OFF and did not switch back itself: specifications first, then audits. */
export function restoreActions(applied: readonly RemediationAction[]): TsqlAction[] {
  const off = new Map<string, SqlOperation>();
  for (const a of applied) {
    if (a.kind !== "tsql") continue;
    const op = a.operation;
    if (op.op === "set-audit-state" || op.op === "set-specification-state") {
      const key = op.op === "set-audit-state" ? `audit:${op.audit.toLowerCase()}` : `spec:${op.specification.toLowerCase()}`;
      if (op.state === "OFF") off.set(key, op);
      else off.delete(key);
    } else if (op.op === "drop-specification") off.delete(`spec:${op.specification.toLowerCase()}`);
  }
  const ops = [...off.values()].sort((a, b) => (a.op === b.op ? 0 : a.op === "set-specification-state" ? -1 : 1));
  return ops.map((op) => {
    const on = { ...op, state: "ON" } as SqlOperation;
    const name = op.op === "set-audit-state" ? `audit ${op.audit}` : op.op === "set-specification-state" ? `specification ${op.specification}` : "";
    return { kind: "tsql", ruleIds: [], description: `Switch ${name} back on after the failed change`, operation: on, statement: renderStatement(on) };
  });
}

/** Runs the plan's T-SQL on one session under the remediation lock; a failure part-way switches back on what it switched off. */
async function applyTsql(env: ScanEnvironment, target: Target, actions: readonly RemediationAction[], budget: Budget, context: ApplyContext): Promise<ApplyOutcome> {
  const applied: RemediationAction[] = [];
  const { replan, restoreBudget } = context;
  const tsql = actions.filter((a): a is TsqlAction => a.kind === "tsql");
  if (tsql.length) {
    let connection: SqlAuditConnection | undefined;
    // Under the lock the catalog is read again and the T-SQL re-planned: another scanner may have fixed (or
    // changed) the instance since it was observed, and a stale plan would fail or repeat its work.
    let current: TsqlAction[] = tsql;
    let phase = "logging in to apply the fix (T-SQL)";
    try {
      const { target: sqlTarget, access } = sqlTargetOf(env, target, budget.remainingMs());
      connection = await budget.call(phase, (signal) => SqlAuditConnection.open(sqlTarget, access, signal));
      const open = connection;
      phase = "waiting for the instance's remediation lock (sp_getapplock)";
      const lockTimeoutMs = Math.max(0, Math.min(30_000, budget.remainingMs() - 1_000));
      await budget.call(
        () => phase,
        () =>
          open.withRemediationLock(async (run) => {
            if (replan) {
              phase = "re-reading the server audits under the lock (T-SQL)";
              const fresh = toManagedInstanceSql(await open.readCatalog());
              current = replan({ sql: { ok: true, value: fresh } }).filter((a): a is TsqlAction => a.kind === "tsql");
            }
            for (const [i, action] of current.entries()) {
              phase = `running ${firstLine(action.statement)}`;
              try {
                await run([action.statement]);
              } catch (error) {
                throw error instanceof SqlStatementError ? Object.assign(error, { statementIndex: i }) : error;
              }
              applied.push(action);
            }
          }, lockTimeoutMs),
      );
    } catch (error) {
      const index = error instanceof SqlStatementError ? error.statementIndex : applied.length;
      const failed = failure(current[index] ?? current[0] ?? tsql[0]!, error, "apply-sql-audit", target, budget);
      await connection?.close().catch(() => undefined);
      connection = undefined;
      // Never worse: what this plan switched off is switched back on before the target is left, on a connection of
      // its own (the first may be gone) and with a budget of its own. Changes that did succeed stay: they are the
      // baseline's, so they are no worse than what was there.
      // A statement whose reply was lost may have run: if it switched something off, that is switched on again too.
      const unknown = failed.outcomeUnknown ? current[index] : undefined;
      const switchedOff = unknown && "operation" in unknown && (unknown.operation.op === "set-audit-state" || unknown.operation.op === "set-specification-state") && unknown.operation.state === "OFF";
      const restore = restoreActions(switchedOff ? [...applied, unknown] : applied);
      if (!restore.length) return { applied, failed };
      const own = restoreBudget?.();
      try {
        return { applied, failed, restored: await runRestore(env, target, restore, own ?? budget) };
      } finally {
        own?.dispose();
      }
    } finally {
      await connection?.close().catch(() => undefined);
    }
  }
  return { applied };
}

async function runRestore(env: ScanEnvironment, target: Target, restore: TsqlAction[], budget: Budget): Promise<NonNullable<ApplyOutcome["restored"]>> {
  const done: RemediationAction[] = [];
  let connection: SqlAuditConnection | undefined;
  try {
    const { target: sqlTarget, access } = sqlTargetOf(env, target, budget.remainingMs());
    connection = await budget.call("logging in to switch auditing back on (T-SQL)", (signal) => SqlAuditConnection.open(sqlTarget, access, signal));
    const open = connection;
    await budget.call("switching auditing back on (T-SQL)", () =>
      open.withRemediationLock(async (run) => {
        for (const action of restore) {
          await run([action.statement]);
          done.push(action);
        }
      }, Math.max(0, Math.min(30_000, budget.remainingMs() - 1_000))),
    );
    return { actions: done };
  } catch (error) {
    const d = describeError(error, "apply-sql-audit", target.id, budget.signal);
    return { actions: done, error: { code: d.code, message: d.message, ...(d.missingPermission ? { missingPermission: d.missingPermission } : {}) } };
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/**
 * A Managed Instance's I/O: the ARM list and read of managedInstances, the T-SQL read of its audit catalog, and its
 * T-SQL changes, run on one session under the instance's application lock (sp_getapplock), re-planned from a fresh
 * read of the catalog taken under that lock.
 */
export const sqlManagedInstanceAdapter: KindAdapter = {
  kind: KIND,
  ...managedInstances,
  reads: (env, target, budget) => ({
    sql: { operation: "read-sql-audit", call: "reading the server audits (T-SQL)", read: () => readManagedInstanceSql(env, target, budget) },
  }),
  apply: applyTsql,
};
