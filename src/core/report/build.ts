import type { Finding, TargetResult, TargetKind, TargetStatus } from "../domain.js";
import type { SummaryCell } from "../summary-cells.js";
import { describeChange, emptyCounts } from "../domain.js";
import { KIND_IDS } from "../../kinds/registry.js";
import { RULES, ruleById } from "../rules/registry.js";
import { redact, redactDeep } from "../redaction.js";
import { TOOL_NAME, TOOL_VERSION } from "../version.js";
import { REPORT_SCHEMA_VERSION, reportActivityEventSchema } from "./model.js";
import type { ComplianceReport, ReportActivityEvent, ReportFinding, ReportHeader, ReportSummary, ReportTarget, StatusCounts } from "./model.js";
import { sameAzureName } from "../names.js";

/**
 * Builds the compliance report from the latest result of each target and the run history. Pure: the results
 * store and the HTTP/CLI layers fetch, this decides what the report says. A report is a header (everything known
 * before the first target: summary, trend, rules, filters) and its targets, so a caller holding 50,000 results in
 * pages can build the header from counts (`reportHeader`) and stream `toReportTarget` over the pages.
 */
export interface ReportFilters {
  subscriptionIds?: string[];
  kinds?: TargetKind[];
  statuses?: TargetStatus[];
  ruleIds?: string[];
}

export interface RunPoint {
  scanId: string;
  finishedAt?: string;
  counts: StatusCounts;
}

function openFindingsOf(result: TargetResult): Finding[] {
  return (result.findingsAfter ?? result.findings).filter((f) => f.status === "fail" || f.status === "error");
}

export function matchesFilters(result: TargetResult, filters: ReportFilters): boolean {
  const t = result.target;
  if (filters.subscriptionIds?.length && !filters.subscriptionIds.some((s) => sameAzureName(s, t.subscriptionId))) return false;
  if (filters.kinds?.length && !filters.kinds.includes(t.kind)) return false;
  if (filters.statuses?.length && !filters.statuses.includes(result.status)) return false;
  if (filters.ruleIds?.length && !openFindingsOf(result).some((f) => filters.ruleIds!.includes(f.ruleId))) return false;
  return true;
}

/**
 * The open finding a failing rule is a consequence of: the first of its dependencies that is open too, followed
 * to one whose own dependencies all pass. Undefined when the rule is a root cause itself.
 */
export function rootCauseOf(ruleId: string, open: ReadonlySet<string>): string | undefined {
  let current = ruleId;
  const seen = new Set([ruleId]);
  for (;;) {
    const next = (ruleById(current)?.dependsOn ?? []).find((d) => open.has(d) && !seen.has(d));
    if (!next) return current === ruleId ? undefined : current;
    seen.add(next);
    current = next;
  }
}

/** Activity evidence as the report shows it: the records that are well formed, each with only what it carries. */
function activityEvents(raw: unknown): ReportActivityEvent[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const events: ReportActivityEvent[] = [];
  for (const item of raw) {
    if (!item || typeof item !== "object") continue;
    const fields = Object.fromEntries(Object.entries(item as Record<string, unknown>).filter(([, v]) => v !== undefined && v !== null && v !== ""));
    // Log Analytics writes times with up to seven fractional digits; reports carry them as ISO 8601 in UTC.
    const when = typeof fields.time === "string" ? new Date(fields.time) : undefined;
    if (when && !Number.isNaN(when.getTime())) fields.time = when.toISOString();
    const parsed = reportActivityEventSchema.safeParse(fields);
    if (parsed.success) events.push(parsed.data);
  }
  return events;
}

function reportFinding(f: Finding, open: ReadonlySet<string>): ReportFinding {
  const cause = rootCauseOf(f.ruleId, open);
  let evidence: ReportFinding["evidence"];
  if (f.evidence) {
    const redacted = JSON.parse(redact(JSON.stringify(f.evidence))) as Record<string, unknown>;
    const events = "events" in redacted ? activityEvents(redacted.events) : undefined;
    evidence = { ...redacted, ...(events ? { events } : {}) };
  }
  return {
    ruleId: f.ruleId,
    status: f.status as "fail" | "error",
    severity: f.severity,
    message: redact(f.message),
    observedAt: f.observedAt,
    ...(cause ? { consequenceOf: cause } : {}),
    ...(evidence ? { evidence } : {}),
  };
}

