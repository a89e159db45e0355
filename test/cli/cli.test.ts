import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rulesCommand } from "../../src/cli/commands/rules.js";
import { validateCommand } from "../../src/cli/commands/validate.js";
import { planCommand } from "../../src/cli/commands/plan.js";
import { RULES } from "../../src/core/rules/registry.js";

const example = join(process.cwd(), "auditguard.example.yaml");
const drifted = join(process.cwd(), "test", "fixtures", "core", "mi-drifted.observation.json");
const tmp = mkdtempSync(join(tmpdir(), "auditguard-cli-"));

describe("auditguard rules", () => {
  it("lists every rule as a table or JSON", () => {
    const table = rulesCommand({ format: "table" });
    assert.equal(table.exitCode, 0);
    for (const rule of RULES) assert.match(table.stdout, new RegExp(`^${rule.id.replace(/\./g, "\\.")} `, "m"));
    const json = JSON.parse(rulesCommand({ format: "json" }).stdout) as Array<{ id: string; remedy: string }>;
    assert.deepEqual(json.map((r) => r.id), RULES.map((r) => r.id));
    assert.equal(rulesCommand({ format: "xml" }).exitCode, 2);
  });
});

describe("auditguard validate", () => {
  it("accepts the example", () => {
    const result = validateCommand(example);
    assert.equal(result.exitCode, 0);
    assert.match(result.stdout, /valid \(mode plan; sqlManagedInstance=enforce, sqlServer=plan, synapseWorkspace=plan\)/);
  });
  it("prints every problem with file:line:col and exits 2", () => {
    const bad = join(tmp, "bad.yaml");
    writeFileSync(bad, "version: 1\nmode: sometimes\nscan:\n  concurrency: 0\n");
    const result = validateCommand(bad);
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, new RegExp(`${bad.replace(/[/.]/g, "\\$&")}:2:7: mode: `));
    assert.match(result.stderr, /:4:16: scan\.concurrency: /);
    assert.match(result.stderr, /2 problems; nothing was run/);
  });
  it("a missing file is a clear error", () => {
    const result = validateCommand(join(tmp, "nope.yaml"));
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /cannot read .*nope\.yaml: ENOENT/);
  });
});

describe("auditguard plan", () => {
  it("prints the exact T-SQL for a saved observation and exits 1 when there is drift", () => {
    const result = planCommand({ config: example, observation: drifted, now: new Date("2026-11-24T12:00:00Z") });
    assert.equal(result.exitCode, 1);
    const statements = result.stdout.split("\n").filter((l) => /^(ALTER|CREATE|DROP) /.test(l));
    assert.deepEqual(statements, [
      "ALTER SERVER AUDIT SPECIFICATION [BackupRestoreAuditSpec] WITH (STATE = OFF);",
      "ALTER SERVER AUDIT SPECIFICATION [BackupRestoreAuditSpec] ADD (BACKUP_RESTORE_GROUP);",
      "ALTER SERVER AUDIT SPECIFICATION [BackupRestoreAuditSpec] WITH (STATE = ON);",
      "ALTER SERVER AUDIT [BackupRestoreAudit] WITH (STATE = ON);",
    ]);
    assert.match(result.stdout, /PUT \/subscriptions\/.*\/managedInstances\/mi-1\/providers\/Microsoft\.Insights\/diagnosticSettings\/auditguard-SQLSecurityAuditEvents/);
  });
  it("JSON output carries findings and the plan", () => {
    const result = planCommand({ config: example, observation: drifted, format: "json" });
    const body = JSON.parse(result.stdout) as { plan: unknown[]; findings: unknown[] };
    assert.equal(body.plan.length, 5);
  });
  it("an invalid observation is refused with its path", () => {
    const bad = join(tmp, "obs.json");
    writeFileSync(bad, JSON.stringify({ target: { id: "x" } }));
    const result = planCommand({ config: example, observation: bad });
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /target\.id: must be an ARM resource id/);
  });
});

describe("the built binary", () => {
  const bin = join(process.cwd(), "dist", "src", "cli", "auditguard.js");
  it("wires the commands and exit codes", () => {
    assert.match(execFileSync(process.execPath, [bin, "rules"], { encoding: "utf8" }), /mi\.audit\.exists/);
    assert.equal(spawnSync(process.execPath, [bin, "plan", "--config", example, "--observation", drifted]).status, 1);
    assert.equal(spawnSync(process.execPath, [bin, "validate"]).status, 2, "a missing argument is a usage error");
    assert.equal(spawnSync(process.execPath, [bin, "frobnicate"]).status, 2);
    assert.equal(spawnSync(process.execPath, [bin, "--help"]).status, 0);
  });
  it("--version prints package.json's version", () => {
    const { version } = JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8")) as { version: string };
    const run = spawnSync(process.execPath, [bin, "--version"], { encoding: "utf8" });
    assert.equal(run.status, 0);
    assert.equal(run.stdout.trim(), version);
  });
});

describe("the package's bin, without a build", () => {
  it("runs from the sources through tsx, so npx auditguard works straight after npm ci", () => {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8")) as { version: string; bin: Record<string, string> };
    const shim = join(process.cwd(), pkg.bin.auditguard!);
    const run = spawnSync(process.execPath, [shim, "--version"], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), pkg.version);
    assert.equal(spawnSync(process.execPath, [shim, "validate", example], { encoding: "utf8" }).status, 0);
    assert.equal(spawnSync(process.execPath, [shim, "plan", "--config", example, "--observation", drifted]).status, 1);
  });
});
