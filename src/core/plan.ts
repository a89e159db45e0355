import type { Baseline } from "./policy/schema.js";
import type { AuditingPolicy, Finding, Observation, ObservedDiagnosticSetting, RemediationAction, SqlOperation, TargetKind } from "./domain.js";
import { diagnosticResourceUri } from "./domain.js";
import { renderStatement } from "./sql-text/render.js";
import { ruleById } from "./rules/registry.js";
import { desiredTarget, isView, managedInstanceView, missingGroups, targetMatches } from "./rules/managed-instance-state.js";
import { AUDIT_CATEGORY, desiredDiagnosticSetting, sendsAuditTo } from "./rules/diagnostic-settings.js";
import { desiredAuditing, missingActionGroups } from "./rules/server-auditing.js";

/**
 * Turns failing findings into the exact changes that fix them. Pure. Managed Instance statements come in the
 * order the instance accepts them (reference/tds-and-mi.md §3.2): options and target change only while the audit
 * is OFF (33071), STATE stands alone in its ALTER (33223), groups are added only while the specification is OFF
 * (33229), one specification per audit (33230), and everything is switched back ON last. Only objects the
 * baseline names are touched; an audit AuditGuard did not create is never dropped.
 */
const failing = (findings: readonly Finding[], prefix: string) =>
  findings.filter((f) => f.status === "fail" && f.ruleId.startsWith(prefix) && ruleById(f.ruleId)?.remediable).map((f) => f.ruleId);

function tsql(operation: SqlOperation, ruleIds: string[], description: string): RemediationAction {
  return { kind: "tsql", ruleIds, description, operation, statement: renderStatement(operation) };
}

function planManagedInstance(baseline: Baseline, observation: Observation, findings: readonly Finding[]): RemediationAction[] {
  const ruleIds = failing(findings, "mi.").filter((id) => id !== "mi.diagnostic-setting");
  if (!ruleIds.length) return [];
  const view = managedInstanceView(baseline, observation);
  if (!isView(view)) return [];
  const { desired, audit } = view;
  const auditName = desired.audit.name;
  const specName = desired.specification.name;
  const required = desired.specification.actionGroups;
  const actions: RemediationAction[] = [];
  const has = (id: string) => ruleIds.includes(id);

  // 1. The audit: create it (created disabled), or take it OFF to change its target or options.
  let auditWillBeOn = audit?.isStateEnabled ?? false;
  if (!audit) {
    actions.push(
      tsql(
        { op: "create-audit", audit: auditName, target: desiredTarget(desired), queueDelayMs: desired.audit.queueDelayMs, onFailure: desired.audit.onFailure },
        ["mi.audit.exists", "mi.audit.target", "mi.audit.options"].filter(has),
        `Create server audit ${auditName} (created disabled)`,
      ),
    );
  } else {
    const targetWrong = !targetMatches(audit.target, desired);
    const optionsWrong = audit.queueDelay !== desired.audit.queueDelayMs || audit.onFailure.replace(/ /g, "_").toUpperCase() !== desired.audit.onFailure;
    const restart = audit.isStateEnabled && audit.status !== "STARTED";
    if ((targetWrong || optionsWrong || restart) && audit.isStateEnabled) {
      actions.push(tsql({ op: "set-audit-state", audit: auditName, state: "OFF" }, [], `Turn audit ${auditName} off to change it`));
      auditWillBeOn = false;
    }
    if (targetWrong) actions.push(tsql({ op: "alter-audit-target", audit: auditName, target: desiredTarget(desired) }, ["mi.audit.target"], `Point audit ${auditName} at ${desiredTarget(desired) === "EXTERNAL_MONITOR" ? "EXTERNAL_MONITOR" : "the baseline's URL"}`));
    if (optionsWrong) actions.push(tsql({ op: "alter-audit-options", audit: auditName, queueDelayMs: desired.audit.queueDelayMs, onFailure: desired.audit.onFailure }, ["mi.audit.options"], `Set QUEUE_DELAY and ON_FAILURE of ${auditName}`));
  }

  // 2. The specification bound to the audit.
  const bound = view.boundSpecifications;
  const ours = bound.find((s) => s.name.toLowerCase() === specName.toLowerCase());
  const specRules = ["mi.specification.exists", "mi.specification.groups", "mi.specification.enabled"].filter(has);
  if (!audit || !bound.length) {
    // No specification serves our audit: ours may exist bound to another (or a dropped) audit — it is ours by
    // name, so rebuild it; another audit's own specification is never taken over.
    if (view.namedSpecification) {
      if (view.namedSpecification.isStateEnabled) actions.push(tsql({ op: "set-specification-state", specification: specName, state: "OFF" }, [], `Turn specification ${specName} off to drop it`));
      actions.push(tsql({ op: "drop-specification", specification: specName }, ["mi.specification.exists"], `Drop specification ${specName}, bound to another audit`));
    }
    actions.push(tsql({ op: "create-specification", specification: specName, audit: auditName, groups: [...required] }, specRules, `Create specification ${specName} for ${auditName} with ${required.join(", ")}`));
    actions.push(tsql({ op: "set-specification-state", specification: specName, state: "ON" }, specRules, `Turn specification ${specName} on`));
  } else if (ours) {
    const missing = missingGroups(ours, required);
    if (missing.length) {
      if (ours.isStateEnabled) actions.push(tsql({ op: "set-specification-state", specification: specName, state: "OFF" }, [], `Turn specification ${specName} off to add groups`));
      actions.push(tsql({ op: "add-specification-groups", specification: specName, groups: missing }, ["mi.specification.groups"], `Add ${missing.join(", ")} to ${specName}`));
    }
    if (missing.length || !ours.isStateEnabled) {
      actions.push(tsql({ op: "set-specification-state", specification: specName, state: "ON" }, ["mi.specification.enabled", ...(missing.length ? ["mi.specification.groups"] : [])].filter(has), `Turn specification ${specName} on`));
    }
  }
  // A specification with another name already serves the audit: it is not ours to change (reported, not planned).

  // 3. The audit back ON, last.
  if (!auditWillBeOn) {
    actions.push(tsql({ op: "set-audit-state", audit: auditName, state: "ON" }, ["mi.audit.enabled", "mi.audit.started", "mi.audit.exists"].filter(has), `Turn audit ${auditName} on`));
  }
  return actions;
}