/** One target of the report, from its latest result: open findings (grouped by cause), changes, exemption. */
export function toReportTarget(raw: TargetResult): ReportTarget {
  // Every string of the result is redacted as a string (not as JSON text, where quotes and newlines are escaped).
  const result = redactDeep(raw);
  const t = result.target;
  // Results come back from storage as JSON, so actions are matched by their exact change, not by identity.
  const applied = new Set(result.applied.map(describeChange));
  const open = openFindingsOf(result);
  const openIds = new Set(open.map((f) => f.ruleId));
  // After remediation, the changes still pending are the plan's that were not applied; a clean target has none.
  const pending = result.findingsAfter ? (open.length ? result.plan.filter((a) => !applied.has(describeChange(a))) : []) : result.plan;
  return {
    id: t.id,
    kind: t.kind,
    name: t.name,
    subscriptionId: t.subscriptionId,
    resourceGroup: t.resourceGroup,
    ...(t.location ? { location: t.location } : {}),
    status: result.status,
    ...(result.reason ? { reason: redact(result.reason) } : {}),
    scanId: result.scanId,
    scannedAt: result.finishedAt,
    findings: open.map((f) => reportFinding(f, openIds)),
    changes: [
      ...result.applied.map((a) => ({ kind: a.kind, description: a.description, ruleIds: a.ruleIds, change: redact(describeChange(a)), applied: true })),
      ...pending.map((a) => ({ kind: a.kind, description: a.description, ruleIds: a.ruleIds, change: redact(describeChange(a)), applied: false })),
    ],
    ...(result.exemption ? { exemption: { reason: result.exemption.reason, ...(result.exemption.expires ? { expires: result.exemption.expires } : {}) } } : {}),
  };
}

/** Counts by status and kind, and the newest scan time, of the results a report covers. */
export function summarize(results: Iterable<Pick<TargetResult, "status" | "finishedAt"> & { target: { kind: TargetKind } }>): ReportSummary {
  const cells: Array<Pick<SummaryCell, "kind" | "status" | "targets">> = [];
  let lastScanAt: string | undefined;
  for (const r of results) {
    cells.push({ kind: r.target.kind, status: r.status, targets: 1 });
    if (!lastScanAt || r.finishedAt > lastScanAt) lastScanAt = r.finishedAt;
  }
  return summaryFromCells(cells, lastScanAt);
}

/** The report's summary from a scan's summary cells (already filtered): the same numbers, without reading a result. */
export function summaryFromCells(cells: ReadonlyArray<Pick<SummaryCell, "kind" | "status" | "targets">>, lastScanAt?: string): ReportSummary {
  const byStatus = emptyCounts();
  const byKind = Object.fromEntries(KIND_IDS.map((k) => [k, emptyCounts()])) as Record<TargetKind, StatusCounts>;
  let targets = 0;
  for (const c of cells) {
    targets += c.targets;
    byStatus[c.status] += c.targets;
    byKind[c.kind][c.status] += c.targets;
  }
  const good = byStatus.compliant + byStatus.remediated + byStatus.exempt;
  return { targets, complianceRatio: targets ? good / targets : 1, byStatus, byKind, ...(lastScanAt ? { lastScanAt } : {}) };
}

/** Everything a report says before its targets: the caller brings the summary (from results or stored counts). */
export function reportHeader(input: { summary: ReportSummary; runs: readonly RunPoint[]; filters?: ReportFilters; now: Date; version?: string }): ReportHeader {
  const filters = input.filters ?? {};
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    generatedAt: input.now.toISOString(),
    tool: { name: TOOL_NAME, version: input.version ?? TOOL_VERSION },
    filters: {
      ...(filters.subscriptionIds?.length ? { subscriptionIds: filters.subscriptionIds } : {}),
      ...(filters.kinds?.length ? { kinds: filters.kinds } : {}),
      ...(filters.statuses?.length ? { statuses: filters.statuses } : {}),
      ...(filters.ruleIds?.length ? { ruleIds: filters.ruleIds } : {}),
    },
    summary: input.summary,
    trend: input.runs
      .filter((r): r is RunPoint & { finishedAt: string } => Boolean(r.finishedAt))
      .sort((a, b) => a.finishedAt.localeCompare(b.finishedAt))
      .map((r) => ({ scanId: r.scanId, finishedAt: r.finishedAt, byStatus: r.counts })),
    rules: RULES.map(({ id, title, severity, kind, rationale, remedy, remediable, dependsOn }) => ({
      id,
      title,
      severity,
      kind,
      rationale,
      remedy,
      remediable,
      ...(dependsOn?.length ? { dependsOn: [...dependsOn] } : {}),
    })),
  };
}

/**
 * The order reports show targets in: what needs attention first (noncompliant, error), then what changed
 * (remediated), then exempt and compliant; by resource id within each. Renderers keep the order they are given,
 * so a caller streaming from the store should read in this order too.
 */
export const STATUS_ORDER: readonly TargetStatus[] = ["noncompliant", "error", "remediated", "exempt", "compliant"];

export function compareForReport(a: Pick<TargetResult, "status"> & { target: { id: string } }, b: Pick<TargetResult, "status"> & { target: { id: string } }): number {
  return STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status) || a.target.id.localeCompare(b.target.id);
}

export function buildReport(input: { results: readonly TargetResult[]; runs: readonly RunPoint[]; filters?: ReportFilters; now: Date; version?: string }): ComplianceReport {
  const results = input.results.filter((r) => matchesFilters(r, input.filters ?? {})).sort(compareForReport);
  return { ...reportHeader({ ...input, summary: summarize(results) }), targets: results.map(toReportTarget) };
}
