import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import sql from "mssql";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import type { ScanEnvironment } from "../../src/scan/environment.js";
import { scanTarget } from "../../src/scan/scan-target.js";
import { toTarget } from "../../src/scan/run-scan.js";
import type { Target } from "../../src/core/domain.js";
import { miFleet } from "../support/mi-fleet.js";
import { enforcingScanEnvironment } from "../support/estate.js";

// A fix that fails part-way never leaves auditing weaker than it found it, and a fix whose reply was lost is judged
// by what the instance shows afterwards. The failures are the engine's own (33227 for QUEUE_DELAY, "ALTER SERVER
// AUDIT (Transact-SQL)"), a connection dropped before a statement runs, and a reply lost after it ran.
const SUB = "11111111-1111-4111-8111-111111111111";
const scannerLogin = { kind: "entra", name: "auditguard-scanner", objectId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", appId: "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", permissions: ["ALTER ANY SERVER AUDIT", "VIEW ANY DEFINITION", "VIEW SERVER STATE"] };
const dba = { name: "dba", password: "test-only-Pa55", permissions: ["sysadmin"] };
const spec = { name: "auditguard-spec", audit: "auditguard", enabled: true, actionGroups: ["BACKUP_RESTORE_GROUP", "AUDIT_CHANGE_GROUP"] };
const audit = (over: Record<string, unknown> = {}) => ({ name: "auditguard", target: "EXTERNAL_MONITOR", enabled: true, queueDelay: 1000, onFailure: "CONTINUE", ...over });

const instances: Record<string, Record<string, unknown>> = {
  // The final STATE = ON runs, and its reply never comes.
  "mi-lost-reply": { audits: [audit({ enabled: false })], serverAuditSpecifications: [spec], faults: [{ statement: "STATE = ON", error: "no-reply", times: 1 }] },
  // The audit is switched off to change its options; the change is refused.
  "mi-refused-options": { audits: [audit({ queueDelay: 5000 })], serverAuditSpecifications: [spec], faults: [{ statement: "QUEUE_DELAY = 1000", error: 33227, times: 1 }] },
  // The audit is switched off to change its filter; the connection drops before the change runs.
  "mi-dropped": { audits: [audit({ predicate: "server_principal_name <> 'mallory'" })], serverAuditSpecifications: [spec], faults: [{ statement: "REMOVE WHERE", error: "drop-connection", times: 1 }] },
  // The specification is switched off to add a group; the change is refused, and so is switching it back on.
  "mi-restore-refused": {
    audits: [audit()],
    serverAuditSpecifications: [{ ...spec, actionGroups: ["AUDIT_CHANGE_GROUP"] }],
    faults: [{ statement: "ADD \\(BACKUP_RESTORE_GROUP\\)", error: 33229, times: 1 }, { statement: "SPECIFICATION .*STATE = ON", error: 15247, times: 1 }],
  },
};

let emu: RunningEmulator;
let env: ScanEnvironment;
let targets: Map<string, Target>;

before(async () => {
  const diag = [{ name: "audit-to-law", workspace: "law-sec", logs: [{ category: "SQLSecurityAuditEvents" }] }];
  const fleet = miFleet(Object.entries(instances).map(([name, state]) => ({ name, dnsZone: "0a1b2c3d4e5f", diagnosticSettings: diag, sql: { logins: [scannerLogin, dba], ...state } }) as never));
  fleet.scanner.roleAssignments = [{ scope: `/subscriptions/${SUB}`, role: "Contributor" }];
  fleet.subscriptions[0]!.resourceGroups!.push({ name: "rg-logs", logAnalyticsWorkspaces: [{ name: "law-sec", customerId: "4e5f6a7b-8c9d-4e0f-9a1b-3c4d5e6f7a8b" }] });
  emu = await startEmulator({ fleet });
  env = enforcingScanEnvironment(emu);
  targets = new Map(emu.estate.managedInstances().map((r) => [r.name, toTarget({ id: r.id, kind: "sql-managed-instance", name: r.name, subscriptionId: SUB, resourceGroup: "rg", location: "westeurope", tags: {}, properties: r.properties })]));
});
after(() => emu?.stop());

/** The audit's and the specification's state as a sysadmin reads them, with a client of its own. */
async function onOff(name: string): Promise<{ audit: boolean; spec: boolean; started: boolean }> {
  const pool = new sql.ConnectionPool({ server: emu.tds!.host, port: emu.tds!.port, user: dba.name, password: dba.password, options: { encrypt: true, serverName: targets.get(name)!.fullyQualifiedDomainName!, cryptoCredentialsDetails: { ca: [emu.caPem] } } });
  await pool.connect();
  try {
    const a = (await pool.request().query("SELECT a.is_state_enabled AS on_, s.status_desc AS status FROM sys.server_audits a LEFT JOIN sys.dm_server_audit_status s ON s.audit_id = a.audit_id WHERE a.name = 'auditguard'")).recordset[0];
    const s = (await pool.request().query("SELECT is_state_enabled AS on_ FROM sys.server_audit_specifications WHERE name = 'auditguard-spec'")).recordset[0];
    return { audit: Number(a?.on_) === 1, started: a?.status === "STARTED", spec: Number(s?.on_) === 1 };
  } finally {
    await pool.close();
  }
}

describe("never worse", () => {
  it("a final STATE = ON whose reply was lost, but which ran: remediated, as the re-read shows", async () => {
    const result = await scanTarget(env, targets.get("mi-lost-reply")!, { scanId: "lost-reply" });
    assert.equal(result.status, "remediated", result.reason);
    assert.match(result.reason ?? "", /the outcome of "Turn audit auditguard on" is unknown .*; the re-read shows it took effect/);
    assert.deepEqual(await onOff("mi-lost-reply"), { audit: true, started: true, spec: true });
  });

  it("the audit switched off for a change that is refused is switched back on, and the result says so", async () => {
    assert.equal((await onOff("mi-refused-options")).audit, true, "on before");
    const result = await scanTarget(env, targets.get("mi-refused-options")!, { scanId: "refused" });
    assert.equal(result.status, "noncompliant");
    assert.equal(result.failedAction?.error.code, "SQL33227");
    assert.deepEqual(result.restored?.actions.map((a) => (a.kind === "tsql" ? a.statement : a.kind)), ["ALTER SERVER AUDIT [auditguard] WITH (STATE = ON);"]);
    assert.match(result.reason ?? "", /switched back on what the failed change had switched off: audit auditguard/);
    assert.deepEqual(await onOff("mi-refused-options"), { audit: true, started: true, spec: true });
  });

  it("a connection dropped in the middle: auditing is switched back on over a new one", async () => {
    const result = await scanTarget(env, targets.get("mi-dropped")!, { scanId: "dropped" });
    assert.ok(result.failedAction, "the change failed");
    assert.equal(result.restored?.error, undefined, "the restore itself worked");
    assert.equal((await onOff("mi-dropped")).audit, true, "the audit is on again");
  });

  it("when even switching back on is refused, the result says auditing may be off, loudly", async () => {
    const result = await scanTarget(env, targets.get("mi-restore-refused")!, { scanId: "restore-refused" });
    assert.equal(result.status, "noncompliant");
    assert.equal(result.restored?.error?.code, "SQL15247");
    assert.match(result.reason ?? "", /AUDITING MAY BE OFF/);
    assert.equal((await onOff("mi-restore-refused")).spec, false, "the engine agrees: the specification is off");
    // The next scan, without the injected failures, puts it right.
    const next = await scanTarget(env, targets.get("mi-restore-refused")!, { scanId: "restore-refused-2" });
    assert.equal(next.status, "remediated", next.reason);
    assert.equal((await onOff("mi-restore-refused")).spec, true);
  });
});
