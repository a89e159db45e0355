import type { ReportFinding, ReportHeader, ReportTarget, StatusCounts } from "../model.js";
import type { ReportWriter } from "../writer.js";
import { KIND_LABEL, KIND_LABEL_PLURAL, SEVERITY_ORDER, STATUSES, eventsOf, findingTime, groupFindings, pct, presentColumns, readableTime } from "./shared.js";

/**
 * A self-contained HTML page an auditor can read on screen and hand on printed: no scripts, no external assets,
 * every dynamic string escaped. Names come first and resource ids second, on a line of their own; counts are
 * printed, not only in tooltips; charts are inline SVG with their numbers beside them. One table row group per
 * target, in the order the targets arrive, so the page streams.
 */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
const e = escapeHtml;

const COLOUR: Record<keyof StatusCounts, string> = { compliant: "#2e7d32", remediated: "#1565c0", exempt: "#8d6e63", noncompliant: "#c62828", error: "#ef6c00" };
const LABEL: Record<keyof StatusCounts, string> = { compliant: "Compliant", remediated: "Remediated", exempt: "Exempt", noncompliant: "Noncompliant", error: "Error" };
const total = (c: StatusCounts) => STATUSES.reduce((n, s) => n + c[s], 0);
const time = (iso: string) => `<time datetime="${e(iso)}">${e(readableTime(iso))}</time>`;
const badge = (status: string) => `<span class="badge s-${e(status)}">${e(status)}</span>`;
const severity = (s: string) => `<span class="sev sev-${e(s)}">${e(s)}</span>`;

function kindChart(header: ReportHeader): string {
  const kinds = Object.entries(header.summary.byKind);
  const width = 560;
  const left = 168;
  const right = 64;
  const barWidth = width - left - right;
  const rowHeight = 30;
  const height = kinds.length * rowHeight + 8;
  const rows = kinds.map(([kind, counts], i) => {
    const n = total(counts);
    const y = 6 + i * rowHeight;
    let x = left;
    const segments = STATUSES.filter((s) => counts[s] > 0).map((s) => {
      const w = (counts[s] / n) * barWidth;
      const rect = `<rect class="bar" data-status="${s}" x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="20" fill="${COLOUR[s]}"><title>${e(KIND_LABEL_PLURAL[kind] ?? kind)}: ${counts[s]} ${s}</title></rect>`;
      x += w;
      return rect;
    });
    const empty = n ? "" : `<rect class="bar-empty" x="${left}" y="${y}" width="${barWidth}" height="20" fill="#eceff1"><title>${e(KIND_LABEL_PLURAL[kind] ?? kind)}: no targets</title></rect>`;
    return `<text x="${left - 8}" y="${y + 14}" text-anchor="end" class="label">${e(KIND_LABEL_PLURAL[kind] ?? kind)}</text>${segments.join("")}${empty}<text x="${width - right + 8}" y="${y + 14}" class="count">${n}</text>`;
  });
  return `<svg id="chart-by-kind" role="img" aria-label="Compliance by kind" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg"><title>Compliance by kind: targets by status</title>${rows.join("")}</svg>`;
}

/**
 * Each run as a 100% bar split by status (remediated apart from compliant), the share of compliant, remediated and
 * exempt targets as a line over them. Dates are labelled at most every sixth run, so they never overlap.
 */
