import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import sql from "mssql";
import { QueueClient } from "@azure/storage-queue";
import { ManagedIdentityCredential } from "@azure/identity";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import type { ScanEnvironment } from "../../src/scan/environment.js";
import { INGESTION_LAG_MS, runActivitySweep, storeActivitySource } from "../../src/scan/activity-sweep.js";
import type { SweepServices } from "../../src/scan/activity-sweep.js";
import { ActivityStore } from "../../src/azure/activity-store.js";
import { ResultsStore } from "../../src/azure/results-store.js";
import { JsonQueue } from "../../src/azure/queues.js";
import { decodeQueueMessage } from "../../src/core/events/build.js";
import type { AuditRoute } from "../../src/core/activity/classify.js";
import { miFleet } from "../support/mi-fleet.js";
import { startEstate, stopEstate } from "../support/estate.js";

// The activity sweep against the emulated estate on a clock of the test's own: records reach Log Analytics four
// minutes after they happen ("Log data ingestion time in Azure Monitor": minutes are common), as the emulator's
// ingestionDelay says. Every suspicious record is on the events queue by the first sweep after it became queryable,
// whatever its event time; no record is announced twice; the drift scan reads the verdicts; and a workspace the
// scanner may not read is "could not decide", never a pass.
const SUB = "11111111-1111-4111-8111-111111111111";
const OTHER_SUB = "22222222-2222-4222-8222-222222222222";
const INGESTION_DELAY_MS = 4 * 60_000;
const PERIOD_MS = 5 * 60_000;
const scannerLogin = { kind: "entra", name: "auditguard-scanner", objectId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", appId: "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", permissions: ["ALTER ANY SERVER AUDIT", "VIEW ANY DEFINITION", "VIEW SERVER STATE"] };
const dba = { name: "dba", password: "test-only-Pa55", permissions: ["sysadmin"] };
const auditing = { audits: [{ name: "auditguard", target: "EXTERNAL_MONITOR", enabled: true }], serverAuditSpecifications: [{ name: "auditguard-spec", audit: "auditguard", enabled: true, actionGroups: ["BACKUP_RESTORE_GROUP", "AUDIT_CHANGE_GROUP"] }] };

let clock = Date.now();
const now = () => new Date(clock);
let emu: RunningEmulator;
let azurite: RunningAzurite;
let env: ScanEnvironment;
let services: SweepServices;
let law: string;
let elsewhere: string;
const id = (name: string) => emu.estate.managedInstances().find((r) => r.name === name)!.id;

before(async () => {
  const diag = (workspace: string, dedicated = false) => [{ name: "audit", workspace, ...(dedicated ? { logAnalyticsDestinationType: "Dedicated" } : {}), logs: [{ category: "SQLSecurityAuditEvents" }] }];
  const fleet = miFleet([
    { name: "mi-shared", dnsZone: "0a1b2c3d4e5f", diagnosticSettings: diag("law-sec"), sql: { logins: [scannerLogin, dba], databases: [{ name: "sales" }], ...auditing } },
    { name: "mi-dedicated", dnsZone: "0a1b2c3d4e5f", diagnosticSettings: diag("law-sec", true), sql: { logins: [scannerLogin, dba], databases: [{ name: "sales" }], ...auditing } },
    { name: "mi-quiet", dnsZone: "0a1b2c3d4e5f", diagnosticSettings: diag("law-sec"), sql: { logins: [scannerLogin, dba], ...auditing } },
  ] as never);
  fleet.scanner.roleAssignments = [{ scope: `/subscriptions/${SUB}`, role: "Contributor" }];
  fleet.subscriptions[0]!.resourceGroups!.push({ name: "rg-logs", logAnalyticsWorkspaces: [{ name: "law-sec", customerId: "4e5f6a7b-8c9d-4e0f-9a1b-3c4d5e6f7a8b" }] });
  // A workspace in a subscription where the scanner has no role at all.
  fleet.subscriptions.push({ id: OTHER_SUB, displayName: "security", resourceGroups: [{ name: "rg-sec", logAnalyticsWorkspaces: [{ name: "law-locked", customerId: "5f6a7b8c-9d0e-4f1a-8b2c-4d5e6f7a8b9c" }] }] });
  fleet.faults = { ingestionDelay: { kind: "fixed", ms: INGESTION_DELAY_MS } };
  ({ emu, azurite } = await startEstate({ fleet, now }));
  const generated = emulatorBaseline(emu, endpointsOf(emu)) as Record<string, unknown> & { activity: Record<string, unknown> };
  generated.activity = { ...generated.activity, lookback: "PT1H", allowedBackupStorageAccounts: ["corpbackups"], silenceHours: 0.5 };
  env = createScanEnvironment(loadBaselineText(JSON.stringify(generated), "b.json"), { credential: new ManagedIdentityCredential() });
  law = [...emu.estate.allWorkspaces()].find((w) => w.resourceId.endsWith("/law-sec"))!.resourceId;
  elsewhere = [...emu.estate.allWorkspaces()].find((w) => w.resourceId.endsWith("/law-locked"))!.resourceId;
  const connection = { connectionString: azurite.connectionString };
  services = { env, activity: await ActivityStore.open(connection, "Sweep"), store: await ResultsStore.open(connection, "Sweep"), events: JsonQueue.connect(connection, "sweep-events"), eventSource: "urn:auditguard:test", now };
  // Where each target's records land, as their drift scans recorded it.
  const route = (name: string, routes: AuditRoute[]) => ({ targetId: id(name), kind: "sql-managed-instance" as const, name, subscriptionId: SUB, resourceGroup: "rg", routes, observedAt: now().toISOString() });
  await services.activity.saveRoutes([
    route("mi-shared", [{ workspaceId: law, table: "AzureDiagnostics" }]),
    route("mi-dedicated", [{ workspaceId: law, table: "SQLSecurityAuditEvents" }]),
    route("mi-quiet", [{ workspaceId: law, table: "AzureDiagnostics" }, { workspaceId: elsewhere, table: "AzureDiagnostics" }]),
  ]);
});
after(async () => {
  await stopEstate(emu, azurite);
});

async function asDba(name: string, batch: string) {
  const pool = new sql.ConnectionPool({ server: emu.tds!.host, port: emu.tds!.port, user: dba.name, password: dba.password, options: { encrypt: true, serverName: emu.estate.managedInstances().find((r) => r.name === name)!.properties.fullyQualifiedDomainName as string, cryptoCredentialsDetails: { ca: [emu.caPem] } } });
  await pool.connect();
  try {
    await pool.request().batch(batch);
  } finally {
    await pool.close();
  }
}

type Suspicious = { id: string; subject?: string; type: string; data: { kind: string; ruleId: string; evidence: Array<{ principal: string; time: string; clientIp?: string; database?: string; statement: string }> } };
async function published(): Promise<Suspicious[]> {
  const queue = new QueueClient(azurite.connectionString, "sweep-events");
  const out: Suspicious[] = [];
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 }).catch(() => ({ receivedMessageItems: [] }));
    if (!receivedMessageItems.length) return out;
    for (const m of receivedMessageItems) {
      out.push(decodeQueueMessage(m.messageText) as Suspicious);
      await queue.deleteMessage(m.messageId, m.popReceipt);
    }
  }
}

