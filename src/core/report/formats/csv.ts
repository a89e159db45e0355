import type { ComplianceReport } from "../model.js";

/**
 * CSV (RFC 4180): one row per (target, open finding), one row for a target without findings. Cells that a
 * spreadsheet would run as a formula are prefixed with a quote.
 */
export const CSV_HEADER = ["subscription_id", "resource_group", "kind", "name", "resource_id", "status", "reason", "scanned_at", "rule_id", "severity", "finding", "observed_at", "remediation"];

export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function renderCsv(report: ComplianceReport): string {
  const lines = [CSV_HEADER.join(",")];
  for (const t of report.targets) {
    const pending = t.changes.filter((c) => !c.applied);
    const base = [t.subscriptionId, t.resourceGroup, t.kind, t.name, t.id, t.status, t.reason ?? "", t.scannedAt];
    if (!t.findings.length) {
      lines.push([...base, "", "", "", "", pending.map((c) => c.change).join("\n")].map(csvCell).join(","));
      continue;
    }
    for (const f of t.findings) {
      const fix = pending.filter((c) => c.ruleIds.includes(f.ruleId)).map((c) => c.change).join("\n");
      lines.push([...base, f.ruleId, f.severity, f.message, f.observedAt, fix].map(csvCell).join(","));
    }
  }
  return `${lines.join("\r\n")}\r\n`;
}