const POLICY_PREFIX: Record<"sql-server" | "synapse-workspace", string> = { "sql-server": "sql.auditing.", "synapse-workspace": "synapse.auditing." };
// Write-only or secret fields never go back in a PUT.
const NEVER_SENT = new Set(["storageAccountAccessKey"]);

function planServerAuditing(baseline: Baseline, observation: Observation, findings: readonly Finding[], kind: "sql-server" | "synapse-workspace"): RemediationAction[] {
  const ruleIds = failing(findings, POLICY_PREFIX[kind]);
  if (!ruleIds.length || !observation.auditingPolicy?.ok) return [];
  const current = observation.auditingPolicy.value;
  const want = desiredAuditing(baseline, kind);
  const body: AuditingPolicy = Object.fromEntries(Object.entries(current).filter(([k, v]) => v !== undefined && !NEVER_SENT.has(k)));
  body.state = "Enabled";
  if (want.isAzureMonitorTargetEnabled) body.isAzureMonitorTargetEnabled = true;
  const missing = missingActionGroups(current, want.actionGroups);
  if (missing.length) body.auditActionsAndGroups = [...(current.auditActionsAndGroups ?? []), ...missing];
  if (current.storageEndpoint && (current.retentionDays ?? 0) !== 0 && (current.retentionDays ?? 0) < want.minRetentionDays) body.retentionDays = want.minRetentionDays;
  return [
    {
      kind: "arm-auditing-put",
      ruleIds,
      description: `Update the auditing policy of ${observation.target.name}: ${ruleIds.join(", ")}`,
      resourceId: observation.target.id,
      policy: "auditingSettings",
      body,
    },
  ];
}

function planDiagnosticSetting(baseline: Baseline, observation: Observation, findings: readonly Finding[], kind: TargetKind): RemediationAction[] {
  const ruleIds = failing(findings, "").filter((id) => id.endsWith(".diagnostic-setting") && ruleById(id)?.kind === kind);
  const desired = desiredDiagnosticSetting(baseline, kind);
  if (!ruleIds.length || !desired || !observation.diagnosticSettings.ok) return [];
  const settings = observation.diagnosticSettings.value;
  if (settings.some((s) => sendsAuditTo(s, desired.workspaceId))) return [];
  const existing = settings.find((s) => s.name.toLowerCase() === desired.name.toLowerCase());
  // Our own setting is updated in place, keeping its other logs and metrics; otherwise a new one is created.
  const base: Omit<ObservedDiagnosticSetting, "name"> = existing
    ? { ...Object.fromEntries(Object.entries(existing).filter(([k]) => k !== "name")), logs: existing.logs.filter((l) => l.category !== AUDIT_CATEGORY) } as Omit<ObservedDiagnosticSetting, "name">
    : { logs: [] };
  const body: Omit<ObservedDiagnosticSetting, "name"> = { ...base, workspaceId: desired.workspaceId, logs: [...base.logs, { category: AUDIT_CATEGORY, enabled: true }] };
  return [
    {
      kind: "diagnostic-setting-put",
      ruleIds,
      description: `${existing ? "Update" : "Create"} diagnostic setting ${desired.name} sending ${AUDIT_CATEGORY} to the designated workspace`,
      resourceUri: diagnosticResourceUri(observation.target),
      name: existing?.name ?? desired.name,
      body,
    },
  ];
}

export function plan(baseline: Baseline, observation: Observation, findings: readonly Finding[]): RemediationAction[] {
  const kind = observation.target.kind;
  const changes = kind === "sql-managed-instance" ? planManagedInstance(baseline, observation, findings) : planServerAuditing(baseline, observation, findings, kind);
  return [...changes, ...planDiagnosticSetting(baseline, observation, findings, kind)];
}
