import type { Observation, ObservationError, Observed, ObservedActivity, ObservedDiagnosticSetting, Target } from "../core/domain.js";
import { listDiagnosticSettings } from "../azure/arm-auditing.js";
import { auditRoutes } from "../core/activity/classify.js";
import { kindOf } from "../kinds/registry.js";
import { adapterOf } from "../kinds/adapters.js";
import type { PartRead } from "../kinds/adapter.js";
import { describeError } from "./errors.js";
import type { ScanEnvironment } from "./environment.js";
import type { Budget } from "./budget.js";

/**
 * Reads what a target looks like. Each part (T-SQL audits, auditing policy, diagnostic settings, activity) is
 * read independently, under the target's budget: one failing or stalled part becomes an error for the rules that
 * need it and nothing else, and its reason names the call.
 */
async function attempt<T>(budget: Budget, { operation, call, read }: PartRead<T>, target: Target): Promise<Observed<T>> {
  try {
    return { ok: true, value: await budget.call(call, read) };
  } catch (error) {
    const d = describeError(error, operation, target.id, budget.signal, target.kind);
    const e: ObservationError = { code: d.code, message: d.message, ...(d.missingPermission ? { missingPermission: d.missingPermission } : {}), ...(d.transient ? { transient: true } : {}) };
    return { ok: false, error: e };
  }
}

/** An activity observation that could not be read is thrown here so `attempt` reports it like any failed read. */
class ActivityUnreadable extends Error {
  constructor(readonly error: ObservationError) {
    super(error.message);
    this.name = error.code;
  }
}

function unwrap(observed: Observed<ObservedActivity>): ObservedActivity {
  if (observed.ok) return observed.value;
  throw Object.assign(new ActivityUnreadable(observed.error), { code: observed.error.code });
}

/** Which parts to read beyond the ARM configuration (diagnostic settings, auditing policy), which is always read. */
export interface ObserveParts {
  /** The T-SQL catalog of a Managed Instance (under a lease it is re-read under the instance's application lock instead). */
  sql?: boolean;
  activity?: boolean;
}

export interface ObserveOptions {
  now: Date;
  budget: Budget;
  parts?: ObserveParts;
  /** Reuse earlier reads (re-observation after remediation does not change the audit history). */
  reuse?: Partial<Pick<Observation, "sql" | "activity">>;
}

export async function observeTarget(env: ScanEnvironment, target: Target, options: ObserveOptions): Promise<Observation> {
  const { clients } = env;
  const { budget } = options;
  const parts = { sql: true, activity: true, ...options.parts };
  const diagnostics = attempt<ObservedDiagnosticSetting[]>(
    budget,
    { operation: "read-diagnostic-settings", call: "reading the diagnostic settings (ARM)", read: (signal) => listDiagnosticSettings(clients, target.subscriptionId, kindOf(target.kind).diagnosticSetting.resourceUri(target), signal) },
    target,
  );
  // The kind's own parts: a Managed Instance's T-SQL catalog, a server's or workspace's auditing policy.
  const reads = adapterOf(target.kind).reads(env, target, budget);
  const sql = reads.sql ? (parts.sql ? attempt(budget, reads.sql, target) : options.reuse?.sql) : undefined;
  const policy = reads.auditingPolicy ? attempt(budget, reads.auditingPolicy, target) : undefined;
  const diagnosticSettings = await diagnostics;
  let activity = options.reuse?.activity;
  if (!activity && parts.activity && env.activity) {
    const source = env.activity;
    // The target's diagnostic settings say which workspace and table its records land in.
    activity = diagnosticSettings.ok
      ? await attempt<ObservedActivity>(budget, { operation: "read-activity", call: "reading its audit activity (Log Analytics, through the activity sweep)", read: () => source.forTarget(target, auditRoutes(diagnosticSettings.value), options.now).then(unwrap) }, target)
      : { ok: false, error: { code: diagnosticSettings.error.code, message: `its diagnostic settings could not be read, so where its audit records land is unknown: ${diagnosticSettings.error.message}` } };
  }
  const observation: Observation = { target, observedAt: options.now.toISOString(), diagnosticSettings };
  const sqlRead = await sql;
  if (sqlRead) observation.sql = sqlRead;
  if (policy) observation.auditingPolicy = await policy;
  if (activity) observation.activity = activity;
  return observation;
}
