import type { ActivityEvent, ObservedDiagnosticSetting } from "../domain.js";
import { sendsAuditRecords } from "../rules/diagnostic-settings.js";
import { sameAzureName } from "../names.js";

/**
 * What makes an audit record suspicious, decided on plain data (the sweep's rows, the rules' evidence):
 * - a COPY_ONLY backup: it leaves the backup chain intact, so nobody notices the copy (the seed's own alert);
 * - a backup or restore to or from a URL whose storage account is not approved;
 * - a change to an audit or an audit specification (server or database), or an audit session change, by anyone but
 *   AuditGuard itself.
 * Action ids and class types are compared trimmed ("SQL Audit log format": the blob keeps them padded).
 */
export type SuspicionKind = "copy-only-backup" | "unapproved-backup-destination" | "audit-tampering";

export const SUSPICION_RULES: Record<SuspicionKind, string> = {
  "copy-only-backup": "activity.copy-only-backup",
  "unapproved-backup-destination": "activity.unapproved-backup-destination",
  "audit-tampering": "activity.audit-tampering",
};

const BACKUP_IDS = new Set(["BA", "BAL"]);
const BACKUP_RESTORE_IDS = new Set(["BA", "BAL", "RS"]);
const CHANGE_IDS = new Set(["CR", "AL", "DR"]);
// Server audit (A), server audit specification (SA), database audit specification (DA): "sys.dm_audit_class_type_map".
const AUDIT_CLASSES = new Set(["A", "SA", "DA"]);

/** Storage accounts a BACKUP … TO URL or RESTORE … FROM URL statement names (every URL of a striped backup). */
export function storageAccountsIn(statement: string): string[] {
  const accounts = new Set<string>();
  for (const match of statement.matchAll(/URL\s*=\s*N?'https?:\/\/([a-z0-9]{3,24})\.blob\.core\.(?:windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)/gi)) {
    accounts.add(match[1]!.toLowerCase());
  }
  return [...accounts];
}

export const isCopyOnlyBackup = (e: Pick<ActivityEvent, "actionId" | "statement">) => BACKUP_IDS.has(e.actionId.trim()) && /\bCOPY_ONLY\b/i.test(e.statement);

export function unapprovedAccounts(e: Pick<ActivityEvent, "actionId" | "statement">, allowed: readonly string[]): string[] {
  if (!BACKUP_RESTORE_IDS.has(e.actionId.trim())) return [];
  const ok = new Set(allowed.map((a) => a.toLowerCase()));
  return storageAccountsIn(e.statement).filter((a) => !ok.has(a));
}

export function isAuditTampering(e: Pick<ActivityEvent, "actionId" | "classType" | "serverPrincipalName">, scannerPrincipals: readonly string[]): boolean {
  const own = scannerPrincipals.some((p) => sameAzureName(p, e.serverPrincipalName));
  if (own) return false;
  const action = e.actionId.trim();
  return action === "AUSC" || (CHANGE_IDS.has(action) && AUDIT_CLASSES.has(e.classType.trim()));
}

/** The rules a record makes fail, with the baseline's approved accounts and the scanner's own principals. */
export function suspicionsOf(e: ActivityEvent, activity: { allowedBackupStorageAccounts: readonly string[]; scannerPrincipals: readonly string[] }): SuspicionKind[] {
  const kinds: SuspicionKind[] = [];
  if (isCopyOnlyBackup(e)) kinds.push("copy-only-backup");
  // Without approved accounts configured, the destination check is off (the rule says so), not "every URL is bad".
  if (activity.allowedBackupStorageAccounts.length && unapprovedAccounts(e, activity.allowedBackupStorageAccounts).length) kinds.push("unapproved-backup-destination");
  if (isAuditTampering(e, activity.scannerPrincipals)) kinds.push("audit-tampering");
  return kinds;
}

/** The code of "no diagnostic setting sends the target's audit records to a workspace": nothing to judge. */
export const NO_AUDIT_ROUTE = "NoAuditRoute";

/** Where a target's audit records land: each Log Analytics workspace a diagnostic setting sends them to, and the table. */
export interface AuditRoute {
  workspaceId: string;
  table: "AzureDiagnostics" | "SQLSecurityAuditEvents";
}

export function auditRoutes(settings: readonly ObservedDiagnosticSetting[]): AuditRoute[] {
  const routes = new Map<string, AuditRoute>();
  for (const s of settings) {
    if (!s.workspaceId || !sendsAuditRecords(s)) continue;
    // "Dedicated" writes the resource-specific table; otherwise the shared AzureDiagnostics table.
    const table = s.logAnalyticsDestinationType === "Dedicated" ? "SQLSecurityAuditEvents" : "AzureDiagnostics";
    routes.set(`${s.workspaceId.toLowerCase()}|${table}`, { workspaceId: s.workspaceId, table });
  }
  return [...routes.values()];
}
