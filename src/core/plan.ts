import type { Baseline } from "./policy/schema.js";
import type { AuditingPolicy, BlockedChange, Finding, Observation, ObservedDiagnosticSetting, RemediationAction, SqlOperation, TargetKind } from "./domain.js";
import { diagnosticResourceUri } from "./domain.js";
import { renderStatement } from "./sql-text/render.js";
import { filterAllowed } from "./sql-text/predicate.js";
import { ruleById } from "./rules/registry.js";
import { desiredTarget, isView, managedInstanceView, missingGroups, targetMatches } from "./rules/managed-instance-state.js";
import { AUDIT_CATEGORY, desiredDiagnosticSetting, sendsAuditTo } from "./rules/diagnostic-settings.js";
import { desiredAuditing, missingActionGroups } from "./rules/server-auditing.js";
import { sameAzureName, sameSqlName } from "./names.js";

/**
 * Turns failing findings into the exact changes that fix them. Pure. Managed Instance statements come in the
 * order the instance accepts them ("ALTER SERVER AUDIT (Transact-SQL)", "ALTER SERVER AUDIT SPECIFICATION"):
 * target, options and filter change only while the audit is OFF (33071), STATE stands alone in its ALTER (33223),
 * groups are added only while the specification is OFF (33229), one specification per audit (33230), and
 * everything is switched back ON last.
 *
 * Never worse, and no collateral damage: only objects the baseline names are touched; a specification of the
 * baseline's name bound to another audit is a conflict to report, not something to drop; a policy that writes to
 * storage with an access key is not rewritten (a PUT cannot resend the key, and an endpoint without one means "use
 * the managed identity") unless the baseline says so. What it will not do is returned as `blocked`, with why.
 */
export interface TargetPlan {
  actions: RemediationAction[];
  blocked: BlockedChange[];
}

const failing = (findings: readonly Finding[], prefix: string) =>
  findings.filter((f) => f.status === "fail" && f.ruleId.startsWith(prefix) && ruleById(f.ruleId)?.remediable).map((f) => f.ruleId);

function tsql(operation: SqlOperation, ruleIds: string[], description: string): RemediationAction {
  return { kind: "tsql", ruleIds, description, operation, statement: renderStatement(operation) };
}

const sameOnFailure = (observed: string, want: string) => observed.replace(/ /g, "_").toUpperCase() === want;

