import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// `npm start`: the demo remediates the drifted estate, and a second run finds what the first fixed compliant.
test("npm start twice: what the first run fixed, the second finds compliant", () => {
  const dir = mkdtempSync(join(tmpdir(), "auditguard-demo-"));
  const run = () =>
    execFileSync(process.execPath, ["--import", "tsx", join(process.cwd(), "scripts", "demo.ts")], {
      env: { ...process.env, AUDITGUARD_DEMO_DIR: dir, IDENTITY_ENDPOINT: "", IDENTITY_HEADER: "" },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  const statusOf = (output: string, name: string) => new RegExp(`^\\S+\\s+${name}\\s+(\\S+)`, "m").exec(output)?.[1];
  const first = run();
  assert.match(first, /first run: a drifted estate/);
  assert.equal(statusOf(first, "sql-ana-01"), "remediated");
  assert.equal(statusOf(first, "syn-ana-03"), "remediated");
  assert.equal(statusOf(first, "mi-dev-02"), "exempt");
  assert.equal(statusOf(first, "mi-prod-02"), "remediated", "a Managed Instance fixed over TDS with T-SQL");
  assert.equal(statusOf(first, "mi-ana-01"), "noncompliant", "a login without ALTER ANY SERVER AUDIT cannot fix it");
  assert.match(first, /mi-ana-01 .*SQL15247/);
  assert.ok(existsSync(join(dir, "report.json")));
  const report = JSON.parse(readFileSync(join(dir, "report.json"), "utf8")) as { summary: { targets: number } };
  assert.equal(report.summary.targets, 15);
  const second = run();
  assert.match(second, /a later run/);
  assert.equal(statusOf(second, "sql-ana-01"), "compliant");
  assert.equal(statusOf(second, "syn-ana-03"), "compliant");
  assert.equal(statusOf(second, "mi-prod-02"), "compliant", "the instance's T-SQL state persisted between runs");
  assert.doesNotMatch(second, /eyJ[A-Za-z0-9_-]{10,}\./, "no token in the demo's output");
});
