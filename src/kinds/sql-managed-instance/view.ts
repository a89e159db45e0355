import type { Baseline } from "../../core/policy/schema.js";
import type { AuditTarget, ManagedInstanceSql, Observation, ObservedAudit, ObservedSpecification } from "../../core/domain.js";
import type { RuleOutcome } from "../../core/rules/rule.js";
import { notApplicable, unknown } from "../../core/rules/rule.js";
import { sameAzureName, sameSqlName } from "../../core/names.js";
import { KIND } from "./id.js";

/** What the MI rules and the planner both need: the desired audit and specification, found in what was observed. */
export interface ManagedInstanceView {
  sql: ManagedInstanceSql;
  desired: Baseline["managedInstance"];
  audit: ObservedAudit | undefined;
  /** The specification named by the baseline, whatever audit it is bound to. */
  namedSpecification: ObservedSpecification | undefined;
  /** Specifications bound to the desired audit. */
  boundSpecifications: ObservedSpecification[];
}

export const MANAGED_INSTANCE_ENGINE_EDITION = 8;

export function managedInstanceView(baseline: Baseline, observation: Observation): ManagedInstanceView | RuleOutcome {
  if (observation.target.kind !== KIND) return notApplicable("not a Managed Instance");
  const sql = observation.sql;
  if (!sql) return unknown("the instance's server audits", { code: "NotObserved", message: "no T-SQL observation" });
  if (!sql.ok) return unknown("the instance's server audits", sql.error);
  if (sql.value.engineEdition !== MANAGED_INSTANCE_ENGINE_EDITION) {
    return { status: "error", message: `the server reports engine edition ${sql.value.engineEdition ?? "unknown"}, not 8 (Managed Instance): not scanned as a Managed Instance` };
  }
  const desired = baseline.managedInstance;
  const audit = sql.value.audits.find((a) => sameSqlName(a.name, desired.audit.name));
  const namedSpecification = sql.value.specifications.find((s) => sameSqlName(s.name, desired.specification.name));
  const boundSpecifications = audit ? sql.value.specifications.filter((s) => s.auditGuid !== null && sameAzureName(s.auditGuid, audit.auditGuid)) : [];
  return { sql: sql.value, desired, audit, namedSpecification, boundSpecifications };
}

export function isView(value: ManagedInstanceView | RuleOutcome): value is ManagedInstanceView {
  return "sql" in value;
}

export function desiredTarget(desired: Baseline["managedInstance"]): "EXTERNAL_MONITOR" | { url: string; retentionDays: number } {
  const t = desired.audit.target;
  return t === "EXTERNAL_MONITOR" ? t : { url: t.url.path, retentionDays: t.url.retentionDays };
}

const trimSlash = (s: string) => s.replace(/\/+$/, "").toLowerCase();

/**
 * Whether the audit writes where the baseline says. A URL audit's retention is compared only where the instance
 * reports it (sys.server_file_audits has no documented retention column): an unreported retention is not a
 * difference to fix, since re-targeting the audit would switch it off and on for nothing.
 */
export function targetMatches(observed: AuditTarget, desired: Baseline["managedInstance"]): boolean {
  const want = desiredTarget(desired);
  if (want === "EXTERNAL_MONITOR") return observed.kind === "EXTERNAL_MONITOR";
  return observed.kind === "URL" && observed.path !== null && trimSlash(observed.path) === trimSlash(want.url) && (observed.retentionDays === null || observed.retentionDays === want.retentionDays);
}

export function describeTarget(target: AuditTarget): string {
  if (target.kind === "EXTERNAL_MONITOR") return "EXTERNAL_MONITOR";
  if (target.kind === "URL") return `URL ${target.path ?? "(path unknown)"}${target.retentionDays === null ? " (retention not reported)" : `, retention ${target.retentionDays} days`}`;
  return target.description;
}

export function missingGroups(spec: ObservedSpecification, required: readonly string[]): string[] {
  const have = new Set(spec.groups.map((g) => g.toUpperCase()));
  return required.filter((g) => !have.has(g));
}
