import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { parseBaseline, formatProblems } from "../../src/core/policy/load.js";
import { baselineSchema } from "../../src/core/policy/schema.js";

describe("the baseline file", () => {
  it("the shipped example encodes the seeds' baseline and loads", () => {
    const parsed = parseBaseline(readFileSync(join(process.cwd(), "auditguard.example.yaml"), "utf8"), { fileName: "auditguard.example.yaml" });
    assert.ok(parsed.ok, parsed.ok ? "" : formatProblems(parsed.problems));
    const b = parsed.baseline;
    assert.equal(b.managedInstance.audit.name, "BackupRestoreAudit");
    assert.equal(b.managedInstance.audit.target, "EXTERNAL_MONITOR");
    assert.equal(b.managedInstance.specification.name, "BackupRestoreAuditSpec");
    assert.deepEqual(b.managedInstance.specification.actionGroups, ["BACKUP_RESTORE_GROUP", "AUDIT_CHANGE_GROUP"]);
    assert.equal(b.managedInstance.diagnosticSetting?.category, "SQLSecurityAuditEvents");
    assert.deepEqual(b.synapseWorkspace.auditing.actionGroups, ["BATCH_COMPLETED_GROUP", "SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP", "FAILED_DATABASE_AUTHENTICATION_GROUP"]);
    assert.equal(b.synapseWorkspace.auditing.isAzureMonitorTargetEnabled, true);
  });

  it("a minimal file gets safe defaults: plan mode, the seed's objects", () => {
    const parsed = parseBaseline("version: 1\n");
    assert.ok(parsed.ok);
    assert.equal(parsed.baseline.mode, "plan");
    assert.equal(parsed.baseline.scan.concurrency, 16);
    assert.equal(parsed.baseline.exemptions.tag.name, "auditguard:exempt");
  });

  it("a bad file reports every problem with its path and line, and nothing else", () => {
    const text = [
      "version: 1",
      "mode: enforced",
      "scope:",
      "  subscriptions: [not-a-guid]",
      "  tagz: {}",
      "managedInstance:",
      "  audit:",
      '    name: "x]; DROP SERVER AUDIT [y"',
      "    queueDelayMs: 10",
      "    onFailure: SHUTDOWN",
      "  specification:",
      "    actionGroups: [BACKUP_RESTORE_GROUP, NOPE]",
      "endpoints:",
      "  logAnalytics: https://api.loganalytics.io",
      "sqlServer:",
      "  auditing:",
      "    storageAccountAccessKey: abc",
      "exemptions:",
      "  resources:",
      "    - resourceId: /subscriptions/x",
      "      expires: tomorrow",
    ].join("\n");
    const parsed = parseBaseline(text, { fileName: "bad.yaml" });
    assert.ok(!parsed.ok);
    const got = parsed.problems.map((p) => `${p.line}:${p.path}`);
    assert.deepEqual(got, [
      "2:mode",
      "4:scope.subscriptions[0]",
      "5:scope.tagz",
      "8:managedInstance.audit.name",
      "9:managedInstance.audit.queueDelayMs",
      "10:managedInstance.audit.onFailure",
      "12:managedInstance.specification.actionGroups[1]",
      "14:endpoints.logAnalytics",
      "17:sqlServer.auditing.storageAccountAccessKey",
      "20:exemptions.resources[0].reason",
      "20:exemptions.resources[0].resourceId",
      "21:exemptions.resources[0].expires",
    ]);
    assert.match(formatProblems(parsed.problems, "bad.yaml"), /^bad\.yaml:2:7: mode: /);
    assert.match(parsed.problems.find((p) => p.path.endsWith("storageAccountAccessKey"))!.message, /secrets do not belong/);
  });

  it("YAML syntax errors and JSON errors are reported, not thrown", () => {
    const yaml = parseBaseline("version: 1\nmode: [plan\n");
    assert.ok(!yaml.ok && yaml.problems[0]!.line !== undefined);
    const json = parseBaseline("{ not json", { format: "json" });
    assert.ok(!json.ok && /invalid JSON/.test(json.problems[0]!.message));
    const dup = parseBaseline("version: 1\nmode: plan\nmode: enforce\n");
    assert.ok(!dup.ok);
  });

  it("JSON baselines work the same", () => {
    const parsed = parseBaseline(JSON.stringify({ version: 1, mode: "enforce", modes: { sqlServer: "plan" } }), { fileName: "b.json" });
    assert.ok(parsed.ok);
    assert.equal(parsed.baseline.modes.sqlServer, "plan");
  });

  it("the committed JSON Schema matches the zod schema", () => {
    const committed = JSON.parse(readFileSync(join(process.cwd(), "schema", "auditguard.schema.json"), "utf8"));
    assert.deepEqual(committed, { $id: "urn:auditguard:schema:baseline:1", title: "AuditGuard baseline", ...z.toJSONSchema(baselineSchema, { io: "input", target: "draft-2020-12" }) });
  });
});
