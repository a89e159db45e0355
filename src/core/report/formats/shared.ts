import type { ReportActivityEvent, ReportFinding, ReportTarget } from "../model.js";
import { KINDS } from "../../../kinds/registry.js";

/** What the human-readable formats (HTML, Markdown, CSV, SARIF's messages) say the same way. */
export const KIND_LABEL: Record<string, string> = { ...Object.fromEntries(KINDS.map((k) => [k.id, k.label])), activity: "activity (every kind)" };
export const KIND_LABEL_PLURAL: Record<string, string> = Object.fromEntries(KINDS.map((k) => [k.id, k.labelPlural]));
export const STATUSES = ["compliant", "remediated", "exempt", "noncompliant", "error"] as const;
export const SEVERITY_ORDER = ["critical", "high", "medium", "low", "info"] as const;

/** ISO 8601 as people read it: "2026-11-24 10:00:07 UTC" (the machine form stays in JSON, CSV and datetime attributes). */
export function readableTime(iso: string): string {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?Z$/.exec(iso);
  return m ? `${m[1]} ${m[2]} UTC` : iso;
}

export interface FindingGroup {
  root: ReportFinding;
  consequences: ReportFinding[];
}

/** A target's open findings as root causes, each with the findings that follow from it (model's consequenceOf). */
export function groupFindings(findings: readonly ReportFinding[]): FindingGroup[] {
  const roots = findings.filter((f) => !f.consequenceOf || !findings.some((r) => r.ruleId === f.consequenceOf));
  return roots.map((root) => ({ root, consequences: findings.filter((f) => f !== root && f.consequenceOf === root.ruleId && roots.every((r) => r !== f)) }));
}

export function eventsOf(finding: ReportFinding): ReportActivityEvent[] {
  return finding.evidence?.events ?? [];
}

/** When a finding happened, and what kind of time that is: the audit records' times for activity, else the observation's. */
export function findingTime(finding: ReportFinding): { label: "event" | "events" | "observed"; from: string; to: string } {
  const times = eventsOf(finding)
    .map((e) => e.time)
    .sort();
  if (!times.length) return { label: "observed", from: finding.observedAt, to: finding.observedAt };
  return { label: times.length === 1 ? "event" : "events", from: times[0]!, to: times.at(-1)! };
}

/** The evidence columns that carry something in at least one record, in the order people read them. */
export const EVENT_COLUMNS: ReadonlyArray<{ key: keyof ReportActivityEvent; label: string }> = [
  { key: "time", label: "When (event)" },
  { key: "principal", label: "Principal" },
  { key: "database", label: "Database" },
  { key: "clientIp", label: "Client IP" },
  { key: "application", label: "Application" },
  { key: "actionName", label: "Action" },
  { key: "actionId", label: "Action id" },
  { key: "storageAccount", label: "Storage account" },
  { key: "statement", label: "Statement (redacted)" },
];

export function presentColumns(events: readonly ReportActivityEvent[]) {
  return EVENT_COLUMNS.filter((c) => events.some((e) => e[c.key] !== undefined && e[c.key] !== ""));
}

/** The changes a finding's rule is fixed by, still to apply. */
export function pendingFor(target: ReportTarget, ruleId: string) {
  return target.changes.filter((c) => !c.applied && c.ruleIds.includes(ruleId));
}

export const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
