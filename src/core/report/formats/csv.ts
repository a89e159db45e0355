import type { ReportHeader, ReportTarget } from "../model.js";
import type { ReportWriter } from "../writer.js";
import { eventsOf, pendingFor } from "./shared.js";

/**
 * CSV (RFC 4180): one row per (target, open finding), one per audit record for activity findings, one row for a
 * target without findings. Cells a spreadsheet would run as a formula are prefixed with a quote. The file starts
 * with a UTF-8 byte order mark: without it Excel reads UTF-8 as the system code page and garbles non-ASCII names
 * (Microsoft Support, "How to open a CSV file that has UTF-8 characters in Excel").
 */
export const CSV_BOM = "\uFEFF";
export const CSV_HEADER = [
  "subscription_id",
  "resource_group",
  "kind",
  "name",
  "resource_id",
  "status",
  "reason",
  "scanned_at",
  "rule_id",
  "severity",
  "finding",
  "observed_at",
  "remediation",
  "consequence_of",
  "event_time",
  "event_action",
  "event_principal",
  "event_database",
  "event_client_ip",
  "event_application",
  "event_statement",
  "event_storage_account",
];

export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

const row = (cells: readonly string[]) => `${cells.map(csvCell).join(",")}\r\n`;
const NO_EVENT = ["", "", "", "", "", "", "", ""];

export function csvWriter(_header: ReportHeader): ReportWriter {
  return {
    begin: () => `${CSV_BOM}${row(CSV_HEADER)}`,
    target(t: ReportTarget) {
      const base = [t.subscriptionId, t.resourceGroup, t.kind, t.name, t.id, t.status, t.reason ?? "", t.scannedAt];
      if (!t.findings.length) return row([...base, "", "", "", "", t.changes.filter((c) => !c.applied).map((c) => c.change).join("\n"), "", ...NO_EVENT]);
      const lines: string[] = [];
      for (const f of t.findings) {
        const finding = [...base, f.ruleId, f.severity, f.message, f.observedAt, pendingFor(t, f.ruleId).map((c) => c.change).join("\n"), f.consequenceOf ?? ""];
        const events = eventsOf(f);
        if (!events.length) lines.push(row([...finding, ...NO_EVENT]));
        for (const e of events) {
          const action = e.actionName ? `${e.actionName} (${e.actionId})` : e.actionId;
          lines.push(row([...finding, e.time, action, e.principal, e.database ?? "", e.clientIp ?? "", e.application ?? "", e.statement, e.storageAccount ?? ""]));
        }
      }
      return lines.join("");
    },
    end: () => "",
  };
}