function planManagedInstance(baseline: Baseline, observation: Observation, findings: readonly Finding[]): TargetPlan {
  const ruleIds = failing(findings, "mi.").filter((id) => id !== "mi.diagnostic-setting");
  const actions: RemediationAction[] = [];
  const blocked: BlockedChange[] = [];
  if (!ruleIds.length) return { actions, blocked };
  const view = managedInstanceView(baseline, observation);
  if (!isView(view)) return { actions, blocked };
  const { desired, audit } = view;
  const auditName = desired.audit.name;
  const specName = desired.specification.name;
  const required = desired.specification.actionGroups;
  const allowedFilter = desired.audit.allowedFilter;
  const has = (id: string) => ruleIds.includes(id);

  // The specification first, on paper: a conflict over its name blocks the specification's rules, not the audit's.
  const bound = audit ? view.boundSpecifications : [];
  const ours = bound.find((s) => sameSqlName(s.name, specName));
  const specRules = ["mi.specification.exists", "mi.specification.groups", "mi.specification.enabled"].filter(has);
  const named = view.namedSpecification;
  const namedBoundElsewhere = !ours && named !== undefined && named.auditGuid !== null && view.sql.audits.some((a) => a.auditGuid === named.auditGuid && (!audit || a.auditGuid !== audit.auditGuid));
  if (!ours && bound.length) {
    const lacking = bound.every((s) => missingGroups(s, required).length > 0 || !s.isStateEnabled);
    if (lacking && specRules.length) {
      blocked.push({ ruleIds: specRules, reason: `the audit is served by specification ${bound.map((s) => s.name).join(", ")}, which the baseline does not name; AuditGuard does not change another's specification` });
    }
  } else if (!ours && namedBoundElsewhere && specRules.length) {
    const other = view.sql.audits.find((a) => a.auditGuid === named.auditGuid)!;
    blocked.push({
      ruleIds: specRules,
      reason: `specification ${named.name} is bound to audit ${other.name}, not ${auditName}: a conflict over the name (Microsoft's how-to uses the same default); rename one of them, or set managedInstance.specification.name`,
    });
  }

  // 1. The audit: create it (created disabled, with the allowed filter), or take it OFF to change target, options or filter.
  let auditWillBeOn = audit?.isStateEnabled ?? false;
  if (!audit) {
    actions.push(
      tsql(
        { op: "create-audit", audit: auditName, target: desiredTarget(desired), queueDelayMs: desired.audit.queueDelayMs, onFailure: desired.audit.onFailure, ...(allowedFilter ? { predicate: allowedFilter } : {}) },
        ["mi.audit.exists", "mi.audit.target", "mi.audit.options", "mi.audit.filter"].filter(has),
        `Create server audit ${auditName} (created disabled)`,
      ),
    );
  } else {
    const targetWrong = !targetMatches(audit.target, desired);
    const optionsWrong = audit.queueDelay !== desired.audit.queueDelayMs || !sameOnFailure(audit.onFailure, desired.audit.onFailure);
    const filterWrong = !filterAllowed(audit.predicate, allowedFilter);
    const restart = audit.isStateEnabled && audit.status !== "STARTED";
    if ((targetWrong || optionsWrong || filterWrong || restart) && audit.isStateEnabled) {
      actions.push(tsql({ op: "set-audit-state", audit: auditName, state: "OFF" }, [], `Turn audit ${auditName} off to change it`));
      auditWillBeOn = false;
    }
    if (targetWrong) actions.push(tsql({ op: "alter-audit-target", audit: auditName, target: desiredTarget(desired) }, ["mi.audit.target"], `Point audit ${auditName} at ${desiredTarget(desired) === "EXTERNAL_MONITOR" ? "EXTERNAL_MONITOR" : "the baseline's URL"}`));
    if (optionsWrong) actions.push(tsql({ op: "alter-audit-options", audit: auditName, queueDelayMs: desired.audit.queueDelayMs, onFailure: desired.audit.onFailure }, ["mi.audit.options"], `Set QUEUE_DELAY and ON_FAILURE of ${auditName}`));
    if (filterWrong) {
      actions.push(tsql({ op: "alter-audit-filter", audit: auditName, predicate: allowedFilter ?? null }, ["mi.audit.filter"], allowedFilter ? `Set the filter of ${auditName} to the allowed one` : `Remove the filter of ${auditName}`));
    }
  }

  // 2. The specification bound to the audit.
  if (ours) {
    const missing = missingGroups(ours, required);
    if (missing.length) {
      if (ours.isStateEnabled) actions.push(tsql({ op: "set-specification-state", specification: specName, state: "OFF" }, [], `Turn specification ${specName} off to add groups`));
      actions.push(tsql({ op: "add-specification-groups", specification: specName, groups: missing }, ["mi.specification.groups"], `Add ${missing.join(", ")} to ${specName}`));
    }
    if (missing.length || !ours.isStateEnabled) {
      actions.push(tsql({ op: "set-specification-state", specification: specName, state: "ON" }, ["mi.specification.enabled", ...(missing.length ? ["mi.specification.groups"] : [])].filter(has), `Turn specification ${specName} on`));
    }
  } else if (!bound.length && !namedBoundElsewhere) {
    // No specification serves our audit. One of the baseline's name bound to no existing audit (its audit was
    // dropped) serves nothing: it is rebuilt. Any other is left alone (above).
    if (named) {
      if (named.isStateEnabled) actions.push(tsql({ op: "set-specification-state", specification: specName, state: "OFF" }, [], `Turn specification ${specName} off to drop it (its audit no longer exists)`));
      actions.push(tsql({ op: "drop-specification", specification: specName }, ["mi.specification.exists"], `Drop specification ${specName}, bound to an audit that no longer exists`));
    }
    actions.push(tsql({ op: "create-specification", specification: specName, audit: auditName, groups: [...required] }, specRules, `Create specification ${specName} for ${auditName} with ${required.join(", ")}`));
    actions.push(tsql({ op: "set-specification-state", specification: specName, state: "ON" }, specRules, `Turn specification ${specName} on`));
  }

  // 3. The audit back ON, last.
  if (!auditWillBeOn) {
    actions.push(tsql({ op: "set-audit-state", audit: auditName, state: "ON" }, ["mi.audit.enabled", "mi.audit.started", "mi.audit.exists"].filter(has), `Turn audit ${auditName} on`));
  }
  return { actions, blocked };
}

const POLICY_PREFIX: Record<"sql-server" | "synapse-workspace", string> = { "sql-server": "sql.auditing.", "synapse-workspace": "synapse.auditing." };
// Write-only or secret fields never go back in a PUT.
const NEVER_SENT = new Set(["storageAccountAccessKey"]);

