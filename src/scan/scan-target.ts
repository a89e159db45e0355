import type { Finding, Observation, Target, TargetResult, TargetStatus } from "../core/domain.js";
import type { ObservationPatch } from "../kinds/adapter.js";
import { evaluate } from "../core/evaluate.js";
import { planTarget } from "../core/plan.js";
import { describeChange } from "../core/domain.js";
import type { BlockedChange, RemediationAction } from "../core/domain.js";
import { exemptionFor, modeFor } from "../core/scope.js";
import type { Mode } from "../core/policy/schema.js";
import { applyActions } from "./apply.js";
import { observeTarget } from "./observe.js";
import type { ScanEnvironment } from "./environment.js";
import { describeError, formatReason } from "./errors.js";
import { startBudget } from "./budget.js";
import { redactDeep } from "../core/redaction.js";
import { auditRoutes } from "../core/activity/classify.js";
import type { TargetLock } from "./lease.js";
import { createHash } from "node:crypto";

/**
 * The per-target pipeline: observe → evaluate → plan → (enforce: lease → re-read and re-plan under it → apply →
 * observe again → evaluate) → result. Every call runs inside the target's budget (scan.targetTimeoutSeconds); the
 * verification after a change gets a budget of its own, because it is what decides the status. Never throws for
 * the target's sake: whatever happens becomes the result's status and reason, so one target's failure cannot
 * stop or corrupt another's.
 */
export interface ScanTargetOptions {
  scanId: string;
  now?: () => Date;
  /** The scan's (or the function invocation's) signal: cancellation and the overall deadline. */
  signal?: AbortSignal;
  /** The mode to use; the caller has already lowered it as far as the request asked. Default: the baseline's. */
  mode?: Mode;
  /** Serialises remediation of one target across scanners (Table storage lease). */
  lock?: TargetLock;
  /** The target's previous result, when there is a store: a plan that did not converge then is not applied again. */
  previous?: () => Promise<TargetResult | undefined>;
}

/** Names a plan by its exact changes, so "the same fix again" is recognised across scans. */
export function planDigest(actions: readonly RemediationAction[]): string {
  return createHash("sha256").update(actions.map(describeChange).join("\n\u0000")).digest("hex").slice(0, 32);
}

const describeBlocked = (blocked: readonly BlockedChange[]) => blocked.map((b) => `not fixed (${b.ruleIds.join(", ")}): ${b.reason}`).join("; ");

/** Whether every part of the observation that could not be read failed for a transient reason (and one did). */
function onlyTransientFailures(observation: Observation): boolean {
  const failed = [observation.diagnosticSettings, observation.sql, observation.auditingPolicy, observation.activity].flatMap((part) => (part && !part.ok ? [part.error] : []));
  return failed.length > 0 && failed.every((e) => e.transient === true);
}

/** Rules that could not decide for the same reason (one unreadable part) are reported once. */
function undecided(errors: readonly Finding[]): string {
  const byMessage = new Map<string, string[]>();
  for (const f of errors) byMessage.set(f.message, [...(byMessage.get(f.message) ?? []), f.ruleId]);
  return [...byMessage].map(([message, rules]) => `${message} (${rules.length === 1 ? rules[0] : `${rules.length} rules`})`).join("; ");
}

export function statusOf(findings: readonly Finding[], applied: boolean): { status: TargetStatus; reason?: string } {
  const failing = findings.filter((f) => f.status === "fail");
  const errors = findings.filter((f) => f.status === "error");
  if (failing.length) {
    // Failing rules decide the status; what could not be decided is still said.
    const failed = `${failing.length} rule${failing.length === 1 ? "" : "s"} failing: ${failing.map((f) => f.ruleId).join(", ")}`;
    return { status: "noncompliant", reason: errors.length ? `${failed}; and ${undecided(errors)}` : failed };
  }
  if (errors.length) return { status: "error", reason: undecided(errors) };
  if (applied) return { status: "remediated" };
  if (findings.length && findings.every((f) => f.status === "exempt" || f.status === "pass" || f.status === "not-applicable") && findings.some((f) => f.status === "exempt")) {
    return { status: "exempt" };
  }
  return { status: "compliant" };
}

const joinReasons = (...reasons: Array<string | undefined>) => reasons.filter(Boolean).join("; ") || undefined;

