import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { renderReport, REPORT_FORMATS } from "../../src/core/report/render.js";
import { csvCell } from "../../src/core/report/formats/csv.js";
import { escapeHtml } from "../../src/core/report/formats/html.js";
import { sampleReport } from "../fixtures/report/sample-report.js";

const report = sampleReport();
/** How each format writes a piece of text: the check looks for it as that format must spell it. */
const spelled = (format: string, text: string) =>
  format === "json" || format === "sarif" ? JSON.stringify(text).slice(1, -1) : format === "html" ? escapeHtml(text) : format === "csv" ? text.replace(/"/g, '""') : text.replace(/\|/g, "\\|").replace(/`/g, "\\`");

describe("every format carries the same content", () => {
  for (const format of REPORT_FORMATS) {
    it(`${format}: every target and every failing rule appears`, () => {
      const { body } = renderReport(report, format);
      for (const t of report.targets) {
        assert.ok(body.includes(spelled(format, t.id)), `${format} has ${t.id}`);
        for (const f of t.findings) assert.ok(body.includes(f.ruleId), `${format} has ${f.ruleId} for ${t.name}`);
      }
      assert.ok(body.includes("ALTER SERVER AUDIT [BackupRestoreAudit] WITH (STATE = ON);"), `${format} shows the exact remediation`);
    });
  }
});

describe("HTML", () => {
  const { body, contentType } = renderReport(report, "html");
  it("is a self-contained page with no script", () => {
    assert.equal(contentType, "text/html; charset=utf-8");
    assert.doesNotMatch(body, /<script/i);
    assert.doesNotMatch(body, /(src|href)=["']https?:/i, "no external assets");
    assert.ok(body.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"), "hostile names are escaped");
  });
  it("draws both charts as accessible SVG", () => {
    assert.match(body, /<svg id="chart-by-kind" role="img" aria-label="Compliance by kind"/);
    assert.match(body, /<svg id="chart-over-time" role="img" aria-label="Compliance over time"/);
    assert.equal((body.match(/class="point"/g) ?? []).length, 4);
  });
  it("stays reasonable with 2,000 targets", () => {
    const big = renderReport(sampleReport(2000), "html").body;
    assert.ok(big.length < 3_000_000, `${big.length} bytes`);
  });
});

describe("CSV", () => {
  it("is RFC 4180 with formula injection neutralised", () => {
    const { body } = renderReport(report, "csv");
    assert.ok(body.endsWith("\r\n"));
    assert.match(body.split("\r\n")[0]!, /^subscription_id,resource_group,kind,name,resource_id,status,reason,scanned_at,rule_id,severity,finding,observed_at,remediation$/);
    assert.equal(csvCell('=1+1, "quoted"'), `"'=1+1, ""quoted"""`);
    assert.equal(csvCell("@SUM(A1)"), "'@SUM(A1)");
    assert.equal(csvCell("plain"), "plain");
    assert.doesNotMatch(body, /(^|,)=HYPERLINK/m);
  });
});

describe("SARIF 2.1.0", () => {
  // Required properties and enums checked by hand from the OASIS SARIF 2.1.0 specification (sarifLog, run,
  // toolComponent, reportingDescriptor, result); the schema itself cannot be downloaded here.
  const sarif = JSON.parse(renderReport(report, "sarif").body) as {
    version: string;
    runs: Array<{ tool: { driver: { name: string; rules: Array<{ id: string; shortDescription: { text: string }; defaultConfiguration: { level: string } }> } }; results: Array<{ ruleId: string; ruleIndex?: number; level: string; message: { text: string }; locations: Array<{ logicalLocations: Array<{ fullyQualifiedName: string; kind: string }> }> }>; invocations: Array<{ executionSuccessful: boolean }> }>;
  };
  it("has the log's required structure", () => {
    assert.equal(sarif.version, "2.1.0");
    assert.equal(sarif.runs.length, 1);
    const run = sarif.runs[0]!;
    assert.equal(run.tool.driver.name, "AuditGuard");
    assert.equal(run.invocations[0]!.executionSuccessful, true);
    for (const rule of run.tool.driver.rules) {
      assert.ok(rule.id && rule.shortDescription.text);
      assert.ok(["none", "note", "warning", "error"].includes(rule.defaultConfiguration.level));
    }
  });
  it("has one result per open finding, pointing at its rule and resource", () => {
    const run = sarif.runs[0]!;
    const expected = report.targets.reduce((n, t) => n + t.findings.length, 0);
    assert.equal(run.results.length, expected);
    for (const r of run.results) {
      assert.ok(["none", "note", "warning", "error"].includes(r.level));
      assert.equal(run.tool.driver.rules[r.ruleIndex!]!.id, r.ruleId);
      assert.match(r.locations[0]!.logicalLocations[0]!.fullyQualifiedName, /^\/subscriptions\//);
      assert.equal(r.locations[0]!.logicalLocations[0]!.kind, "resource");
    }
  });
});

describe("Markdown", () => {
  it("escapes table pipes and backticks, and fences the changes", () => {
    const { body } = renderReport(report, "markdown");
    assert.ok(body.includes("\\|=cmd"), "pipes in names are escaped");
    assert.match(body, /```sql\nALTER SERVER AUDIT \[BackupRestoreAudit\] WITH \(STATE = ON\);\n```/);
  });
});