function planServerAuditing(baseline: Baseline, observation: Observation, findings: readonly Finding[], kind: "sql-server" | "synapse-workspace"): TargetPlan {
  const ruleIds = failing(findings, POLICY_PREFIX[kind]);
  if (!ruleIds.length || !observation.auditingPolicy?.ok) return { actions: [], blocked: [] };
  const current = observation.auditingPolicy.value;
  const want = desiredAuditing(baseline, kind);
  // A storage endpoint without the key is read by ARM as "authenticate with the managed identity": resending the
  // policy without the key it never returns would switch a key-based policy to an identity that may have no access.
  const keyBased = Boolean(current.storageEndpoint) && current.isManagedIdentityInUse !== true;
  if (keyBased && want.storageAuthentication === "keep") {
    return {
      actions: [],
      blocked: [
        {
          ruleIds,
          reason: `the policy writes to ${current.storageEndpoint} with ${kind === "synapse-workspace" && current.isManagedIdentityInUse === undefined ? "an access key or an identity (Synapse does not say which)" : "an access key"}; a PUT cannot resend the key and would switch it to the managed identity, so it is not rewritten (set ${kind === "sql-server" ? "sqlServer" : "synapseWorkspace"}.auditing.storageAuthentication: managedIdentity to allow it)`,
        },
      ],
    };
  }
  const body: AuditingPolicy = Object.fromEntries(Object.entries(current).filter(([k, v]) => v !== undefined && !NEVER_SENT.has(k)));
  body.state = "Enabled";
  if (want.isAzureMonitorTargetEnabled) body.isAzureMonitorTargetEnabled = true;
  const missing = missingActionGroups(current, want.actionGroups);
  if (missing.length) body.auditActionsAndGroups = [...(current.auditActionsAndGroups ?? []), ...missing];
  if (current.storageEndpoint && (current.retentionDays ?? 0) !== 0 && (current.retentionDays ?? 0) < want.minRetentionDays) body.retentionDays = want.minRetentionDays;
  // The filter lives in the extended policy, the same policy with predicateExpression: one PUT there fixes everything.
  const filterFails = ruleIds.includes(`${POLICY_PREFIX[kind]}filter`);
  if (filterFails) body.predicateExpression = want.allowedFilter ?? "";
  else delete body.predicateExpression;
  if (keyBased) body.isManagedIdentityInUse = true;
  return {
    actions: [
      {
        kind: "arm-auditing-put",
        ruleIds,
        description: `Update the ${filterFails ? "extended " : ""}auditing policy of ${observation.target.name}: ${ruleIds.join(", ")}${keyBased ? " (switching its storage access to the managed identity, as the baseline allows)" : ""}`,
        resourceId: observation.target.id,
        policy: filterFails ? "extendedAuditingSettings" : "auditingSettings",
        body,
      },
    ],
    blocked: [],
  };
}

function planDiagnosticSetting(baseline: Baseline, observation: Observation, findings: readonly Finding[], kind: TargetKind): RemediationAction[] {
  const ruleIds = failing(findings, "").filter((id) => id.endsWith(".diagnostic-setting") && ruleById(id)?.kind === kind);
  const desired = desiredDiagnosticSetting(baseline, kind);
  if (!ruleIds.length || !desired || !observation.diagnosticSettings.ok) return [];
  const settings = observation.diagnosticSettings.value;
  if (settings.some((s) => sendsAuditTo(s, desired.workspaceId))) return [];
  const existing = settings.find((s) => sameAzureName(s.name, desired.name));
  // Our own setting is updated in place, keeping its other logs and metrics; otherwise a new one is created.
  const base: Omit<ObservedDiagnosticSetting, "name"> = existing
    ? ({ ...Object.fromEntries(Object.entries(existing).filter(([k]) => k !== "name")), logs: existing.logs.filter((l) => l.category !== AUDIT_CATEGORY) } as Omit<ObservedDiagnosticSetting, "name">)
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

export function planTarget(baseline: Baseline, observation: Observation, findings: readonly Finding[]): TargetPlan {
  const kind = observation.target.kind;
  const changes = kind === "sql-managed-instance" ? planManagedInstance(baseline, observation, findings) : planServerAuditing(baseline, observation, findings, kind);
  return { actions: [...changes.actions, ...planDiagnosticSetting(baseline, observation, findings, kind)], blocked: changes.blocked };
}

export function plan(baseline: Baseline, observation: Observation, findings: readonly Finding[]): RemediationAction[] {
  return planTarget(baseline, observation, findings).actions;
}
