import type { ComplianceReport, StatusCounts } from "../model.js";

/**
 * A self-contained HTML page an auditor can read and print: no scripts, no external assets, every dynamic string
 * escaped. Charts are inline SVG with titles and labels: compliance by kind, and compliance over time.
 */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
const e = escapeHtml;

const STATUS_COLOURS: Record<keyof StatusCounts, string> = { compliant: "#2e7d32", remediated: "#1565c0", exempt: "#8d6e63", noncompliant: "#c62828", error: "#ef6c00" };
const ORDER: Array<keyof StatusCounts> = ["compliant", "remediated", "exempt", "noncompliant", "error"];
const KIND_LABEL: Record<string, string> = { "sql-managed-instance": "SQL Managed Instances", "sql-server": "SQL servers", "synapse-workspace": "Synapse workspaces" };

function kindChart(report: ComplianceReport): string {
  const kinds = Object.entries(report.summary.byKind);
  const width = 640;
  const left = 170;
  const barWidth = width - left - 20;
  const rowHeight = 34;
  const height = kinds.length * rowHeight + 40;
  const rows = kinds.map(([kind, counts], i) => {
    const total = ORDER.reduce((n, s) => n + counts[s], 0);
    let x = left;
    const y = 10 + i * rowHeight;
    const segments = ORDER.filter((s) => counts[s] > 0).map((s) => {
      const w = total ? (counts[s] / total) * barWidth : 0;
      const rect = `<rect class="bar" data-status="${s}" x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="22" fill="${STATUS_COLOURS[s]}"><title>${e(KIND_LABEL[kind] ?? kind)}: ${counts[s]} ${s}</title></rect>`;
      x += w;
      return rect;
    });
    const empty = total ? "" : `<rect class="bar-empty" x="${left}" y="${y}" width="${barWidth}" height="22" fill="#eceff1"><title>${e(KIND_LABEL[kind] ?? kind)}: no targets</title></rect>`;
    return `<text x="${left - 8}" y="${y + 15}" text-anchor="end" class="axis">${e(KIND_LABEL[kind] ?? kind)} (${total})</text>${segments.join("")}${empty}`;
  });
  const legend = ORDER.map((s, i) => `<rect x="${left + i * 95}" y="${height - 18}" width="10" height="10" fill="${STATUS_COLOURS[s]}"/><text x="${left + i * 95 + 14}" y="${height - 9}" class="legend">${s}</text>`).join("");
  return `<svg id="chart-by-kind" role="img" aria-label="Compliance by kind" viewBox="0 0 ${width} ${height}" width="100%" xmlns="http://www.w3.org/2000/svg"><title>Compliance by kind</title>${rows.join("")}${legend}</svg>`;
}

