import type { ActivityEvent, ObservedActivity } from "../domain.js";
import { isAuditTampering, isCopyOnlyBackup, NO_AUDIT_ROUTE, unapprovedAccounts } from "../activity/classify.js";
import { redact } from "../redaction.js";
import { KINDS } from "../../kinds/registry.js";
import type { Rule, RuleContext, RuleOutcome } from "./rule.js";
import { fail, notApplicable, pass, unknown } from "./rule.js";

/**
 * Activity rules judge the suspicious audit records the activity sweep found for the target (COPY_ONLY backups, the
 * classic way to take a copy out without breaking the backup chain; backups and restores through storage accounts
 * nobody approved; changes to audits or specifications made by anyone but AuditGuard itself), and whether records
 * keep arriving. A record keeps its rule failing for activity.lookback after it happened; what could not be read
 * completely is "could not decide".
 */
const evidence = (events: ActivityEvent[]) =>
  events.slice(0, 20).map((e) => ({
    time: e.time,
    actionId: e.actionId,
    actionName: e.actionName,
    principal: e.serverPrincipalName,
    database: e.databaseName,
    ...(e.clientIp ? { clientIp: e.clientIp } : {}),
    ...(e.applicationName ? { application: e.applicationName } : {}),
    statement: redact(e.statement),
  }));

function withActivity(check: (activity: ObservedActivity, context: RuleContext) => RuleOutcome) {
  return (context: RuleContext): RuleOutcome => {
    const activity = context.observation.activity;
    if (!activity) return notApplicable("audit activity was not read for this target");
    // No diagnostic setting sends the records anywhere: the diagnostic-setting rule is what fails, and it says so;
    // the activity rules have nothing to judge, and say that, instead of passing an empty history.
    if (!activity.ok && activity.error.code === NO_AUDIT_ROUTE) return notApplicable(`no audit records reach Log Analytics to judge: ${activity.error.message}`);
    if (!activity.ok) return unknown("audit activity from Log Analytics", activity.error);
    return check(activity.value, context);
  };
}

export const activityRules: Rule[] = [
  {
    id: "activity.copy-only-backup",
    title: "No COPY_ONLY backups in the look-back window",
    severity: "high",
    kind: "activity",
    rationale: "A COPY_ONLY backup leaves the backup chain intact, so nobody notices it: the usual way to walk out with a copy of a database.",
    remedy: "Find who ran it (principal, client IP) and where the file went; revoke BACKUP permission where it is not needed.",
    remediable: false,
    check: withActivity((a) => {
      const hits = a.events.filter(isCopyOnlyBackup);
      return hits.length ? fail(`${hits.length} COPY_ONLY backup${hits.length > 1 ? "s" : ""} between ${a.window.from} and ${a.window.to}`, { events: evidence(hits) }) : pass("no COPY_ONLY backups");
    }),
  },
  {
    id: "activity.unapproved-backup-destination",
    title: "Backups and restores use only approved storage accounts",
    severity: "critical",
    kind: "activity",
    rationale: "A backup written to a storage account outside the organisation's control is data exfiltration; a restore from one brings unknown data in.",
    remedy: "Investigate the statement's principal and storage account; add legitimate accounts to activity.allowedBackupStorageAccounts.",
    remediable: false,
    check: withActivity((a, { baseline }) => {
      const allowed = baseline.activity.allowedBackupStorageAccounts;
      if (!allowed.length) return notApplicable("no allowed backup storage accounts configured (activity.allowedBackupStorageAccounts)");
      const hits = a.events.filter((e) => unapprovedAccounts(e, allowed).length > 0);
      return hits.length
        ? fail(`${hits.length} backup/restore statement${hits.length > 1 ? "s" : ""} used unapproved storage: ${[...new Set(hits.flatMap((e) => unapprovedAccounts(e, allowed)))].join(", ")}`, { events: evidence(hits) })
        : pass("every backup and restore used an approved storage account");
    }),
  },
  {
    id: "activity.audit-tampering",
    title: "No one but AuditGuard changed the audit configuration",
    severity: "high",
    kind: "activity",
    rationale: "Switching an audit or specification off, or altering it, before a backup is how the trail gets covered; AuditGuard restores it, but the change itself must be seen.",
    remedy: "Ask the principal why; restrict ALTER ANY SERVER AUDIT to the scanner's identity and break-glass accounts.",
    remediable: false,
    check: withActivity((a, { baseline }) => {
      const hits = a.events.filter((e) => isAuditTampering(e, baseline.activity.scannerPrincipals));
      return hits.length
        ? fail(`${hits.length} audit change${hits.length > 1 ? "s" : ""} by ${[...new Set(hits.map((e) => e.serverPrincipalName))].join(", ")}`, { events: evidence(hits) })
        : pass("no audit changes by other principals");
    }),
  },
  {
    id: "activity.audit-silence",
    title: "Audit records keep arriving",
    severity: "medium",
    kind: "activity",
    rationale: "An audit that looks configured but has sent nothing for hours points at a broken pipeline: a deleted diagnostic setting, a failed session, a full target.",
    remedy: "Check the audit status, the diagnostic setting and the workspace's ingestion.",
    remediable: false,
    // Silence is what a missing or disabled audit, or a missing diagnostic setting, looks like from the workspace.
    dependsOn: KINDS.flatMap((k) => k.deliveryRules),
    check: withActivity((a, { baseline, now }) => {
      const hours = baseline.activity.silenceHours;
      if (hours === undefined) return notApplicable("silence detection is off (activity.silenceHours)");
      if (a.lastEventTime === undefined) return notApplicable("the last audit record time was not read");
      const limit = now.getTime() - hours * 3600_000;
      if (a.lastEventTime === null) return fail(`no audit record in the last ${hours} hours`);
      return new Date(a.lastEventTime).getTime() >= limit ? pass(`last audit record at ${a.lastEventTime}`) : fail(`last audit record at ${a.lastEventTime}, more than ${hours} hours ago`);
    }),
  },
];
