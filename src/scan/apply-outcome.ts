import type { ObservationError, RemediationAction, Target } from "../core/domain.js";
import { SqlStatementError } from "../azure/sql-audit.js";
import { describeError } from "./errors.js";
import type { Operation } from "./errors.js";
import type { Budget } from "./budget.js";

/** What applying a plan did: what was applied, where it stopped and why, and what was switched back on after. */
export interface ApplyOutcome {
  applied: RemediationAction[];
  failed?: { action: RemediationAction; error: ObservationError; outcomeUnknown?: boolean };
  /** What was switched back ON after a failure part-way, and the error if even that failed. */
  restored?: { actions: RemediationAction[]; error?: ObservationError };
}

/** A step that failed, with the service's exact error; whether its outcome is unknown (the reply was lost). */
export function failure(action: RemediationAction, error: unknown, operation: Operation, target: Target, budget: Budget): NonNullable<ApplyOutcome["failed"]> {
  const d = describeError(error, operation, target.id, budget.signal, target.kind);
  // No SQL number and no HTTP status: the change may or may not have reached the service before the line went quiet.
  const unknown = d.code === "Timeout" || d.code === "Cancelled" || (error instanceof SqlStatementError && error.number === undefined && error.code !== undefined);
  return { action, error: { code: d.code, message: d.message, ...(d.missingPermission ? { missingPermission: d.missingPermission } : {}) }, ...(unknown ? { outcomeUnknown: true } : {}) };
}