function trendChart(report: ComplianceReport): string {
  const points = report.trend;
  const width = 640;
  const height = 220;
  const pad = { left: 50, right: 20, top: 15, bottom: 40 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const ratio = (c: StatusCounts) => {
    const total = ORDER.reduce((n, s) => n + c[s], 0);
    return total ? (c.compliant + c.remediated + c.exempt) / total : 1;
  };
  const xs = (i: number) => pad.left + (points.length <= 1 ? w / 2 : (i / (points.length - 1)) * w);
  const ys = (r: number) => pad.top + (1 - r) * h;
  const grid = [0, 0.25, 0.5, 0.75, 1].map((g) => `<line x1="${pad.left}" x2="${width - pad.right}" y1="${ys(g)}" y2="${ys(g)}" class="grid"/><text x="${pad.left - 6}" y="${ys(g) + 4}" text-anchor="end" class="axis">${g * 100}%</text>`).join("");
  const path = points.map((p, i) => `${i ? "L" : "M"}${xs(i).toFixed(1)},${ys(ratio(p.byStatus)).toFixed(1)}`).join(" ");
  const dots = points.map((p, i) => `<circle class="point" cx="${xs(i).toFixed(1)}" cy="${ys(ratio(p.byStatus)).toFixed(1)}" r="4"><title>${e(p.finishedAt)}: ${(ratio(p.byStatus) * 100).toFixed(1)}% compliant (scan ${e(p.scanId)})</title></circle>`).join("");
  const labels = points.length ? `<text x="${xs(0)}" y="${height - 12}" class="axis" text-anchor="start">${e(points[0]!.finishedAt.slice(0, 16).replace("T", " "))}</text><text x="${xs(points.length - 1)}" y="${height - 12}" class="axis" text-anchor="end">${e(points.at(-1)!.finishedAt.slice(0, 16).replace("T", " "))}</text>` : `<text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="axis">no completed scans yet</text>`;
  return `<svg id="chart-over-time" role="img" aria-label="Compliance over time" viewBox="0 0 ${width} ${height}" width="100%" xmlns="http://www.w3.org/2000/svg"><title>Compliance over time</title>${grid}${points.length ? `<path d="${path}" class="line"/>` : ""}${dots}${labels}</svg>`;
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1c2833;padding:0 1rem}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #cfd8dc;padding-bottom:.3rem;margin-top:2.2rem}
.meta{color:#546e7a}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #cfd8dc;border-radius:8px;padding:.8rem 1.1rem;min-width:120px}.card b{display:block;font-size:1.6rem}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:1.5rem}@media(max-width:900px){.charts{grid-template-columns:1fr}}
figure{margin:0;border:1px solid #eceff1;border-radius:8px;padding:.6rem}figcaption{font-weight:600;margin-bottom:.4rem}
table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{border-bottom:1px solid #eceff1;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f7f8}.status{font-weight:600;text-transform:uppercase;font-size:.8rem}
.s-compliant{color:#2e7d32}.s-remediated{color:#1565c0}.s-exempt{color:#8d6e63}.s-noncompliant{color:#c62828}.s-error{color:#ef6c00}
pre{background:#f5f7f8;border:1px solid #e0e6e8;border-radius:6px;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word}
.target{border:1px solid #e0e6e8;border-radius:8px;padding:.4rem 1rem 1rem;margin:1rem 0;page-break-inside:avoid}.rid{color:#607d8b;font-size:.85rem;word-break:break-all}
svg .axis{font-size:12px;fill:#455a64}svg .legend{font-size:11px;fill:#455a64}svg .grid{stroke:#eceff1}svg .line{fill:none;stroke:#1565c0;stroke-width:2}svg .point{fill:#1565c0}
@media print{body{margin:0}.target{break-inside:avoid}}`;

export function renderHtml(report: ComplianceReport): string {
  const s = report.summary;
  const cards = [
    ["Targets", String(s.targets)],
    ["Compliant (incl. remediated, exempt)", `${(s.complianceRatio * 100).toFixed(1)}%`],
    ...ORDER.map((k) => [k[0]!.toUpperCase() + k.slice(1), String(s.byStatus[k])] as [string, string]),
  ]
    .map(([label, value]) => `<div class="card"><b>${e(value!)}</b>${e(label!)}</div>`)
    .join("");
  const rows = report.targets
    .map((t) => `<tr><td>${e(t.name)}<div class="rid">${e(t.id)}</div></td><td>${e(KIND_LABEL[t.kind] ?? t.kind)}</td><td class="status s-${t.status}">${t.status}</td><td>${e(t.scannedAt)}</td><td>${e(t.reason ?? "")}</td></tr>`)
    .join("");
  const details = report.targets
    .filter((t) => t.findings.length || t.changes.length || t.exemption)
    .map((t) => {
      const findings = t.findings.length
        ? `<table><thead><tr><th>Rule</th><th>Severity</th><th>Finding</th><th>Observed</th></tr></thead><tbody>${t.findings.map((f) => `<tr><td><code>${e(f.ruleId)}</code></td><td>${f.severity}</td><td>${e(f.message)}</td><td>${e(f.observedAt)}</td></tr>`).join("")}</tbody></table>`
        : "";
      const changes = t.changes.map((c) => `<p><b>${c.applied ? "Applied" : "Remediation"}:</b> ${e(c.description)}</p><pre><code>${e(c.change)}</code></pre>`).join("");
      const exemption = t.exemption ? `<p><b>Exempt:</b> ${e(t.exemption.reason)}${t.exemption.expires ? ` (until ${e(t.exemption.expires)})` : ""}</p>` : "";
      return `<section class="target" id="t-${e(t.id.replace(/[^A-Za-z0-9]+/g, "-"))}"><h3>${e(t.name)} <span class="status s-${t.status}">${t.status}</span></h3><div class="rid">${e(t.id)}</div><p class="meta">Scanned ${e(t.scannedAt)} (scan ${e(t.scanId)})</p>${exemption}${findings}${changes}</section>`;
    })
    .join("");
  const rules = report.rules.map((r) => `<tr><td><code>${e(r.id)}</code></td><td>${r.severity}</td><td>${e(r.title)}</td><td>${e(r.rationale)}</td><td>${e(r.remedy)}</td></tr>`).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>AuditGuard compliance report</title><style>${CSS}</style></head>
<body>
<h1>SQL auditing compliance</h1>
<p class="meta">Generated ${e(report.generatedAt)} by AuditGuard ${e(report.tool.version)}${s.lastScanAt ? `; last scan ${e(s.lastScanAt)}` : ""}.</p>
<div class="cards" id="summary">${cards}</div>
<div class="charts"><figure><figcaption>Compliance by kind</figcaption>${kindChart(report)}</figure><figure><figcaption>Compliance over time</figcaption>${trendChart(report)}</figure></div>
<h2>Targets</h2>
<table id="targets"><thead><tr><th>Target</th><th>Kind</th><th>Status</th><th>Scanned</th><th>Reason</th></tr></thead><tbody>${rows || `<tr><td colspan="5">No targets match.</td></tr>`}</tbody></table>
<h2>Failing rules and remediation</h2>
${details || "<p>Nothing to remediate.</p>"}
<h2>Rule catalog</h2>
<table id="rules"><thead><tr><th>Rule</th><th>Severity</th><th>Checks that</th><th>Why it matters</th><th>Remedy</th></tr></thead><tbody>${rules}</tbody></table>
</body></html>
`;
}
