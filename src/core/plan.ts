import type { Baseline } from "./policy/schema.js";
import type { BlockedChange, Finding, Observation, ObservedDiagnosticSetting, RemediationAction } from "./domain.js";
import { ruleById } from "./rules/registry.js";
import { AUDIT_CATEGORY, sendsAuditTo } from "./rules/diagnostic-settings.js";
import { sameAzureName } from "./names.js";
import { kindOf } from "../kinds/registry.js";
import type { KindModule } from "../kinds/kind.js";

/**
 * Turns failing findings into the exact changes that fix them. Pure. Each kind plans the fixes of its own rules
 * (src/kinds/<kind>/plan.ts); the diagnostic setting, alike for every kind, is planned here and comes last.
 *
 * Never worse, and no collateral damage: only objects the baseline names are touched, and what a kind will not do
 * (a conflict with an object the baseline does not own, a switch of storage authentication it was not told to make)
 * is returned as `blocked`, with why.
 */
export interface TargetPlan {
  actions: RemediationAction[];
  blocked: BlockedChange[];
}

function planDiagnosticSetting(baseline: Baseline, observation: Observation, ruleIds: string[], kind: KindModule): RemediationAction[] {
  const desired = kind.diagnosticSetting.desired(baseline);
  if (!ruleIds.length || !desired || !observation.diagnosticSettings.ok) return [];
  const settings = observation.diagnosticSettings.value;
  if (settings.some((s) => sendsAuditTo(s, desired.workspaceId))) return [];
  const existing = settings.find((s) => sameAzureName(s.name, desired.name));
  // Our own setting is updated in place, keeping its other logs and metrics; otherwise a new one is created.
  const base: Omit<ObservedDiagnosticSetting, "name"> = existing
    ? ({ ...Object.fromEntries(Object.entries(existing).filter(([k]) => k !== "name")), logs: existing.logs.filter((l) => l.category !== AUDIT_CATEGORY) })
    : { logs: [] };
  const body: Omit<ObservedDiagnosticSetting, "name"> = { ...base, workspaceId: desired.workspaceId, logs: [...base.logs, { category: AUDIT_CATEGORY, enabled: true }] };
  return [
    {
      kind: "diagnostic-setting-put",
      ruleIds,
      description: `${existing ? "Update" : "Create"} diagnostic setting ${desired.name} sending ${AUDIT_CATEGORY} to the designated workspace`,
      resourceUri: kind.diagnosticSetting.resourceUri(observation.target),
      name: existing?.name ?? desired.name,
      body,
    },
  ];
}

export function planTarget(baseline: Baseline, observation: Observation, findings: readonly Finding[]): TargetPlan {
  const kind = kindOf(observation.target.kind);
  const failing = findings.filter((f) => f.status === "fail" && ruleById(f.ruleId)?.remediable && ruleById(f.ruleId)?.kind === kind.id).map((f) => f.ruleId);
  const diagnosticRule = `${kind.rulePrefix}.diagnostic-setting`;
  const changes = kind.plan(baseline, observation, failing.filter((id) => id !== diagnosticRule));
  return { actions: [...changes.actions, ...planDiagnosticSetting(baseline, observation, failing.filter((id) => id === diagnosticRule), kind)], blocked: changes.blocked };
}

export function plan(baseline: Baseline, observation: Observation, findings: readonly Finding[]): RemediationAction[] {
  return planTarget(baseline, observation, findings).actions;
}
