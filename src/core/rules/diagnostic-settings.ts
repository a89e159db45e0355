import type { ObservedDiagnosticSetting, TargetKind } from "../domain.js";
import type { Baseline, DesiredDiagnosticSetting } from "../policy/schema.js";
import type { Rule } from "./rule.js";
import { fail, notApplicable, pass, unknown } from "./rule.js";
import { sameAzureName } from "../names.js";

/**
 * Does any diagnostic setting send SQLSecurityAuditEvents to the designated workspace? Any setting that does is
 * accepted, whoever made it: two tools each insisting on their own setting can never both be compliant.
 */
export const AUDIT_CATEGORY = "SQLSecurityAuditEvents";
const COVERING_GROUPS = new Set(["audit", "alllogs"]);

/** Whether a setting sends the audit category (or a group that covers it: audit, allLogs) anywhere. */
export function sendsAuditRecords(setting: ObservedDiagnosticSetting): boolean {
  return setting.logs.some((l) => l.enabled && (l.category === AUDIT_CATEGORY || (l.categoryGroup !== undefined && COVERING_GROUPS.has(l.categoryGroup.toLowerCase()))));
}

export function sendsAuditTo(setting: ObservedDiagnosticSetting, workspaceId: string): boolean {
  return setting.workspaceId !== undefined && sameAzureName(setting.workspaceId, workspaceId) && sendsAuditRecords(setting);
}

/** One kind's diagnostic-setting rule: which kind, its id prefix, where the setting lives, and what the baseline asks. */
export interface DiagnosticRuleSpec {
  kind: TargetKind;
  prefix: string;
  /** Where the setting is, as the rule's title says it: "the Managed Instance". */
  where: string;
  desired: (baseline: Baseline) => DesiredDiagnosticSetting | undefined;
}

export function diagnosticSettingRule({ kind, prefix, where, desired: desiredOf }: DiagnosticRuleSpec): Rule {
  return {
    id: `${prefix}.diagnostic-setting`,
    title: `A diagnostic setting on ${where} sends SQLSecurityAuditEvents to the designated workspace`,
    severity: "critical",
    kind,
    rationale:
      "Audit records reach Log Analytics only through a diagnostic setting with the SQLSecurityAuditEvents category (or the audit/allLogs group); 'auditing enabled' without it sends nothing where the alerts look.",
    remedy: "Create a diagnostic setting with category SQLSecurityAuditEvents to the baseline's workspace; an existing setting that already does so is accepted.",
    remediable: true,
    check: ({ baseline, observation }) => {
      if (observation.target.kind !== kind) return notApplicable(`not a ${kind}`);
      const desired = desiredOf(baseline);
      if (!desired) return notApplicable("the baseline designates no workspace for this kind");
      if (!observation.diagnosticSettings.ok) return unknown("diagnostic settings", observation.diagnosticSettings.error);
      const settings = observation.diagnosticSettings.value;
      const good = settings.filter((s) => sendsAuditTo(s, desired.workspaceId));
      if (good.length) return pass(`setting ${good.map((s) => s.name).join(", ")} sends ${AUDIT_CATEGORY} to the workspace`);
      const toElsewhere = settings.filter(sendsAuditRecords);
      if (toElsewhere.length) {
        return fail(`${AUDIT_CATEGORY} goes to ${toElsewhere.map((s) => s.workspaceId ?? s.storageAccountId ?? s.eventHubName ?? "another destination").join(", ")}, not the designated workspace`, {
          settings: settings.map((s) => s.name),
        });
      }
      return settings.length
        ? fail(`no diagnostic setting sends ${AUDIT_CATEGORY}`, { settings: settings.map((s) => s.name) })
        : fail("the resource has no diagnostic setting");
    },
  };
}
