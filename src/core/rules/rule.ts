import type { Baseline } from "../policy/schema.js";
import type { Observation, Severity, TargetKind } from "../domain.js";

/**
 * A rule: stable id, metadata for the catalog and reports, and a pure check. The metadata sits beside the
 * check, so the catalog, the reports' remediation text and the code come from one place.
 */
export interface RuleContext {
  baseline: Baseline;
  observation: Observation;
  now: Date;
}

export type RuleOutcome =
  | { status: "pass" | "fail"; message: string; evidence?: Record<string, unknown> }
  | { status: "error"; message: string; evidence?: Record<string, unknown> }
  | { status: "not-applicable"; message: string };

export interface Rule {
  id: string;
  title: string;
  severity: Severity;
  /** The kind of target it applies to; activity rules apply to every kind. */
  kind: TargetKind | "activity";
  rationale: string;
  remedy: string;
  /** Whether AuditGuard's planner fixes it; activity rules report, they do not remediate. */
  remediable: boolean;
  /**
   * Rules this one presupposes: when one of them fails too, this failure is a consequence of that one (a missing
   * audit also fails "enabled", "started", "options"...), and reports show it under its cause. Presentation only:
   * the finding is still evaluated, counted and remediated on its own.
   */
  dependsOn?: readonly string[];
  check(context: RuleContext): RuleOutcome;
}

export const pass = (message: string, evidence?: Record<string, unknown>): RuleOutcome => ({ status: "pass", message, ...(evidence ? { evidence } : {}) });
export const fail = (message: string, evidence?: Record<string, unknown>): RuleOutcome => ({ status: "fail", message, ...(evidence ? { evidence } : {}) });
export const notApplicable = (message: string): RuleOutcome => ({ status: "not-applicable", message });
export const unknown = (what: string, error: { code: string; message: string; missingPermission?: string }): RuleOutcome => ({
  status: "error",
  message: `could not read ${what}: ${error.code}: ${error.message}${error.missingPermission ? ` — missing permission: ${error.missingPermission}` : ""}`,
});
