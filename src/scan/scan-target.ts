import type { Finding, ManagedInstanceSql, Observation, Target, TargetResult, TargetStatus } from "../core/domain.js";
import { evaluate } from "../core/evaluate.js";
import { plan } from "../core/plan.js";
import { exemptionFor, modeFor } from "../core/scope.js";
import { applyActions } from "./apply.js";
import { observeTarget } from "./observe.js";
import type { ScanEnvironment } from "./environment.js";
import { describeError, formatReason } from "./errors.js";

/**
 * The per-target pipeline: observe → evaluate → plan → (enforce: apply → observe again → evaluate) → result.
 * Never throws for the target's sake: whatever happens becomes the result's status and reason, so one target's
 * failure cannot stop or corrupt another's.
 */
export interface ScanTargetOptions {
  scanId: string;
  now?: () => Date;
  signal?: AbortSignal;
  /** Overrides the baseline's mode (e.g. `--mode plan` on the CLI). */
  mode?: "off" | "plan" | "enforce";
  /** Serialises remediation of one target across scanners (Table storage lease); returns a release function. */
  lock?: (target: Target) => Promise<(() => Promise<void>) | undefined>;
}

/** Whether every part of the observation that could not be read failed for a transient reason (and one did). */
function onlyTransientFailures(observation: Observation): boolean {
  const failed = [observation.diagnosticSettings, observation.sql, observation.auditingPolicy, observation.activity].flatMap((part) => (part && !part.ok ? [part.error] : []));
  return failed.length > 0 && failed.every((e) => e.transient === true);
}

function statusOf(findings: readonly Finding[], applied: boolean): { status: TargetStatus; reason?: string } {
  const failing = findings.filter((f) => f.status === "fail");
  const errors = findings.filter((f) => f.status === "error");
  if (failing.length) return { status: "noncompliant", reason: `${failing.length} rule${failing.length === 1 ? "" : "s"} failing: ${failing.map((f) => f.ruleId).join(", ")}` };
  if (errors.length) {
    // Rules that could not decide for the same reason (one unreadable part) are reported once.
    const byMessage = new Map<string, string[]>();
    for (const f of errors) byMessage.set(f.message, [...(byMessage.get(f.message) ?? []), f.ruleId]);
    return { status: "error", reason: [...byMessage].map(([message, rules]) => `${message} (${rules.length === 1 ? rules[0] : `${rules.length} rules`})`).join("; ") };
  }
  if (applied) return { status: "remediated" };
  if (findings.length && findings.every((f) => f.status === "exempt" || f.status === "pass" || f.status === "not-applicable") && findings.some((f) => f.status === "exempt")) {
    return { status: "exempt" };
  }
  return { status: "compliant" };
}

export async function scanTarget(env: ScanEnvironment, target: Target, options: ScanTargetOptions): Promise<TargetResult> {
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const mode = options.mode ?? modeFor(env.baseline, target.kind);
  const exemption = exemptionFor(env.baseline, target, startedAt);
  const base = {
    scanId: options.scanId,
    target,
    mode,
    startedAt: startedAt.toISOString(),
    ...(exemption.state === "active" ? { exemption: { reason: exemption.reason, ...(exemption.expires ? { expires: exemption.expires } : {}) } } : {}),
  };
  // Once remediation may have started, a failure is never handed back for a retry: the retry would find the
  // instance fixed and the record of what was applied would be lost.
  let remediationStarted = false;
  try {
    const observation = await observeTarget(env, target, { now: startedAt, ...(options.signal ? { signal: options.signal } : {}) });
    const findings = evaluate(env.baseline, observation, startedAt);
    const actions = plan(env.baseline, observation, findings);
    if (observation.activity?.ok) Object.assign(base, { activityWindow: observation.activity.value.window });
    if (mode !== "enforce" || !actions.length) {
      const { status, reason } = statusOf(findings, false);
      const retryable = status === "error" && onlyTransientFailures(observation);
      return { ...base, status, ...(reason ? { reason } : {}), ...(retryable ? { retryable } : {}), finishedAt: now().toISOString(), findings, plan: actions, applied: [] };
    }
    remediationStarted = true;
    const release = options.lock ? await options.lock(target) : undefined;
    if (options.lock && !release) {
      return { ...base, status: "noncompliant", reason: "another scanner holds this target's remediation lease; left for it", finishedAt: now().toISOString(), findings, plan: actions, applied: [] };
    }
    let outcome;
    try {
      const replan = (sql: ManagedInstanceSql) => {
        const fresh = { ...observation, sql: { ok: true as const, value: sql } };
        return plan(env.baseline, fresh, evaluate(env.baseline, fresh, now()));
      };
      outcome = await applyActions(env, target, actions, options.signal, target.kind === "sql-managed-instance" ? replan : undefined);
    } finally {
      await release?.();
    }
    const after = await observeTarget(env, target, { now: now(), ...(options.signal ? { signal: options.signal } : {}), ...(observation.activity ? { activity: observation.activity } : {}) });
    const findingsAfter = evaluate(env.baseline, after, now());
    const { status, reason } = statusOf(findingsAfter, outcome.applied.length > 0);
    const failedReason = outcome.failed ? `remediation failed at "${outcome.failed.action.description}": ${formatReason({ ...outcome.failed.error, transient: false })}` : undefined;
    return {
      ...base,
      status: outcome.failed && status === "remediated" ? "noncompliant" : status,
      ...(failedReason || reason ? { reason: [failedReason, reason].filter(Boolean).join("; ") } : {}),
      finishedAt: now().toISOString(),
      findings,
      plan: actions,
      applied: outcome.applied,
      ...(outcome.failed ? { failedAction: outcome.failed } : {}),
      findingsAfter,
    };
  } catch (error) {
    // Only a bug or a cancellation gets here: observation catches per part.
    const d = describeError(error, "inventory", target.id);
    return { ...base, status: "error", reason: formatReason(d), ...(d.transient && !remediationStarted ? { retryable: true } : {}), finishedAt: now().toISOString(), findings: [], plan: [], applied: [] };
  }
}
