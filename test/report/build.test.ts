import { test } from "node:test";
import assert from "node:assert/strict";
import { buildReport } from "../../src/core/report/build.js";
import { complianceReportSchema } from "../../src/core/report/model.js";
import type { TargetResult } from "../../src/core/domain.js";
import { target } from "../core/fixtures.js";

const finding = (ruleId: string, status: "fail" | "pass" | "error") => ({ ruleId, targetId: "x", status, severity: "high" as const, message: `${ruleId} ${status}`, observedAt: "2026-11-24T10:00:00.000Z" });
const action = { kind: "tsql" as const, ruleIds: ["mi.audit.enabled"], description: "Turn audit on", operation: { op: "set-audit-state" as const, audit: "A", state: "ON" as const }, statement: "ALTER SERVER AUDIT [A] WITH (STATE = ON);" };

function result(name: string, kind: TargetResult["target"]["kind"], status: TargetResult["status"], extra: Partial<TargetResult> = {}): TargetResult {
  return { scanId: "s1", target: target(kind, name), status, mode: "plan", startedAt: "2026-11-24T10:00:00.000Z", finishedAt: "2026-11-24T10:00:05.000Z", findings: [], plan: [], applied: [], ...extra };
}

const results = [
  result("mi-a", "sql-managed-instance", "noncompliant", { findings: [finding("mi.audit.enabled", "fail")], plan: [action] }),
  result("mi-b", "sql-managed-instance", "remediated", { findings: [finding("mi.audit.enabled", "fail")], plan: [action], applied: [JSON.parse(JSON.stringify(action))], findingsAfter: [finding("mi.audit.enabled", "pass")] }),
  result("sql-a", "sql-server", "compliant"),
  result("syn-a", "synapse-workspace", "error", { findings: [finding("synapse.auditing.enabled", "error")] }),
];

test("the report counts, filters and carries the exact changes", () => {
  const report = complianceReportSchema.parse(buildReport({ results, runs: [{ scanId: "s0", finishedAt: "2026-11-23T10:00:00.000Z", counts: { compliant: 1, remediated: 0, noncompliant: 3, exempt: 0, error: 0 } }], now: new Date("2026-11-24T11:00:00Z"), version: "0.1.0" }));
  assert.deepEqual(report.summary.byStatus, { compliant: 1, remediated: 1, noncompliant: 1, exempt: 0, error: 1 });
  assert.equal(report.summary.complianceRatio, 0.5);
  assert.equal(report.summary.byKind["sql-managed-instance"].noncompliant, 1);
  const a = report.targets.find((t) => t.name === "mi-a")!;
  assert.deepEqual(a.changes, [{ kind: "tsql", description: "Turn audit on", ruleIds: ["mi.audit.enabled"], change: "ALTER SERVER AUDIT [A] WITH (STATE = ON);", applied: false }]);
  const b = report.targets.find((t) => t.name === "mi-b")!;
  assert.deepEqual(b.findings, [], "findings after remediation are what counts");
  assert.deepEqual(b.changes.map((c) => c.applied), [true], "an applied change is not listed again as pending");
  assert.equal(report.trend.length, 1);
  const filtered = buildReport({ results, runs: [], now: new Date(), version: "x", filters: { kinds: ["sql-managed-instance"], ruleIds: ["mi.audit.enabled"] } });
  assert.deepEqual(filtered.targets.map((t) => t.name), ["mi-a"]);
  assert.equal(buildReport({ results: [], runs: [], now: new Date(), version: "x" }).summary.complianceRatio, 1);
});

test("the committed JSON Schema of the report matches the code", async () => {
  const { readFileSync } = await import("node:fs");
  const path = await import("node:path");
  const { reportJsonSchema } = await import("../../src/core/report/json-schema.js");
  assert.deepEqual(JSON.parse(readFileSync(path.join(process.cwd(), "schema", "report.schema.json"), "utf8")), reportJsonSchema(), "schema/report.schema.json is stale: npm run schemas");
});
