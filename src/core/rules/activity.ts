import type { ActivityEvent, ObservedActivity } from "../domain.js";
import { redact } from "../redaction.js";
import type { Rule, RuleContext, RuleOutcome } from "./rule.js";
import { fail, notApplicable, pass, unknown } from "./rule.js";

/**
 * Activity rules read what the audit recorded over the look-back window: COPY_ONLY backups (the classic way to
 * take a copy out without breaking the backup chain), backups and restores through storage accounts nobody
 * approved, and changes to audits or specifications made by anyone but AuditGuard itself.
 */
const BACKUP_IDS = new Set(["BA", "BAL"]);
const BACKUP_RESTORE_IDS = new Set(["BA", "BAL", "RS"]);
const CHANGE_IDS = new Set(["CR", "AL", "DR"]);
const AUDIT_CLASSES = new Set(["A", "SA"]);

/** Storage accounts a BACKUP ... TO URL or RESTORE ... FROM URL statement names. */
export function storageAccountsIn(statement: string): string[] {
  const accounts = new Set<string>();
  for (const match of statement.matchAll(/URL\s*=\s*N?'https?:\/\/([a-z0-9]{3,24})\.blob\.core\.(?:windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)/gi)) {
    accounts.add(match[1]!.toLowerCase());
  }
  return [...accounts];
}

export function isAuditTampering(event: ActivityEvent, scannerPrincipals: readonly string[]): boolean {
  const own = scannerPrincipals.some((p) => p.toLowerCase() === event.serverPrincipalName.toLowerCase());
  if (own) return false;
  return event.actionId === "AUSC" || (CHANGE_IDS.has(event.actionId) && AUDIT_CLASSES.has(event.classType));
}

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
      const hits = a.events.filter((e) => BACKUP_IDS.has(e.actionId) && /\bCOPY_ONLY\b/i.test(e.statement));
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
      const allowed = new Set(baseline.activity.allowedBackupStorageAccounts.map((s) => s.toLowerCase()));
      if (!allowed.size) return notApplicable("no allowed backup storage accounts configured (activity.allowedBackupStorageAccounts)");
      const hits = a.events.filter((e) => BACKUP_RESTORE_IDS.has(e.actionId) && storageAccountsIn(e.statement).some((acct) => !allowed.has(acct)));
      return hits.length
        ? fail(`${hits.length} backup/restore statement${hits.length > 1 ? "s" : ""} used unapproved storage: ${[...new Set(hits.flatMap((e) => storageAccountsIn(e.statement).filter((s) => !allowed.has(s))))].join(", ")}`, { events: evidence(hits) })
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
    dependsOn: ["mi.audit.enabled", "mi.audit.started", "mi.specification.enabled", "mi.diagnostic-setting", "sql.auditing.enabled", "sql.diagnostic-setting", "synapse.auditing.enabled", "synapse.diagnostic-setting"],
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
