import type { ComplianceReport } from "../model.js";

/** Markdown for a pull request, a wiki or a ticket: the same content as the other formats. */
const cell = (s: string) => s.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/`/g, "\\`").replace(/\r?\n/g, " ");
const fence = (code: string) => {
  const ticks = "`".repeat(Math.max(3, ...[...code.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  return `${ticks}sql\n${code}\n${ticks}`;
};
const pct = (r: number) => `${(r * 100).toFixed(1)}%`;

export function renderMarkdown(report: ComplianceReport): string {
  const s = report.summary;
  const out: string[] = [];
  out.push(`# AuditGuard compliance report`, "", `Generated ${report.generatedAt} by AuditGuard ${report.tool.version}.`, "");
  out.push(`**${s.targets} targets, ${pct(s.complianceRatio)} compliant** (compliant, remediated or exempt).`, "");
  out.push("| status | targets |", "|---|---|", ...Object.entries(s.byStatus).map(([k, v]) => `| ${k} | ${v} |`), "");
  out.push("| kind | compliant | remediated | noncompliant | exempt | error |", "|---|---|---|---|---|---|");
  for (const [kind, c] of Object.entries(s.byKind)) out.push(`| ${kind} | ${c.compliant} | ${c.remediated} | ${c.noncompliant} | ${c.exempt} | ${c.error} |`);
  out.push("");
  if (report.trend.length) {
    out.push("## Over time", "", "| scan | finished | compliant | remediated | noncompliant | exempt | error |", "|---|---|---|---|---|---|---|");
    for (const p of report.trend) out.push(`| ${cell(p.scanId)} | ${p.finishedAt} | ${p.byStatus.compliant} | ${p.byStatus.remediated} | ${p.byStatus.noncompliant} | ${p.byStatus.exempt} | ${p.byStatus.error} |`);
    out.push("");
  }
  out.push("## Targets", "", "| target | kind | status | scanned | reason | resource id |", "|---|---|---|---|---|---|");
  for (const t of report.targets) out.push(`| ${cell(t.name)} | ${t.kind} | ${t.status} | ${t.scannedAt} | ${cell(t.reason ?? "")} | ${cell(t.id)} |`);
  out.push("");
  for (const t of report.targets.filter((x) => x.findings.length || x.changes.length || x.exemption)) {
    out.push(`### ${cell(t.name)} (${t.status})`, "", `\`${cell(t.id)}\``, "");
    if (t.exemption) out.push(`Exempt: ${cell(t.exemption.reason)}${t.exemption.expires ? ` (until ${t.exemption.expires})` : ""}`, "");
    for (const f of t.findings) out.push(`- **${f.ruleId}** (${f.severity}, ${f.status}, observed ${f.observedAt}): ${cell(f.message)}`);
    if (t.findings.length) out.push("");
    for (const c of t.changes) out.push(`${c.applied ? "Applied" : "To apply"}: ${cell(c.description)}`, "", fence(c.change), "");
  }
  out.push("## Rules", "", "| id | severity | applies to | title |", "|---|---|---|---|");
  for (const r of report.rules) out.push(`| ${r.id} | ${r.severity} | ${r.kind} | ${cell(r.title)} |`);
  return `${out.join("\n")}\n`;
}
