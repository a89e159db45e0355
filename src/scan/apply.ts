import type { ManagedInstanceSql, ObservationError, RemediationAction, Target } from "../core/domain.js";
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
}

type TsqlAction = Extract<RemediationAction, { kind: "tsql" }>;

const firstLine = (statement: string) => statement.split("\n")[0]!.slice(0, 120);

function failure(action: RemediationAction, error: unknown, operation: Parameters<typeof describeError>[1], target: Target, budget: Budget): NonNullable<ApplyOutcome["failed"]> {
  const d = describeError(error, operation, target.id, budget.signal);
  // No SQL number and no HTTP status: the change may or may not have reached the service before the line went quiet.
  const unknown = d.code === "Timeout" || d.code === "Cancelled" || (error instanceof SqlStatementError && error.number === undefined && error.code !== undefined);
  return { action, error: { code: d.code, message: d.message, ...(d.missingPermission ? { missingPermission: d.missingPermission } : {}) }, ...(unknown ? { outcomeUnknown: true } : {}) };
}

export async function applyActions(
  env: ScanEnvironment,
  target: Target,
  actions: readonly RemediationAction[],
  budget: Budget,
  /** Re-plans the instance's T-SQL from a fresh read of its catalog, taken under the remediation lock. */
  replan?: (sql: ManagedInstanceSql) => RemediationAction[],
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
      return { applied, failed: failure(current[index] ?? current[0] ?? tsql[0]!, error, "apply-sql-audit", target, budget) };
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