function trendChart(header: ReportHeader): string {
  const points = header.trend;
  const width = 560;
  const height = 210;
  const pad = { left: 44, right: 12, top: 12, bottom: 34 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  if (!points.length) {
    return `<svg id="chart-over-time" role="img" aria-label="Compliance over time" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg"><title>Compliance over time</title><text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="label">no completed scans yet</text></svg>`;
  }
  const slot = w / points.length;
  const bar = Math.min(36, slot * 0.7);
  const cx = (i: number) => pad.left + (i + 0.5) * slot;
  const ys = (r: number) => pad.top + (1 - r) * h;
  const good = (c: StatusCounts) => (total(c) ? (c.compliant + c.remediated + c.exempt) / total(c) : 1);
  const grid = [0, 0.5, 1].map((g) => `<line x1="${pad.left}" x2="${width - pad.right}" y1="${ys(g)}" y2="${ys(g)}" class="grid"/><text x="${pad.left - 6}" y="${ys(g) + 4}" text-anchor="end" class="axis">${g * 100}%</text>`).join("");
  const bars = points
    .map((p, i) => {
      const n = total(p.byStatus);
      let acc = 0;
      return STATUSES.filter((s) => p.byStatus[s] > 0)
        .map((s) => {
          const share = p.byStatus[s] / n;
          const rect = `<rect class="run-bar" data-status="${s}" x="${(cx(i) - bar / 2).toFixed(1)}" y="${ys(acc + share).toFixed(1)}" width="${bar.toFixed(1)}" height="${(share * h).toFixed(1)}" fill="${COLOUR[s]}" fill-opacity="0.8"><title>${e(readableTime(p.finishedAt))}: ${p.byStatus[s]} ${s}</title></rect>`;
          acc += share;
          return rect;
        })
        .join("");
    })
    .join("");
  const path = points.map((p, i) => `${i ? "L" : "M"}${cx(i).toFixed(1)},${ys(good(p.byStatus)).toFixed(1)}`).join(" ");
  const dots = points.map((p, i) => `<circle class="point" cx="${cx(i).toFixed(1)}" cy="${ys(good(p.byStatus)).toFixed(1)}" r="3.5"><title>${e(readableTime(p.finishedAt))}: ${pct(good(p.byStatus))} compliant, remediated or exempt (scan ${e(p.scanId)})</title></circle>`).join("");
  const every = Math.max(1, Math.ceil(points.length / 6));
  const labelled: number[] = [];
  for (let i = 0; i < points.length; i += every) labelled.push(i);
  if (labelled.at(-1) !== points.length - 1) {
    if (points.length - 1 - labelled.at(-1)! < every) labelled.pop();
    labelled.push(points.length - 1);
  }
  // A label is about 62 px wide: near an edge it moves in rather than out of the chart.
  const labelX = (i: number) => Math.min(Math.max(cx(i), pad.left), width - 34);
  const labels = labelled.map((i) => `<text x="${labelX(i).toFixed(1)}" y="${height - 14}" text-anchor="middle" class="axis x-label">${e(points[i]!.finishedAt.slice(5, 16).replace("T", " "))}</text>`).join("");
  return `<svg id="chart-over-time" role="img" aria-label="Compliance over time" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg"><title>Compliance over time</title>${grid}${bars}${points.length > 1 ? `<path d="${path}" class="line"/>` : ""}${dots}${labels}</svg>`;
}

const legend = () => `<ul class="legend">${STATUSES.map((s) => `<li><span class="swatch" style="background:${COLOUR[s]}"></span>${LABEL[s]}</li>`).join("")}</ul>`;

function kindTable(header: ReportHeader): string {
  const rows = Object.entries(header.summary.byKind).map(
    ([kind, c]) => `<tr><th scope="row">${e(KIND_LABEL_PLURAL[kind] ?? kind)}</th><td>${total(c)}</td>${STATUSES.map((s) => `<td class="${c[s] ? `n-${s}` : "zero"}">${c[s]}</td>`).join("")}</tr>`,
  );
  return `<table id="by-kind" class="counts"><thead><tr><th>Kind</th><th>Targets</th>${STATUSES.map((s) => `<th>${LABEL[s]}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function trendCaption(header: ReportHeader): string {
  const last = header.trend.at(-1);
  if (!last) return "";
  const runs = header.trend.length;
  return `<p class="caption">${runs} scan run${runs === 1 ? "" : "s"}${runs > 1 ? ` from ${time(header.trend[0]!.finishedAt)}` : ""}. Latest, ${time(last.finishedAt)}: ${STATUSES.map((s) => `${last.byStatus[s]} ${s}`).join(", ")}.</p>`;
}

function whenCell(f: ReportFinding): string {
  const t = findingTime(f);
  const range = t.from === t.to ? time(t.from) : `${time(t.from)} to ${time(t.to)}`;
  return `<span class="when-label">${t.label}</span> ${range}`;
}

/**
 * The audit records behind an activity finding, four columns that print on A4: when, who and from where, what on
 * which database, and the statement. A field no record carries has no label anywhere.
 */
function evidenceRows(f: ReportFinding): string {
  const events = eventsOf(f);
  if (!events.length) return "";
  const present = new Set(presentColumns(events).map((c) => c.key));
  const sub = (label: string, value: string | undefined) => (value ? `<div class="sub"><span class="k">${label}</span> ${e(value)}</div>` : "");
  const who = ["Principal", ...(present.has("clientIp") ? ["client IP"] : []), ...(present.has("application") ? ["application"] : [])].join(", ");
  const what = ["Action", ...(present.has("database") ? ["database"] : []), ...(present.has("storageAccount") ? ["storage account"] : [])].join(", ");
  const body = events
    .map(
      (ev) =>
        `<tr><td class="nowrap">${time(ev.time)}</td><td>${e(ev.principal)}${sub("Client IP", ev.clientIp)}${sub("Application", ev.application)}</td><td>${e(ev.actionName ? `${ev.actionName} (${ev.actionId})` : ev.actionId)}${sub("Database", ev.database)}${sub("Storage account", ev.storageAccount)}</td><td class="statement"><code>${e(ev.statement)}</code></td></tr>`,
    )
    .join("");
  return `<tr class="evidence"><td colspan="4"><table class="events"><caption>Audit records behind ${e(f.ruleId)} (${events.length})</caption><thead><tr><th>When (event)</th><th>${who}</th><th>${what}</th><th>Statement (redacted)</th></tr></thead><tbody>${body}</tbody></table></td></tr>`;
}

function findingsTable(t: ReportTarget): string {
  if (!t.findings.length) return "";
  const rows = groupFindings(t.findings)
    .map(({ root, consequences }) => {
      const main = `<tr class="finding"><td>${severity(root.severity)}${root.status === "error" ? ' <span class="could-not">could not decide</span>' : ""}</td><td><code>${e(root.ruleId)}</code></td><td>${e(root.message)}</td><td class="when">${whenCell(root)}</td></tr>`;
      const follow = consequences
        .map((c) => `<tr class="consequence"><td>${severity(c.severity)}</td><td><code>${e(c.ruleId)}</code></td><td><span class="because">consequence of ${e(root.ruleId)}:</span> ${e(c.message)}</td><td class="when">${whenCell(c)}</td></tr>`)
        .join("");
      return `${main}${evidenceRows(root)}${follow}${consequences.map(evidenceRows).join("")}`;
    })
    .join("");
  return `<table class="findings"><thead><tr><th>Severity</th><th>Rule</th><th>Finding</th><th>When</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function findingsSummary(t: ReportTarget): string {
  if (!t.findings.length) return `<span class="none">none</span>`;
  const roots = groupFindings(t.findings).length;
  const worst = SEVERITY_ORDER.find((s) => t.findings.some((f) => f.severity === s))!;
  const n = t.findings.length;
  return `${severity(worst)} ${n} finding${n === 1 ? "" : "s"}${roots < n ? `, ${roots} cause${roots === 1 ? "" : "s"}` : ""}`;
}

function targetRows(t: ReportTarget): string {
  const details = [
    t.reason ? `<p class="reason"><b>Reason:</b> ${e(t.reason)}</p>` : "",
    t.exemption ? `<p class="exempt"><b>Exempt:</b> ${e(t.exemption.reason)}${t.exemption.expires ? ` (until ${e(t.exemption.expires)})` : ""}</p>` : "",
    findingsTable(t),
    ...t.changes.map(
      (c) => `<div class="change"><p><b>${c.applied ? "Applied" : "Remediation (pending)"}:</b> ${e(c.description)}${c.ruleIds.length ? ` <span class="rules">(${c.ruleIds.map((r) => `<code>${e(r)}</code>`).join(", ")})</span>` : ""}</p><pre><code>${e(c.change)}</code></pre></div>`,
    ),
  ].join("");
  const where = [KIND_LABEL[t.kind] ?? t.kind, `resource group ${t.resourceGroup}`, ...(t.location ? [t.location] : [])].map(e).join(" · ");
  return (
    `<tbody class="target s-${t.status}" id="t-${e(t.id.replace(/[^A-Za-z0-9]+/g, "-"))}">` +
    `<tr class="main"><td class="name"><b>${e(t.name)}</b><div class="where">${where}</div></td><td>${badge(t.status)}</td><td>${findingsSummary(t)}</td><td class="nowrap">${time(t.scannedAt)}</td></tr>` +
    `<tr class="rid"><td colspan="4"><code>${e(t.id)}</code></td></tr>` +
    (details ? `<tr class="detail"><td colspan="4">${details}</td></tr>` : "") +
    `</tbody>`
  );
}

const CSS = `
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:1.5rem auto;max-width:1320px;color:#1c2833;padding:0 1.25rem;line-height:1.4;font-size:15px}
h1{margin:0 0 .2rem;font-size:1.7rem}h2{border-bottom:2px solid #cfd8dc;padding-bottom:.25rem;margin:2rem 0 .8rem;font-size:1.25rem}
.meta{color:#546e7a;margin:.2rem 0}
.cards{display:flex;gap:.75rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #cfd8dc;border-left-width:6px;border-radius:6px;padding:.5rem .9rem;flex:1 1 0;min-width:7.5rem}.card.ratio{flex-grow:2}.card b{display:block;font-size:1.5rem}.card span{color:#455a64}
.card.ratio{border-left-color:#37474f}${STATUSES.map((s) => `.card.s-${s}{border-left-color:${COLOUR[s]}}`).join("")}
.overview{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1.25rem;align-items:start}
figure{margin:0;border:1px solid #e0e6e8;border-radius:8px;padding:.7rem .8rem}figcaption{font-weight:600;margin-bottom:.4rem}
figure svg{display:block;width:100%;height:auto}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:.3rem 1rem;padding:0;margin:.4rem 0;font-size:.85rem;color:#455a64}.swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.3rem;vertical-align:-1px}
.caption{font-size:.85rem;color:#455a64;margin:.3rem 0 0}
table{border-collapse:collapse;width:100%}th,td{padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f5f7f8;font-weight:600}
table.counts{font-size:.88rem;grid-column:1/-1}table.counts td,table.counts th{border-bottom:1px solid #eceff1;text-align:right}table.counts th[scope=row]{text-align:left;background:none;font-weight:500}table.counts thead th{background:#f5f7f8}
table.counts td.zero{color:#b0bec5}${STATUSES.map((s) => `td.n-${s}{color:${COLOUR[s]};font-weight:600}`).join("")}
#targets{table-layout:fixed;font-size:.9rem}#targets>thead th{border-bottom:2px solid #cfd8dc}
#targets col.c-name{width:46%}#targets col.c-status{width:12%}#targets col.c-findings{width:22%}#targets col.c-scanned{width:20%}
tbody.target{border-top:1px solid #dfe5e8}tbody.target>tr>td{padding-top:.35rem;padding-bottom:.15rem}
tbody.target>tr>td:first-child{border-left:4px solid transparent}tbody.target.s-noncompliant>tr>td:first-child{border-left-color:${COLOUR.noncompliant}}tbody.target.s-error>tr>td:first-child{border-left-color:${COLOUR.error}}
td.name b{font-size:1rem;overflow-wrap:anywhere}.where{color:#607d8b;font-size:.8rem}
tr.rid td{padding-top:0;padding-bottom:.35rem}tr.rid code{color:#78909c;font-size:.75rem;overflow-wrap:anywhere}
tr.detail>td{padding:.2rem .5rem .8rem 1.2rem}
.badge{display:inline-block;font-weight:700;text-transform:uppercase;font-size:.72rem;letter-spacing:.02em;padding:.1rem .45rem;border-radius:4px;color:#fff}
${STATUSES.map((s) => `.badge.s-${s}{background:${COLOUR[s]}}`).join("")}
.sev{display:inline-block;font-weight:700;text-transform:uppercase;font-size:.68rem;padding:.05rem .35rem;border-radius:3px;border:1px solid}
.sev-critical{color:#fff;background:#b71c1c;border-color:#b71c1c}.sev-high{color:#b71c1c;border-color:#b71c1c}.sev-medium{color:#e65100;border-color:#e65100}.sev-low{color:#455a64;border-color:#90a4ae}.sev-info{color:#607d8b;border-color:#cfd8dc}
.none{color:#90a4ae}.could-not{font-size:.75rem;color:${COLOUR.error};font-weight:600}
table.findings{font-size:.85rem;margin:.3rem 0 .5rem;border:1px solid #e0e6e8}table.findings td,table.findings th{border-bottom:1px solid #eceff1}
table.findings{table-layout:fixed}table.findings code{overflow-wrap:anywhere}table.findings th:nth-child(1){width:8.5rem}table.findings th:nth-child(2){width:14rem}table.findings th:nth-child(4){width:17rem}
tr.consequence td{color:#546e7a;font-size:.8rem}tr.consequence td:first-child{padding-left:1.2rem}.because{font-style:italic}
td.when{font-size:.8rem}td.when time{white-space:nowrap}.when-label{display:inline-block;min-width:3.4rem;color:#607d8b;font-variant:small-caps}
tr.evidence>td{padding:0 .5rem .5rem 1.2rem}table.events{font-size:.78rem;border:1px solid #eceff1}table.events caption{text-align:left;font-weight:600;color:#455a64;padding:.2rem 0}
table.events th,table.events td{border-bottom:1px solid #f0f3f4}table.events{table-layout:fixed}table.events td{overflow-wrap:anywhere}table.events th:nth-child(1){width:11.5rem}table.events th:nth-child(4){width:45%}.sub{color:#546e7a}.sub .k{font-variant:small-caps}
.nowrap{white-space:nowrap}
.change p{margin:.4rem 0 .2rem}.rules{color:#607d8b;font-size:.8rem}
pre{background:#f5f7f8;border:1px solid #e0e6e8;border-radius:6px;padding:.5rem .6rem;margin:.2rem 0 .4rem;white-space:pre-wrap;overflow-wrap:anywhere;font-size:.8rem}
code{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace}
#rules{font-size:.82rem;table-layout:fixed}#rules td,#rules th{border-bottom:1px solid #eceff1}#rules td{overflow-wrap:anywhere}#rules td:first-child{overflow-wrap:anywhere}#rules .title{display:block;color:#455a64}
#rules col.r-id{width:23%}#rules col.r-sev{width:7rem}#rules col.r-kind{width:12%}#rules col.r-why{width:31%}
svg .label{font-size:12px;fill:#37474f}svg .count{font-size:12px;fill:#37474f;font-weight:600}svg .axis{font-size:11px;fill:#546e7a}svg .grid{stroke:#e3e8ea}svg .line{fill:none;stroke:#263238;stroke-width:1.5}svg .point{fill:#263238}
@page{size:A4;margin:12mm 10mm}
@media print{
body{margin:0;padding:0;max-width:none;font-size:10pt;-webkit-print-color-adjust:exact;print-color-adjust:exact}
h2{break-after:avoid}figure,table.counts,tr.main,tr.rid,table.findings tr,table.events tr,.change{break-inside:avoid}tr.main,tr.rid{break-after:avoid}thead{display:table-header-group}
.overview{grid-template-columns:1fr 1fr;gap:.6rem}.card{padding:.3rem .5rem;flex:1 1 6.5rem;min-width:6.5rem}.card b{font-size:1.2rem}
.badge{font-size:6.5pt;padding:.05rem .3rem;letter-spacing:0}table.events th:nth-child(1){width:6.5rem}#rules{font-size:8pt}#rules col.r-sev{width:5.5rem}pre{font-size:7.5pt}tr.rid code{font-size:7pt}
#targets col.c-name{width:39%}#targets col.c-status{width:16%}#targets col.c-findings{width:23%}#targets col.c-scanned{width:22%}td.nowrap{white-space:normal}
table.findings th:nth-child(1){width:6.5rem}table.findings th:nth-child(2){width:11rem}table.findings th:nth-child(4){width:11rem}
}`;

export function htmlWriter(header: ReportHeader): ReportWriter {
  let count = 0;
  return {
    begin() {
      const s = header.summary;
      const cards = [
        `<div class="card"><b>${s.targets}</b><span>Targets</span></div>`,
        `<div class="card ratio"><b>${pct(s.complianceRatio)}</b><span>Compliant, remediated or exempt</span></div>`,
        ...STATUSES.map((k) => `<div class="card s-${k}"><b>${s.byStatus[k]}</b><span>${LABEL[k]}</span></div>`),
      ].join("");
      const filters = Object.entries(header.filters).map(([k, v]) => `${k}: ${(v as string[]).join(", ")}`);
      return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>AuditGuard compliance report</title><style>${CSS}</style></head>
<body>
<h1>SQL auditing compliance</h1>
<p class="meta">Generated ${time(header.generatedAt)} by AuditGuard ${e(header.tool.version)}${s.lastScanAt ? `; last scan ${time(s.lastScanAt)}` : ""}.${filters.length ? ` Filtered by ${e(filters.join("; "))}.` : ""}</p>
<div class="cards" id="summary">${cards}</div>
<div class="overview"><figure><figcaption>Compliance by kind</figcaption>${kindChart(header)}${legend()}</figure><figure><figcaption>Compliance over time</figcaption>${trendChart(header)}${legend()}${trendCaption(header)}</figure>${kindTable(header)}</div>
<h2>Targets</h2>
<table id="targets"><colgroup><col class="c-name"><col class="c-status"><col class="c-findings"><col class="c-scanned"></colgroup><thead><tr><th>Target</th><th>Status</th><th>Open findings</th><th>Scanned</th></tr></thead>`;
    },
    target(t) {
      count++;
      return targetRows(t);
    },
    end() {
      const rules = header.rules
        .map(
          (r) =>
            `<tr><td><code>${e(r.id)}</code><span class="title">${e(r.title)}</span></td><td>${severity(r.severity)}</td><td>${e(KIND_LABEL[r.kind] ?? r.kind)}</td><td>${e(r.rationale)}${r.dependsOn?.length ? ` <i>Depends on ${r.dependsOn.map((d) => `<code>${e(d)}</code>`).join(", ")}.</i>` : ""}</td><td>${e(r.remedy)}${r.remediable ? "" : " <i>(reported, not fixed)</i>"}</td></tr>`,
        )
        .join("");
      return `${count ? "" : `<tbody><tr><td colspan="4">No targets match.</td></tr></tbody>`}</table>
<h2>Rule catalog</h2>
<table id="rules"><colgroup><col class="r-id"><col class="r-sev"><col class="r-kind"><col class="r-why"><col></colgroup><thead><tr><th>Rule: checks that</th><th>Severity</th><th>Applies to</th><th>Why it matters</th><th>Remedy</th></tr></thead><tbody>${rules}</tbody></table>
</body></html>
`;
    },
  };
}