export async function scanTarget(env: ScanEnvironment, target: Target, options: ScanTargetOptions): Promise<TargetResult> {
  // Whatever the target, the services or the audit trail put into the result, it leaves here redacted.
  return redactDeep(await scanTargetUnredacted(env, target, options));
}

async function scanTargetUnredacted(env: ScanEnvironment, target: Target, options: ScanTargetOptions): Promise<TargetResult> {
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const mode = options.mode ?? modeFor(env.baseline, target.kind);
  const exemption = exemptionFor(env.baseline, target, startedAt);
  const seconds = env.baseline.scan.targetTimeoutSeconds;
  const base = {
    scanId: options.scanId,
    target,
    mode,
    startedAt: startedAt.toISOString(),
    ...(exemption.state === "active" ? { exemption: { reason: exemption.reason, ...(exemption.expires ? { expires: exemption.expires } : {}) } } : {}),
  };
  const budget = startBudget(seconds, options.signal);
  // Once remediation may have started, a failure is never handed back for a retry: the retry would find the
  // instance fixed and the record of what was applied would be lost.
  let remediationStarted = false;
  try {
    const observation = await observeTarget(env, target, { now: startedAt, budget });
    const findings = evaluate(env.baseline, observation, startedAt);
    const { actions, blocked } = planTarget(env.baseline, observation, findings);
    if (observation.activity?.ok) Object.assign(base, { activityWindow: observation.activity.value.window, ...(observation.activity.value.events.length ? { activity: observation.activity.value.events } : {}) });
    if (observation.diagnosticSettings.ok) Object.assign(base, { routes: auditRoutes(observation.diagnosticSettings.value) });
    if (blocked.length) Object.assign(base, { blocked });
    if (mode !== "enforce" || !actions.length) {
      const { status, reason } = statusOf(findings, false);
      const retryable = status === "error" && onlyTransientFailures(observation);
      const joined = joinReasons(reason, blocked.length ? describeBlocked(blocked) : undefined);
      return { ...base, status, ...(joined ? { reason: joined } : {}), ...(retryable ? { retryable } : {}), finishedAt: now().toISOString(), findings, plan: actions, applied: [] };
    }

    // The lease comes first: nothing is changed before it is held, so a store outage here is a retryable error.
    let lock;
    try {
      lock = options.lock ? await budget.call("taking the remediation lease (results store)", () => options.lock!(target)) : undefined;
    } catch (error) {
      const d = describeError(error, "results-store", target.id, budget.signal);
      return { ...base, status: "error", reason: formatReason(d), ...(d.transient ? { retryable: true } : {}), finishedAt: now().toISOString(), findings, plan: actions, applied: [] };
    }
    if (lock && !lock.acquired) return { ...base, status: "noncompliant", reason: lock.reason, finishedAt: now().toISOString(), findings, plan: actions, applied: [] };
    remediationStarted = true;

    let outcome;
    let fresh = { observation, findings, actions, blocked };
    let skipped: string | undefined;
    let carried: TargetResult["notConverged"];
    try {
      // Under the lease, the ARM side is read again and the plan made again: another scanner may have fixed (or
      // changed) the target since it was observed, and a stale plan would write twice or undo a change made since.
      // A Managed Instance's T-SQL is re-read and re-planned under its application lock, inside applyActions.
      const reread = await observeTarget(env, target, { now: now(), budget, parts: { sql: false, activity: false }, reuse: { ...(observation.sql ? { sql: observation.sql } : {}), ...(observation.activity ? { activity: observation.activity } : {}) } });
      const rereadFindings = evaluate(env.baseline, reread, now());
      fresh = { observation: reread, findings: rereadFindings, ...planTarget(env.baseline, reread, rereadFindings) };
      // A kind whose own part is re-read under its own lock (a Managed Instance's catalog) plans again from it.
      const replan = (patch: ObservationPatch) => {
        const patched = { ...reread, ...patch };
        return planTarget(env.baseline, patched, evaluate(env.baseline, patched, now())).actions;
      };
      // The same plan as one that was applied before and did not converge is not applied again: it would switch the
      // audit off and on every scan for nothing. It stays reported until the target (and so the plan) changes.
      const earlier = fresh.actions.length && options.previous ? (await budget.call("reading the previous result (results store)", () => options.previous!()).catch(() => undefined))?.notConverged : undefined;
      if (earlier && earlier.planDigest === planDigest(fresh.actions)) {
        skipped = `did not converge: the same change was applied at ${earlier.at} and ${earlier.ruleIds.join(", ")} still failed right after; it is not applied again until the target changes`;
        carried = earlier;
      }
      const lost = lock?.lease.lost();
      outcome = lost || skipped ? { applied: [], failed: undefined, note: lost ?? skipped } : await applyActions(env, target, fresh.actions, budget, replan, () => startBudget(seconds, options.signal));
    } finally {
      await lock?.lease.release().catch(() => undefined);
    }

    const verify = startBudget(seconds, options.signal);
    let after: Observation;
    try {
      after = await observeTarget(env, target, { now: now(), budget: verify, parts: { activity: false }, ...(observation.activity ? { reuse: { activity: observation.activity } } : {}) });
    } finally {
      verify.dispose();
    }
    const findingsAfter = evaluate(env.baseline, after, now());
    // The status follows what the re-read shows: a fix whose reply was lost but which took effect is remediated;
    // a failed step is kept as evidence and named in the reason either way.
    const { status, reason } = statusOf(findingsAfter, outcome.applied.length > 0 || outcome.failed?.outcomeUnknown === true);
    // A rule still failing right after its own fix ran does not converge: say so, with the evidence in the findings.
    const fixedRules = new Set(outcome.applied.flatMap((a) => a.ruleIds));
    const stillFailing = findingsAfter.filter((f) => f.status === "fail" && fixedRules.has(f.ruleId)).map((f) => f.ruleId);
    const notConverged = stillFailing.length && !outcome.failed ? { ruleIds: stillFailing, planDigest: planDigest(fresh.actions), at: now().toISOString() } : carried;
    const restored = "restored" in outcome ? outcome.restored : undefined;
    const restoredReason = restored
      ? restored.error
        ? `AUDITING MAY BE OFF: switching back on what the failed change had switched off failed too (${formatReason({ ...restored.error, transient: false })})`
        : `switched back on what the failed change had switched off: ${restored.actions.map((a) => a.description.replace(/^Switch (.*) back on after the failed change$/, "$1")).join(", ")}`
      : undefined;
    const failedReason = outcome.failed
      ? outcome.failed.outcomeUnknown
        ? `the outcome of "${outcome.failed.action.description}" is unknown (${formatReason({ ...outcome.failed.error, transient: false })}); the re-read ${status === "remediated" ? "shows it took effect" : "decides the status"}`
        : `remediation failed at "${outcome.failed.action.description}": ${formatReason({ ...outcome.failed.error, transient: false })}`
      : undefined;
    const nothingLeft = !fresh.actions.length ? "the re-read under the lease found nothing left to change (another scanner or person fixed it)" : undefined;
    const tookOver = lock?.acquired ? lock.tookOver : undefined;
    const note = "note" in outcome ? outcome.note : undefined;
    const convergence = notConverged && !skipped ? `did not converge: ${notConverged.ruleIds.join(", ")} still fail right after their fix was applied` : undefined;
    const joined = joinReasons(failedReason, restoredReason, note, convergence, nothingLeft, tookOver, reason, fresh.blocked.length ? describeBlocked(fresh.blocked) : undefined);
    return {
      ...base,
      status,
      ...(joined ? { reason: joined } : {}),
      finishedAt: now().toISOString(),
      findings,
      plan: fresh.actions,
      applied: outcome.applied,
      ...(outcome.failed ? { failedAction: { action: outcome.failed.action, error: outcome.failed.error } } : {}),
      ...(restored ? { restored } : {}),
      ...(fresh.blocked.length ? { blocked: fresh.blocked } : {}),
      ...(notConverged ? { notConverged } : {}),
      findingsAfter,
    };
  } catch (error) {
    // Only a bug or a cancellation gets here: observation catches per part.
    const d = describeError(error, "inventory", target.id, budget.signal);
    return { ...base, status: "error", reason: formatReason(d), ...(d.transient && !remediationStarted ? { retryable: true } : {}), finishedAt: now().toISOString(), findings: [], plan: [], applied: [] };
  } finally {
    budget.dispose();
  }
}
