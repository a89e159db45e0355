import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sql from "mssql";
import { stringify } from "yaml";
import { ManagedIdentityCredential } from "@azure/identity";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { scanCommand } from "../../src/cli/commands/scan.js";
import { planCommand } from "../../src/cli/commands/plan.js";
import { sqlcmdBatches } from "../support/sqlcmd.js";

// `--format sql` as an operator uses it: the script of a plan-mode scan, run the way sqlcmd runs it (GO batches,
// `:on error exit`: stop at the first error; Microsoft Learn "sqlcmd utility") by the instance's Entra admin on an
// emulated Managed Instance. Afterwards a scan finds the T-SQL rules passing; a section run on the wrong instance
// stops at its first batch and changes nothing there.
const SUB = "11111111-1111-4111-8111-111111111111";
const SCANNER = { principalId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", clientId: "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", displayName: "auditguard-scanner" };
const ADMIN = { principalId: "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", clientId: "6f7a8b9c-0d1e-4f2a-9b3c-4d5e6f7a8b9c", displayName: "sql-admins" };
const instance = (name: string, extra: Record<string, unknown>) => ({
  name,
  dnsZone: "0a1b2c3d4e5f",
  sql: {
    entraAdmin: { name: ADMIN.displayName, objectId: ADMIN.principalId },
    // The scanner may read but not change: the plan is for a person to run.
    logins: [{ kind: "entra", name: SCANNER.displayName, objectId: SCANNER.principalId, permissions: ["VIEW ANY DEFINITION", "VIEW SERVER STATE"] }],
    ...extra,
  },
});

let emu: RunningEmulator;
let config: string;
const dir = mkdtempSync(join(tmpdir(), "auditguard-sql-"));

before(async () => {
  emu = await startEmulator({
    fleet: {
      tenantId: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
      scanner: { ...SCANNER, roleAssignments: [{ scope: `/subscriptions/${SUB}`, role: "Reader" }] },
      otherIdentities: [ADMIN],
      subscriptions: [
        {
          id: SUB,
          displayName: "sql-script",
          resourceGroups: [
            {
              name: "rg",
              managedInstances: [
                instance("mi-drift", {
                  audits: [{ name: "auditguard", target: "EXTERNAL_MONITOR", enabled: false, queueDelay: 1000, onFailure: "CONTINUE" }],
                  serverAuditSpecifications: [{ name: "auditguard-spec", audit: "auditguard", enabled: true, actionGroups: ["AUDIT_CHANGE_GROUP"] }],
                }),
                instance("mi-empty", {}),
              ],
              logAnalyticsWorkspaces: [{ name: "law-sec", customerId: "4e5f6a7b-8c9d-4e0f-9a1b-3c4d5e6f7a8b" }],
            },
          ],
        },
      ],
    },
  });
  process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
  process.env.IDENTITY_HEADER = emu.identity.header;
  const baseline = emulatorBaseline(emu, endpointsOf(emu)) as Record<string, unknown> & { scope: Record<string, unknown> };
  baseline.scope.kinds = ["sql-managed-instance"];
  config = join(dir, "baseline.yaml");
  writeFileSync(config, stringify(baseline));
});
after(() => emu?.stop());

/** Runs batches on one instance as its Entra admin, stopping at the first error as `:on error exit` does. */
async function runAs(instanceName: string, script: string): Promise<{ ran: number; error?: { number?: number; message: string } }> {
  const mi = emu.estate.managedInstances().find((m) => m.name === instanceName)!;
  const pool = new sql.ConnectionPool({
    server: emu.tds!.host,
    port: emu.tds!.port,
    database: "master",
    authentication: { type: "azure-active-directory-access-token", options: { token: emu.issueToken("https://database.windows.net/", { ...ADMIN, roleAssignments: [] }) } },
    options: { encrypt: "strict" as unknown as boolean, serverName: String(mi.properties.fullyQualifiedDomainName), cryptoCredentialsDetails: { ca: [emu.caPem] } },
  });
  await pool.connect();
  let ran = 0;
  try {
    for (const batch of sqlcmdBatches(script, {})) {
      try {
        await pool.request().batch(batch);
      } catch (error) {
        return { ran, error: error as { number?: number; message: string } };
      }
      ran++;
    }
    return { ran };
  } finally {
    await pool.close();
  }
}

const planScript = async () => {
  const output = join(dir, `plan-${Date.now()}.sql`);
  const result = await scanCommand({ config, mode: "plan", output, credential: new ManagedIdentityCredential() });
  return { result, script: (await import("node:fs")).readFileSync(output, "utf8") };
};

describe("the T-SQL script of a plan", () => {
  it("is a sqlcmd script: one batch per statement, commented with the target and rule ids, no transaction", async () => {
    const { result, script } = await planScript();
    assert.equal(result.exitCode, 1, "drift remains");
    assert.match(script, /^:on error exit$/m);
    assert.match(script, /^SET XACT_ABORT ON;$/m);
    assert.doesNotMatch(script, /BEGIN TRAN/i, "audit state changes cannot run in a user transaction");
    assert.match(script, /^-- ===== mi-drift \(\/subscriptions\/.*\/managedInstances\/mi-drift\)$/m);
    assert.match(script, /^-- \d+\. Add BACKUP_RESTORE_GROUP to auditguard-spec \[mi\.specification\.groups\]$/m);
    for (const statement of script.split("\n").filter((l) => /^(ALTER|CREATE|DROP) /.test(l))) {
      const after = script.slice(script.indexOf(statement) + statement.length).split("\n");
      assert.equal(after[1], "GO", `${statement} is a batch of its own`);
    }
  });

  it("run on its instance, it fixes the T-SQL drift; the wrong instance's section stops at its guard and changes nothing", async () => {
    const { script } = await planScript();
    const [head, drift, empty] = script.split(/\n(?=-- ===== )/);
    // The whole file on mi-drift: mi-drift's section runs, mi-empty's guard stops the run.
    const onDrift = await runAs("mi-drift", script);
    assert.equal(onDrift.error?.number, 50000);
    assert.match(onDrift.error.message, /this section is for mi-empty\./);
    // mi-empty's section alone, on mi-drift again: its guard refuses before anything else.
    const wrong = await runAs("mi-drift", `${head}\n${empty}`);
    assert.equal(wrong.error?.number, 50000);
    assert.equal(wrong.ran, 1, "only the header's SET batch ran");
    // Now mi-empty's own section on mi-empty.
    assert.equal((await runAs("mi-empty", `${head}\n${empty}`)).error, undefined);
    assert.ok(drift);
    const after = await planScript();
    assert.doesNotMatch(after.script, /^(ALTER|CREATE|DROP) /m, "no T-SQL change is left");
    assert.match(after.script, /-- No T-SQL change to make\./);
  });

  it("carries the ARM changes as az rest commands with the exact body", async () => {
    const { script } = await planScript();
    const commands = [...script.matchAll(/^az rest --method put --url '([^']+)' --body '([^']+)'$/gm)];
    assert.ok(commands.length >= 2, "a diagnostic setting for each instance");
    for (const [, url, body] of commands) {
      assert.match(url!, /^\/subscriptions\/.*\/providers\/Microsoft\.Insights\/diagnosticSettings\/auditguard-SQLSecurityAuditEvents\?api-version=2021-05-01-preview$/);
      const parsed = JSON.parse(body!) as { properties: { workspaceId: string; logs: Array<{ category: string }> } };
      assert.match(parsed.properties.workspaceId, /\/workspaces\/law-sec$/);
      assert.equal(parsed.properties.logs[0]!.category, "SQLSecurityAuditEvents");
    }
    assert.ok(script.indexOf("/* ARM changes") > script.lastIndexOf("\nGO"), "after the last batch, in a comment sqlcmd skips");
  });

  it("plan --format sql writes the same kind of script for a saved observation", () => {
    const drifted = join(process.cwd(), "test", "fixtures", "core", "mi-drifted.observation.json");
    const result = planCommand({ config: join(process.cwd(), "auditguard.example.yaml"), observation: drifted, format: "sql", now: new Date("2026-11-24T12:00:00Z") });
    assert.equal(result.exitCode, 1);
    assert.deepEqual(
      result.stdout.split("\n").filter((l) => /^(ALTER|CREATE|DROP) /.test(l)),
      [
        "ALTER SERVER AUDIT SPECIFICATION [BackupRestoreAuditSpec] WITH (STATE = OFF);",
        "ALTER SERVER AUDIT SPECIFICATION [BackupRestoreAuditSpec] ADD (BACKUP_RESTORE_GROUP);",
        "ALTER SERVER AUDIT SPECIFICATION [BackupRestoreAuditSpec] WITH (STATE = ON);",
        "ALTER SERVER AUDIT [BackupRestoreAudit] WITH (STATE = ON);",
      ],
    );
    assert.equal(sqlcmdBatches(result.stdout, {}).filter((b) => /^(ALTER|CREATE|DROP) /m.test(b)).length, 4);
  });
});
