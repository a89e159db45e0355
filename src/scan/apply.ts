import type { ManagedInstanceSql, ObservationError, RemediationAction, Target } from "../core/domain.js";
import { putAuditingPolicy, putDiagnosticSetting } from "../azure/arm-auditing.js";
import { SqlAuditConnection, SqlStatementError } from "../azure/sql-audit.js";
import { describeError } from "./errors.js";
import { sqlTargetOf, toManagedInstanceSql } from "./observe.js";
import type { ScanEnvironment } from "./environment.js";

/**
 * Applies a plan in order. T-SQL statements run on one session under the instance's application lock; ARM
 * changes go through the SDKs' long-running PUTs. The first failure stops the plan and is reported with the
 * service's exact error; what was applied before it is reported too.
 */
export interface ApplyOutcome {
  applied: RemediationAction[];
  failed?: { action: RemediationAction; error: ObservationError };
}

export async function applyActions(
  env: ScanEnvironment,
  target: Target,
  actions: readonly RemediationAction[],
  signal?: AbortSignal,
  /** Re-plans the instance's T-SQL from a fresh read of its catalog, taken under the remediation lock. */
  replan?: (sql: ManagedInstanceSql) => RemediationAction[],
): Promise<ApplyOutcome> {
  const applied: RemediationAction[] = [];
  const tsql = actions.filter((a): a is Extract<RemediationAction, { kind: "tsql" }> => a.kind === "tsql");
  if (tsql.length) {
    let connection: SqlAuditConnection | undefined;
    // Under the lock the catalog is read again and the T-SQL re-planned: another scanner may have fixed (or
    // changed) the instance since it was observed, and a stale plan would fail or repeat its work.
    let current: Array<Extract<RemediationAction, { kind: "tsql" }>> = tsql;
    try {
      const { target: sqlTarget, access } = sqlTargetOf(env, target);
      connection = await SqlAuditConnection.open(sqlTarget, access);
      const open = connection;
      await open.withRemediationLock(async (run) => {
        if (replan) {
          const fresh = toManagedInstanceSql(await open.readCatalog());
          current = replan(fresh).filter((a): a is Extract<RemediationAction, { kind: "tsql" }> => a.kind === "tsql");
        }
        await run(current.map((a) => a.statement));
      });
      applied.push(...current);
    } catch (error) {
      const index = error instanceof SqlStatementError ? error.statementIndex : 0;
      applied.push(...current.slice(0, index));
      const d = describeError(error, "apply-sql-audit", target.id);
      return { applied, failed: { action: current[index] ?? tsql[0]!, error: { code: d.code, message: d.message, ...(d.missingPermission ? { missingPermission: d.missingPermission } : {}) } } };
    } finally {
      await connection?.close().catch(() => undefined);
    }
  }
  for (const action of actions) {
    if (action.kind === "tsql") continue;
    try {
      if (action.kind === "arm-auditing-put") {
        await putAuditingPolicy(
          env.clients,
          { kind: target.kind as "sql-server" | "synapse-workspace", subscriptionId: target.subscriptionId, resourceGroup: target.resourceGroup, name: target.name },
          action.policy,
          action.body,
          signal,
        );
      } else {
        await putDiagnosticSetting(env.clients, target.subscriptionId, action.resourceUri, action.name, action.body, signal);
      }
      applied.push(action);
    } catch (error) {
      const d = describeError(error, action.kind === "arm-auditing-put" ? "write-auditing-policy" : "write-diagnostic-settings", target.id);
      return { applied, failed: { action, error: { code: d.code, message: d.message, ...(d.missingPermission ? { missingPermission: d.missingPermission } : {}) } } };
    }
  }
  return { applied };
}
