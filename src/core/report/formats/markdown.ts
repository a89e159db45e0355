import type { ReportFinding, ReportHeader, ReportTarget } from "../model.js";
import type { ReportWriter } from "../writer.js";
import { KIND_LABEL, eventsOf, findingTime, groupFindings, pct, presentColumns } from "./shared.js";

/**
 * Markdown for a pull request, a wiki or a ticket: the same content as the other formats. Targets come one at a
 * time: a target with findings, changes or an exemption gets a section of its own; a run of targets with nothing
 * to say shares one list.
 */
const cell = (s: string) => s.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/`/g, "\\`").replace(/\r?\n/g, " ");
const fence = (code: string) => {
  const ticks = "`".repeat(Math.max(3, ...[...code.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  return `${ticks}sql\n${code}\n${ticks}`;
};

function when(f: ReportFinding): string {
  const t = findingTime(f);
  return t.from === t.to ? `${t.label} ${t.from}` : `${t.label} ${t.from} to ${t.to}`;
}

function evidenceTable(f: ReportFinding): string[] {
  const events = eventsOf(f);
  if (!events.length) return [];
  const columns = presentColumns(events);
  return [
    "",
    `Audit records behind \`${f.ruleId}\`:`,
    "",
    `| ${columns.map((c) => c.label).join(" | ")} |`,
    `|${columns.map(() => "---").join("|")}|`,
    ...events.map((e) => `| ${columns.map((c) => cell(String(e[c.key] ?? ""))).join(" | ")} |`),
  ];
}

function section(t: ReportTarget): string {
  const out = [`### ${cell(t.name)} (${t.status})`, "", `\`${cell(t.id)}\``, "", `${KIND_LABEL[t.kind] ?? t.kind} · resource group ${cell(t.resourceGroup)} · scanned ${t.scannedAt} (scan ${cell(t.scanId)})`, ""];
  if (t.reason) out.push(`Reason: ${cell(t.reason)}`, "");
  if (t.exemption) out.push(`Exempt: ${cell(t.exemption.reason)}${t.exemption.expires ? ` (until ${t.exemption.expires})` : ""}`, "");
  const evidence: string[] = [];
  for (const { root, consequences } of groupFindings(t.findings)) {
    out.push(`- **${root.ruleId}** (${root.severity}, ${root.status}, ${when(root)}): ${cell(root.message)}`);
    for (const c of consequences) out.push(`  - consequence: **${c.ruleId}** (${c.severity}, ${c.status}): ${cell(c.message)}`);
    evidence.push(...evidenceTable(root), ...consequences.flatMap(evidenceTable));
  }
  if (t.findings.length) out.push("");
  if (evidence.length) out.push(...evidence.slice(1), "");
  for (const c of t.changes) out.push(`${c.applied ? "Applied" : "To apply"}: ${cell(c.description)}`, "", fence(c.change), "");
  return `${out.join("\n")}\n`;
}

export function markdownWriter(header: ReportHeader): ReportWriter {
  let listOpen = false;
  let any = false;
  return {
    begin() {
      const s = header.summary;
      const out: string[] = [];
      out.push(`# AuditGuard compliance report`, "", `Generated ${header.generatedAt} by AuditGuard ${header.tool.version}.`, "");
      const filters = Object.entries(header.filters).map(([k, v]) => `${k} ${(v as string[]).join(", ")}`);
      if (filters.length) out.push(`Filtered by ${cell(filters.join("; "))}.`, "");
      out.push(`**${s.targets} targets, ${pct(s.complianceRatio)} compliant** (compliant, remediated or exempt).`, "");
      out.push("| status | targets |", "|---|---|", ...Object.entries(s.byStatus).map(([k, v]) => `| ${k} | ${v} |`), "");
      out.push("| kind | compliant | remediated | noncompliant | exempt | error |", "|---|---|---|---|---|---|");
      for (const [kind, c] of Object.entries(s.byKind)) out.push(`| ${kind} | ${c.compliant} | ${c.remediated} | ${c.noncompliant} | ${c.exempt} | ${c.error} |`);
      out.push("");
      if (header.trend.length) {
        out.push("## Over time", "", "| scan | finished | compliant | remediated | noncompliant | exempt | error |", "|---|---|---|---|---|---|---|");
        for (const p of header.trend) out.push(`| ${cell(p.scanId)} | ${p.finishedAt} | ${p.byStatus.compliant} | ${p.byStatus.remediated} | ${p.byStatus.noncompliant} | ${p.byStatus.exempt} | ${p.byStatus.error} |`);
        out.push("");
      }
      out.push("## Targets", "");
      return `${out.join("\n")}\n`;
    },
    target(t) {
      any = true;
      if (t.findings.length || t.changes.length || t.exemption || t.reason) {
        const text = `${listOpen ? "\n" : ""}${section(t)}`;
        listOpen = false;
        return text;
      }
      const start = listOpen ? "" : "Targets with nothing to report:\n\n";
      listOpen = true;
      return `${start}- ${cell(t.name)} — ${t.kind} — ${t.status} — scanned ${t.scannedAt} — \`${cell(t.id)}\`\n`;
    },
    end() {
      const out: string[] = [listOpen ? "" : "", ...(any ? [] : ["No targets match.", ""])];
      out.push("## Rules", "", "| id | severity | applies to | title | depends on |", "|---|---|---|---|---|");
      for (const r of header.rules) out.push(`| ${r.id} | ${r.severity} | ${r.kind} | ${cell(r.title)} | ${(r.dependsOn ?? []).join(", ")} |`);
      return `${out.join("\n")}\n`;
    },
  };
}