let sweeps = 0;
const sweep = () => runActivitySweep(services, { sweepId: `sweep-${++sweeps}` });
const seen = new Set<string>();

describe("the activity sweep", { timeout: 120_000 }, () => {
  it("a first sweep sets the watermark; records already in the window are read once", async () => {
    const summary = await sweep();
    assert.deepEqual(summary.workspaces.map((w) => w.workspaceId.split("/").pop()).sort(), ["law-locked", "law-sec"]);
    const status = await services.activity.getStatus(law);
    assert.equal(status?.watermark, new Date(clock - INGESTION_LAG_MS).toISOString());
    for (const e of await published()) seen.add(e.id);
  });

  it("a COPY_ONLY backup is announced by the first sweep after it became queryable, however late it was ingested", async () => {
    clock += 20_000;
    const happened = now().toISOString();
    await asDba("mi-shared", "BACKUP DATABASE [sales] TO URL = N'https://xfer7731.blob.core.windows.net/dump/sales.bak' WITH COPY_ONLY;");
    // The next sweep runs before the record has been ingested: it sees nothing yet, and moves its watermark past the
    // record's event time (a window on event time would now have skipped it for ever).
    clock += PERIOD_MS / 5;
    await sweep();
    assert.deepEqual((await published()).filter((e) => !seen.has(e.id)), [], "not yet queryable");
    assert.ok((await services.activity.getStatus(law))!.watermark > happened, "the watermark is past the event time");
    // Queryable four minutes after it happened; the next sweep comes within one period of that.
    clock = Date.parse(happened) + INGESTION_DELAY_MS + PERIOD_MS - 1;
    await sweep();
    const fresh = (await published()).filter((e) => !seen.has(e.id));
    fresh.forEach((e) => seen.add(e.id));
    const kinds = fresh.filter((e) => e.subject === id("mi-shared")).map((e) => e.data.kind).sort();
    assert.deepEqual(kinds, ["copy-only-backup", "unapproved-backup-destination"]);
    const copy = fresh.find((e) => e.data.kind === "copy-only-backup")!;
    assert.equal(copy.data.evidence[0]!.principal, "dba");
    assert.equal(copy.data.evidence[0]!.time, happened);
    assert.equal(copy.data.evidence[0]!.database, "sales");
  });

  it("the resource-specific table is read too, and an audit switched off is tampering", async () => {
    await asDba("mi-dedicated", "BACKUP DATABASE [sales] TO URL = N'https://corpbackups.blob.core.windows.net/b/sales.bak' WITH COPY_ONLY;");
    await asDba("mi-shared", "ALTER SERVER AUDIT [auditguard] WITH (STATE = OFF); ALTER SERVER AUDIT [auditguard] WITH (STATE = ON);");
    clock += INGESTION_DELAY_MS + INGESTION_LAG_MS + 1_000;
    await sweep();
    const fresh = (await published()).filter((e) => !seen.has(e.id));
    fresh.forEach((e) => seen.add(e.id));
    assert.deepEqual(fresh.filter((e) => e.subject === id("mi-dedicated")).map((e) => e.data.kind), ["copy-only-backup"], "approved account: only COPY_ONLY");
    assert.ok(fresh.some((e) => e.subject === id("mi-shared") && e.data.kind === "audit-tampering" && /STATE = OFF/.test(e.data.evidence[0]!.statement)));
  });

  it("a missed sweep loses nothing, and nothing is announced twice", async () => {
    await asDba("mi-shared", "BACKUP DATABASE [sales] TO URL = N'https://xfer7731.blob.core.windows.net/dump/again.bak' WITH COPY_ONLY;");
    clock += 3 * PERIOD_MS; // two timer runs never happened
    await sweep();
    const fresh = (await published()).filter((e) => !seen.has(e.id));
    assert.ok(fresh.some((e) => e.data.kind === "copy-only-backup" && /again\.bak/.test(e.data.evidence[0]!.statement)));
    fresh.forEach((e) => seen.add(e.id));
    clock += PERIOD_MS;
    await sweep();
    assert.deepEqual((await published()).filter((e) => !seen.has(e.id) && e.data.kind !== "audit-silence"), []);
  });

  it("a sweep whose watermark did not move (a crash before it was saved) announces the same records with the same ids", async () => {
    const status = (await services.activity.getStatus(law))!;
    await services.activity.saveStatus({ ...status, watermark: new Date(Date.parse(status.watermark) - 30 * 60_000).toISOString() });
    await sweep();
    const again = (await published()).filter((e) => e.data.kind !== "audit-silence");
    assert.ok(again.length >= 3, "the records were read again");
    assert.deepEqual(again.filter((e) => !seen.has(e.id)), [], "every id is one the consumer has already seen");
  });

  it("the drift scan reads the verdicts: the suspicious records of the report window, and could-not-decide where the sweep could not read", async () => {
    const source = storeActivitySource(env.baseline, services.activity, 30 * 60_000);
    const shared = await source.forTarget({ id: id("mi-shared"), kind: "sql-managed-instance", name: "mi-shared", subscriptionId: SUB, resourceGroup: "rg", location: "", tags: {} }, [{ workspaceId: law, table: "AzureDiagnostics" }], now());
    assert.ok(shared.ok);
    assert.deepEqual([...new Set(shared.value.events.map((e) => e.actionId))].sort(), ["AL", "AUSC", "BA"].filter((a) => shared.value.events.some((e) => e.actionId === a)).sort());
    assert.ok(shared.value.events.some((e) => /COPY_ONLY/.test(e.statement)));
    const locked = await source.forTarget({ id: id("mi-quiet"), kind: "sql-managed-instance", name: "mi-quiet", subscriptionId: SUB, resourceGroup: "rg", location: "", tags: {} }, [{ workspaceId: elsewhere, table: "AzureDiagnostics" }], now());
    assert.equal(locked.ok, false);
    assert.match(!locked.ok ? locked.error.message : "", /no read access to workspace .*law-locked \(the scanner needs Log Analytics Reader on it\)/);
    const noRoute = await source.forTarget({ id: id("mi-quiet"), kind: "sql-managed-instance", name: "mi-quiet", subscriptionId: SUB, resourceGroup: "rg", location: "", tags: {} }, [], now());
    assert.equal(noRoute.ok, false, "no diagnostic setting: could not decide");
  });

  it("a target that stops sending records is announced as silent once", async () => {
    const silent = (await published()).concat(await published());
    const quiet = (await services.activity.getVerdict(id("mi-quiet")))?.silent;
    assert.ok(quiet, "mi-quiet never sent a record in over half an hour");
    clock += PERIOD_MS;
    await sweep();
    assert.equal((await published()).filter((e) => e.data.kind === "audit-silence" && e.subject === id("mi-quiet")).length, 0, "not announced again while it stays silent");
    void silent;
  });
});
