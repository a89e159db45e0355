import type { AuditingPolicy, Observation } from "../../core/domain.js";
import type { Rule, RuleContext, RuleOutcome } from "../../core/rules/rule.js";
import { fail, notApplicable, pass, unknown } from "../../core/rules/rule.js";
import { filterAllowed } from "../../core/sql-text/predicate.js";
import type { DesiredAuditing, PolicyKindSpec } from "./spec.js";
import { desiredAuditing } from "./spec.js";

/** Auditing policy rules for SQL logical servers and Synapse workspaces' managed SQL server (same ARM model). */
function withPolicy(spec: PolicyKindSpec, check: (policy: AuditingPolicy, desired: DesiredAuditing, o: Observation) => RuleOutcome) {
  return ({ baseline, observation }: RuleContext): RuleOutcome => {
    if (observation.target.kind !== spec.kind) return notApplicable(`not a ${spec.kind}`);
    const policy = observation.auditingPolicy;
    if (!policy) return unknown("the auditing policy", { code: "NotObserved", message: "no auditing policy observation" });
    if (!policy.ok) return unknown("the auditing policy", policy.error);
    return check(policy.value, desiredAuditing(baseline, spec), observation);
  };
}

export function missingActionGroups(policy: AuditingPolicy, required: readonly string[]): string[] {
  const have = new Set((policy.auditActionsAndGroups ?? []).map((g) => g.toUpperCase()));
  return required.filter((g) => !have.has(g));
}

/** The policy rules of one kind, in catalog order (the diagnostic-setting rule is the kind's own). */
export function serverAuditingRules(spec: PolicyKindSpec): Rule[] {
  const { kind, prefix, label } = spec;
  return [
    {
      id: `${prefix}.auditing.enabled`,
      title: `${label} auditing is enabled`,
      severity: "critical",
      kind,
      rationale: "With the server auditing policy Disabled, no database on it is audited at server level.",
      remedy: "PUT the server auditing policy with state Enabled (other settings kept).",
      remediable: true,
      check: withPolicy(spec, (p) => (p.state === "Enabled" ? pass("state Enabled") : fail(`state ${p.state ?? "unset"}`))),
    },
    {
      id: `${prefix}.auditing.monitor-target`,
      title: `${label} auditing sends to Azure Monitor`,
      severity: "high",
      kind,
      rationale: "State Enabled is not 'sending to my workspace': auditing only to storage passes Azure Policy's check but never reaches Log Analytics.",
      remedy: "PUT the policy with isAzureMonitorTargetEnabled true; the diagnostic setting then routes the events.",
      remediable: true,
      // With auditing off nothing is audited at all: the other settings' drift is secondary to it.
      dependsOn: [`${prefix}.auditing.enabled`],
      check: withPolicy(spec, (p, want) =>
        !want.isAzureMonitorTargetEnabled || p.isAzureMonitorTargetEnabled === true ? pass("Azure Monitor target enabled") : fail("isAzureMonitorTargetEnabled is not true"),
      ),
    },
    {
      id: `${prefix}.auditing.action-groups`,
      title: `${label} auditing records the required action groups`,
      severity: "high",
      kind,
      rationale: "The portal's default groups record every batch and every successful and failed login; without them the audit misses what investigations need.",
      remedy: "PUT the policy with the missing groups added to auditActionsAndGroups (existing groups kept).",
      remediable: true,
      // With auditing off nothing is audited at all: the other settings' drift is secondary to it.
      dependsOn: [`${prefix}.auditing.enabled`],
      check: withPolicy(spec, (p, want) => {
        const missing = missingActionGroups(p, want.actionGroups);
        return missing.length ? fail(`missing ${missing.join(", ")}`, { auditActionsAndGroups: p.auditActionsAndGroups ?? [] }) : pass(`holds ${want.actionGroups.join(", ")}`);
      }),
    },
    {
      id: `${prefix}.auditing.filter`,
      title: `${label} auditing has no filter beyond the one the baseline allows`,
      severity: "high",
      kind,
      rationale:
        "Extended auditing's predicateExpression drops every event it excludes (e.g. statement not like '[select ]%' or one principal), while the policy still reads Enabled: the quiet way to blind an audit.",
      remedy: "PUT extendedAuditingSettings/default with predicateExpression empty (or the baseline's allowedFilter), other settings kept; it needs the extendedAuditingSettings/write action, which SQL Security Manager does not have.",
      remediable: true,
      check: withPolicy(spec, (p, want) => {
        const predicate = typeof p.predicateExpression === "string" && p.predicateExpression.trim() ? p.predicateExpression : null;
        if (filterAllowed(predicate, want.allowedFilter)) return pass(predicate ? `filter is the allowed one: ${predicate}` : "no filter (predicateExpression empty)");
        return fail(predicate ? `auditing records only events matching ${predicate}${want.allowedFilter ? `, not the allowed ${want.allowedFilter}` : ""}` : `no filter, but the baseline's allowedFilter is ${want.allowedFilter}`, {
          predicateExpression: predicate,
          ...(want.allowedFilter ? { allowedFilter: want.allowedFilter } : {}),
        });
      }),
    },
    {
      id: `${prefix}.auditing.retention`,
      title: `${label} audit retention in storage is long enough`,
      severity: "medium",
      kind,
      rationale: "Audit logs kept in storage must outlive the investigations that need them; 0 means unlimited, and auditing only to Log Analytics has no retention to check here.",
      remedy: "PUT the policy with retentionDays at least the baseline's minimum (or 0 for unlimited).",
      remediable: true,
      // With auditing off nothing is audited at all: the other settings' drift is secondary to it.
      dependsOn: [`${prefix}.auditing.enabled`],
      check: withPolicy(spec, (p, want) => {
        if (!p.storageEndpoint) return notApplicable("no storage target: retention is the workspace's");
        const days = p.retentionDays ?? 0;
        if (days === 0) return pass("retention 0: unlimited");
        return days >= want.minRetentionDays ? pass(`retention ${days} days`) : fail(`retention ${days} days, baseline minimum ${want.minRetentionDays}`);
      }),
    },
  ];
}
