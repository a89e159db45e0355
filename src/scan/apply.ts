import type { ManagedInstanceSql, ObservationError, RemediationAction, SqlOperation, Target } from "../core/domain.js";
import { renderStatement } from "../core/sql-text/render.js";
import { putAuditingPolicy, putDiagnosticSetting } from "../azure/arm-auditing.js";
import { SqlAuditConnection, SqlStatementError } from "../azure/sql-audit.js";
import { describeError } from "./errors.js";
import { sqlTargetOf, toManagedInstanceSql } from "./observe.js";
import type { ScanEnvironment } from "./environment.js";
import type { Budget } from "./budget.js";

/**
 * Applies a plan in order, every call inside the target's budget. T-SQL statements run on one session under the
 * instance's application lock; ARM changes go through the SDKs' long-running PUTs. The first failure stops the
 * plan and is reported with the service's exact error; what was applied before it is reported too.
 */
export interface ApplyOutcome {
  applied: RemediationAction[];
  failed?: { action: RemediationAction; error: ObservationError; outcomeUnknown?: boolean };
  /** What was switched back ON after a failure part-way, and the error if even that failed. */
  restored?: { actions: RemediationAction[]; error?: ObservationError };
}

type TsqlAction = Extract<RemediationAction, { kind: "tsql" }>;

const firstLine = (statement: string) => statement.split("\n")[0]!.slice(0, 120);

function failure(action: RemediationAction, error: unknown, operation: Parameters<typeof describeError>[1], target: Target, budget: Budget): NonNullable<ApplyOutcome["failed"]> {
  const d = describeError(error, operation, target.id, budget.signal);
  // No SQL number and no HTTP status: the change may or may not have reached the service before the line went quiet.
  const unknown = d.code === "Timeout" || d.code === "Cancelled" || (error instanceof SqlStatementError && error.number === undefined && error.code !== undefined);
  return { action, error: { code: d.code, message: d.message, ...(d.missingPermission ? { missingPermission: d.missingPermission } : {}) }, ...(unknown ? { outcomeUnknown: true } : {}) };
}

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

export async function applyActions(
  env: ScanEnvironment,
  target: Target,
  actions: readonly RemediationAction[],
  budget: Budget,
  /** Re-plans the instance's T-SQL from a fresh read of its catalog, taken under the remediation lock. */
  replan?: (sql: ManagedInstanceSql) => RemediationAction[],
  /** A budget of its own for switching auditing back on after a failure (the target's may be spent). */
  restoreBudget?: () => Budget,
): Promise<ApplyOutcome> {
  const applied: RemediationAction[] = [];
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
              current = replan(fresh).filter((a): a is TsqlAction => a.kind === "tsql");
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
  for (const action of actions) {
    if (action.kind === "tsql") continue;
    const policyTarget = { kind: target.kind as "sql-server" | "synapse-workspace", subscriptionId: target.subscriptionId, resourceGroup: target.resourceGroup, name: target.name };
    try {
      if (action.kind === "arm-auditing-put") {
        await budget.call(`writing the auditing policy (ARM PUT ${action.policy})`, (signal) => putAuditingPolicy(env.clients, policyTarget, action.policy, action.body, signal));
      } else {
        await budget.call(`writing the diagnostic setting ${action.name} (ARM PUT)`, (signal) => putDiagnosticSetting(env.clients, target.subscriptionId, action.resourceUri, action.name, action.body, signal));
      }
      applied.push(action);
    } catch (error) {
      return { applied, failed: failure(action, error, action.kind === "arm-auditing-put" ? "write-auditing-policy" : "write-diagnostic-settings", target, budget) };
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
