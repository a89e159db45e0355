import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import sql from "mssql";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import type { ScanEnvironment } from "../../src/scan/environment.js";
import { toTarget } from "../../src/scan/run-scan.js";
import { scanTarget } from "../../src/scan/scan-target.js";
import type { Target } from "../../src/core/domain.js";
import { sqlcmdBatches } from "../support/sqlcmd.js";
import { enforcingScanEnvironment } from "../support/estate.js";

// scripts/sql/grant-managed-instance.sql run as an operator runs it (sqlcmd variables, as the instance's Entra
// admin) against an emulated Managed Instance where the Function App's identity has no login yet: before it the
// scan cannot log in, after it with Remediate=0 the scan reads but cannot fix, with Remediate=1 it fixes.
const SUB = "11111111-1111-4111-8111-111111111111";
const APP = { principalId: "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f", clientId: "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a", displayName: "func-auditguard-test" };
const ADMIN = { principalId: "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", clientId: "6f7a8b9c-0d1e-4f2a-9b3c-4d5e6f7a8b9c", displayName: "sql-admins" };
const script = readFileSync(join(process.cwd(), "scripts/sql/grant-managed-instance.sql"), "utf8");

let emu: RunningEmulator;
let env: ScanEnvironment;
let target: Target;

before(async () => {
  emu = await startEmulator({
    fleet: {
      tenantId: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
      scanner: { ...APP, roleAssignments: [{ scope: `/subscriptions/${SUB}`, role: "Contributor" }] },
      otherIdentities: [ADMIN],
      subscriptions: [
        {
          id: SUB,
          displayName: "grant",
          resourceGroups: [
            {
              name: "rg",
              managedInstances: [
                {
                  name: "mi-fresh",
                  dnsZone: "0a1b2c3d4e5f",
                  diagnosticSettings: [{ name: "audit-to-law", workspace: "law-sec", logs: [{ category: "SQLSecurityAuditEvents" }] }],
                  sql: { entraAdmin: { name: ADMIN.displayName, objectId: ADMIN.principalId } },
                },
              ],
              logAnalyticsWorkspaces: [{ name: "law-sec", customerId: "4e5f6a7b-8c9d-4e0f-9a1b-3c4d5e6f7a8b" }],
            },
          ],
        },
      ],
    },
  });
  env = enforcingScanEnvironment(emu);
  const mi = emu.estate.managedInstances()[0]!;
  target = toTarget({ id: mi.id, kind: "sql-managed-instance", name: mi.name, subscriptionId: SUB, resourceGroup: "rg", location: "westeurope", tags: {}, properties: mi.properties });
});
after(() => emu?.stop());

/** Runs the script as the Entra admin through mssql; returns PRINT lines and the final permission rows, or the error. */
async function runScript(variables: Record<string, string>) {
  const pool = new sql.ConnectionPool({
    server: emu.tds!.host,
    port: emu.tds!.port,
    database: "master",
    authentication: { type: "azure-active-directory-access-token", options: { token: emu.issueToken("https://database.windows.net/", { ...ADMIN, roleAssignments: [] }) } },
    options: { encrypt: "strict" as unknown as boolean, serverName: String(target.fullyQualifiedDomainName), cryptoCredentialsDetails: { ca: [emu.caPem] } },
  });
  await pool.connect();
  const printed: string[] = [];
  try {
    let rows: Array<{ permission_name: string }> = [];
    for (const batch of sqlcmdBatches(script, variables)) {
      const request = pool.request();
      request.on("info", (m: { message: string }) => printed.push(m.message));
      const result = await request.batch<{ permission_name: string }>(batch);
      rows = result.recordset ?? rows;
    }
    return { printed, permissions: rows.map((r) => r.permission_name) };
  } finally {
    await pool.close();
  }
}

const scan = (scanId: string) => scanTarget(env, target, { scanId });

describe("grant-managed-instance.sql against an emulated Managed Instance", () => {
  it("without the script the identity cannot log in: the target is in error, not silently compliant", async () => {
    const result = await scan("before");
    assert.equal(result.status, "error");
    assert.match(result.reason ?? "", /18456|Login failed/);
  });

  it("Remediate=0 creates the login with the read permissions only: the scan reads, plans, and cannot fix", async () => {
    const first = await runScript({ IdentityName: APP.displayName, Remediate: "0" });
    assert.deepEqual(first.printed, [`created login [${APP.displayName}]`]);
    assert.deepEqual(first.permissions, ["CONNECT SQL", "VIEW ANY DEFINITION", "VIEW SERVER STATE"]);
    const result = await scan("plan-only");
    assert.equal(result.status, "noncompliant");
    assert.ok(result.plan.some((a) => a.kind === "tsql"), "the missing audit is planned");
    assert.equal(result.failedAction?.error.code, "SQL15247");
    assert.match(result.failedAction?.error.missingPermission ?? "", /^ALTER ANY SERVER AUDIT/);
  });

  it("Remediate=1, run twice, adds ALTER ANY SERVER AUDIT once; the scan then remediates and the next finds it compliant", async () => {
    await runScript({ IdentityName: APP.displayName, Remediate: "1" });
    const again = await runScript({ IdentityName: APP.displayName, Remediate: "1" });
    assert.deepEqual(again.printed, [], "the login is not created twice");
    assert.deepEqual(again.permissions, ["ALTER ANY SERVER AUDIT", "CONNECT SQL", "VIEW ANY DEFINITION", "VIEW SERVER STATE"]);
    assert.equal((await scan("enforce")).status, "remediated");
    assert.equal((await scan("after")).status, "compliant");
  });

  it("Remediate=0 after enforce takes the write permission back", async () => {
    assert.deepEqual((await runScript({ IdentityName: APP.displayName, Remediate: "0" })).permissions, ["CONNECT SQL", "VIEW ANY DEFINITION", "VIEW SERVER STATE"]);
  });

  it("bad variables stop the script with a clear error and change nothing", async () => {
    await assert.rejects(runScript({ IdentityName: "", Remediate: "1" }), (e: { number?: number }) => e.number === 50001);
    await assert.rejects(runScript({ IdentityName: APP.displayName, Remediate: "yes" }), (e: { number?: number }) => e.number === 50002);
    assert.throws(() => sqlcmdBatches(script, { IdentityName: APP.displayName }), /'Remediate' scripting variable not defined/);
    // A name that tries to close the bracket stays one (unknown) name: no login is created, no permission granted.
    const evil = `${APP.displayName}]; GRANT CONTROL SERVER TO [${APP.displayName}`;
    await assert.rejects(runScript({ IdentityName: evil, Remediate: "1" }), (e: { number?: number }) => e.number === 50003 || e.number === 33130);
    assert.deepEqual((await runScript({ IdentityName: APP.displayName, Remediate: "0" })).permissions, ["CONNECT SQL", "VIEW ANY DEFINITION", "VIEW SERVER STATE"]);
  });
});
