import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { QueueClient } from "@azure/storage-queue";
import { TableClient } from "@azure/data-tables";
import { AZURITE_KEY, startAzurite } from "../../emulator/storage/azurite.js";
import { findSecret } from "../../src/core/redaction.js";

// `npm start`: the demo remediates the drifted estate, and a second run finds what the first fixed compliant.
test("npm start twice: what the first run fixed, the second finds compliant; nothing written carries a secret", async () => {
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
  // The demo's audit history (dated relative to now by the emulator): COPY_ONLY to an unapproved account and an
  // audit switched off, with who, when and from where.
  assert.match(first, /Suspicious activity in the audit/);
  assert.match(first, /mi-prod-01 {2}copy-only-backup, unapproved-backup-destination: j\.doe@contoso\.com from 10\.20\.9\.200 \(Microsoft SQL Server Management Studio - Query\) on payments: BACKUP DATABASE \[payments\] TO URL = 'https:\/\/xfer7731/);
  assert.match(first, /mi-prod-03 {2}audit-tampering: ops-admin@contoso\.com from 10\.20\.4\.7 .* on master: ALTER SERVER AUDIT \[auditguard\] WITH \(STATE = OFF\)/);
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

  // No token, key or password anywhere the demo wrote: its output, its reports, every event and every stored result.
  const written: Array<[string, string]> = [["stdout (first run)", first], ["stdout (second run)", second]];
  for (const file of readdirSync(dir).filter((f) => /^report\./.test(f))) written.push([file, readFileSync(join(dir, file), "utf8")]);
  const azurite = await startAzurite({ location: join(dir, "azurite") });
  try {
    const queue = new QueueClient(azurite.connectionString, "auditguard-events");
    const { peekedMessageItems } = await queue.peekMessages({ numberOfMessages: 32 });
    assert.ok(peekedMessageItems.length > 0, "events were published");
    for (const m of peekedMessageItems) written.push(["event", Buffer.from(m.messageText, "base64").toString("utf8")]);
    for (const table of ["AuditGuardLatest", "AuditGuardResults", "AuditGuardRuns", "AuditGuardLeases"]) {
      for await (const entity of TableClient.fromConnectionString(azurite.connectionString, table, { allowInsecureConnection: true }).listEntities()) written.push([table, JSON.stringify(entity)]);
    }
  } finally {
    await azurite.stop();
  }
  for (const [where, text] of written) {
    assert.equal(findSecret(text), undefined, `${where} carries something that looks like a credential`);
    assert.ok(!text.includes(AZURITE_KEY), `${where} carries the storage key`);
    assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./, `${where} carries a token`);
  }
});
