import type { RemediationAction, Target } from "../core/domain.js";
import { putDiagnosticSetting } from "../azure/arm-auditing.js";
import { adapterOf } from "../kinds/adapters.js";
import type { ObservationPatch } from "../kinds/adapter.js";
import { failure } from "./apply-outcome.js";
import type { ApplyOutcome } from "./apply-outcome.js";
import type { ScanEnvironment } from "./environment.js";
import type { Budget } from "./budget.js";

export type { ApplyOutcome };

/**
 * Applies a plan in order, every call inside the target's budget: the kind's own changes first, through its
 * adapter (a Managed Instance's T-SQL on one session under the instance's application lock, a policy's
 * long-running PUT), then the diagnostic setting's PUT, alike for every kind. The first failure stops the plan and
 * is reported with the service's exact error; what was applied before it is reported too.
 */
export async function applyActions(
  env: ScanEnvironment,
  target: Target,
  actions: readonly RemediationAction[],
  budget: Budget,
  /** Re-plans from fresh parts of the observation, read under the kind's lock (a Managed Instance's catalog). */
  replan?: (patch: ObservationPatch) => RemediationAction[],
  /** A budget of its own for switching auditing back on after a failure (the target's may be spent). */
  restoreBudget?: () => Budget,
): Promise<ApplyOutcome> {
  const own = actions.filter((a) => a.kind !== "diagnostic-setting-put");
  const applied: RemediationAction[] = [];
  if (own.length) {
    const outcome = await adapterOf(target.kind).apply(env, target, own, budget, { ...(replan ? { replan } : {}), ...(restoreBudget ? { restoreBudget } : {}) });
    if (outcome.failed) return outcome;
    applied.push(...outcome.applied);
  }
  for (const action of actions) {
    if (action.kind !== "diagnostic-setting-put") continue;
    try {
      await budget.call(`writing the diagnostic setting ${action.name} (ARM PUT)`, (signal) => putDiagnosticSetting(env.clients, target.subscriptionId, action.resourceUri, action.name, action.body, signal));
      applied.push(action);
    } catch (error) {
      return { applied, failed: failure(action, error, "write-diagnostic-settings", target, budget) };
    }
  }
  return { applied };
}
