import type { Finding, TargetResult, TargetKind, TargetStatus } from "../domain.js";
import { describeChange } from "../domain.js";
import { RULES } from "../rules/registry.js";
import { redact, redactDeep } from "../redaction.js";
import { REPORT_SCHEMA_VERSION } from "./model.js";
import type { ComplianceReport, ReportTarget, StatusCounts } from "./model.js";

/**
 * Builds the compliance report from the latest result of each target and the run history. Pure: the results
 * store and the HTTP/CLI layers fetch, this decides what the report says.
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

const zero = (): StatusCounts => ({ compliant: 0, remediated: 0, noncompliant: 0, exempt: 0, error: 0 });
const KINDS: TargetKind[] = ["sql-managed-instance", "sql-server", "synapse-workspace"];

function openFindingsOf(result: TargetResult): Finding[] {
  return (result.findingsAfter ?? result.findings).filter((f) => f.status === "fail" || f.status === "error");
}

export function matchesFilters(result: TargetResult, filters: ReportFilters): boolean {
  const t = result.target;
  if (filters.subscriptionIds?.length && !filters.subscriptionIds.some((s) => s.toLowerCase() === t.subscriptionId.toLowerCase())) return false;
  if (filters.kinds?.length && !filters.kinds.includes(t.kind)) return false;
  if (filters.statuses?.length && !filters.statuses.includes(result.status)) return false;
  if (filters.ruleIds?.length && !openFindingsOf(result).some((f) => filters.ruleIds!.includes(f.ruleId))) return false;
  return true;
}

function reportTarget(raw: TargetResult): ReportTarget {
  // Every string of the result is redacted as a string (not as JSON text, where quotes and newlines are escaped).
  const result = redactDeep(raw);
  const t = result.target;
  // Results come back from storage as JSON, so actions are matched by their exact change, not by identity.
  const applied = new Set(result.applied.map(describeChange));
  const open = openFindingsOf(result);
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
    findings: open.map((f) => ({
      ruleId: f.ruleId,
      status: f.status as "fail" | "error",
      severity: f.severity,
      message: redact(f.message),
      observedAt: f.observedAt,
      ...(f.evidence ? { evidence: JSON.parse(redact(JSON.stringify(f.evidence))) as Record<string, unknown> } : {}),
    })),
    changes: [
      ...result.applied.map((a) => ({ kind: a.kind, description: a.description, ruleIds: a.ruleIds, change: redact(describeChange(a)), applied: true })),
      ...pending.map((a) => ({ kind: a.kind, description: a.description, ruleIds: a.ruleIds, change: redact(describeChange(a)), applied: false })),
    ],
    ...(result.exemption ? { exemption: { reason: result.exemption.reason, ...(result.exemption.expires ? { expires: result.exemption.expires } : {}) } } : {}),
  };
}

export function buildReport(input: { results: readonly TargetResult[]; runs: readonly RunPoint[]; filters?: ReportFilters; now: Date; version: string }): ComplianceReport {
  const filters = input.filters ?? {};
  const results = input.results.filter((r) => matchesFilters(r, filters)).sort((a, b) => a.target.id.localeCompare(b.target.id));
  const byStatus = zero();
  const byKind = Object.fromEntries(KINDS.map((k) => [k, zero()])) as Record<TargetKind, StatusCounts>;
  for (const r of results) {
    byStatus[r.status]++;
    byKind[r.target.kind][r.status]++;
  }
  const good = byStatus.compliant + byStatus.remediated + byStatus.exempt;
  const lastScanAt = results.map((r) => r.finishedAt).sort().at(-1);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    generatedAt: input.now.toISOString(),
    tool: { name: "AuditGuard", version: input.version },
    filters: {
      ...(filters.subscriptionIds?.length ? { subscriptionIds: filters.subscriptionIds } : {}),
      ...(filters.kinds?.length ? { kinds: filters.kinds } : {}),
      ...(filters.statuses?.length ? { statuses: filters.statuses } : {}),
      ...(filters.ruleIds?.length ? { ruleIds: filters.ruleIds } : {}),
    },
    summary: { targets: results.length, complianceRatio: results.length ? good / results.length : 1, byStatus, byKind, ...(lastScanAt ? { lastScanAt } : {}) },
    trend: input.runs
      .filter((r): r is RunPoint & { finishedAt: string } => Boolean(r.finishedAt))
      .sort((a, b) => a.finishedAt.localeCompare(b.finishedAt))
      .map((r) => ({ scanId: r.scanId, finishedAt: r.finishedAt, byStatus: r.counts })),
    rules: RULES.map(({ id, title, severity, kind, rationale, remedy }) => ({ id, title, severity, kind, rationale, remedy })),
    targets: results.map(reportTarget),
  };
}
