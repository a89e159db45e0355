import type { Baseline } from "../../core/policy/schema.js";
import type { BlockedChange, Observation, RemediationAction, SqlOperation } from "../../core/domain.js";
import type { TargetPlan } from "../../core/plan.js";
import { renderStatement } from "../../core/sql-text/render.js";
import { filterAllowed } from "../../core/sql-text/predicate.js";
import { sameSqlName } from "../../core/names.js";
import { desiredTarget, isView, managedInstanceView, missingGroups, targetMatches } from "./view.js";

/**
 * The Managed Instance's T-SQL fixes, for the failing rules it is given. Pure. Statements come in the order the
 * instance accepts them ("ALTER SERVER AUDIT (Transact-SQL)", "ALTER SERVER AUDIT SPECIFICATION"): target, options
 * and filter change only while the audit is OFF (33071), STATE stands alone in its ALTER (33223), groups are added
 * only while the specification is OFF (33229), one specification per audit (33230), and everything is switched back
 * ON last. Only objects the baseline names are touched; a specification of the baseline's name bound to another
 * audit is a conflict to report, not something to drop.
 */
function tsql(operation: SqlOperation, ruleIds: string[], description: string): RemediationAction {
  return { kind: "tsql", ruleIds, description, operation, statement: renderStatement(operation) };
}

const sameOnFailure = (observed: string, want: string) => observed.replace(/ /g, "_").toUpperCase() === want;

export function planManagedInstance(baseline: Baseline, observation: Observation, ruleIds: readonly string[]): TargetPlan {
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
