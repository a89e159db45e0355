import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { TableClient, odata } from "@azure/data-tables";
import { startAzurite } from "../../emulator/storage/azurite.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";
import { ResultsStore } from "../../src/azure/results-store.js";
import type { StoredResult } from "../../src/azure/results-store.js";

let azurite: RunningAzurite;
before(async () => {
  azurite = await startAzurite();
});
after(() => azurite.stop());

const SUB1 = "11111111-1111-1111-1111-111111111111";
const SUB2 = "22222222-2222-2222-2222-222222222222";

function result(over: Partial<StoredResult> & { targetId: string }): StoredResult {
  return {
    scanId: "scan-1",
    scanStartedAt: "2026-11-24T09:59:00.000Z",
    kind: "sql-managed-instance",
    name: over.targetId.split("/").at(-1)!,
    subscriptionId: SUB1,
    resourceGroup: "rg",
    status: "compliant",
    scannedAt: "2026-11-24T10:00:00.000Z",
    failingRuleIds: [],
    detail: { findings: [] },
    ...over,
  };
}

const id = (sub: string, name: string, type = "Microsoft.Sql/managedInstances") => `/subscriptions/${sub}/resourceGroups/rg/providers/${type}/${name}`;

test("upserts keep one latest result per target and one result per scan", async () => {
  const store = await ResultsStore.open({ connectionString: azurite.connectionString }, "T1");
  const target = id(SUB1, "mi-a");
  await store.saveResult(result({ targetId: target, status: "noncompliant", failingRuleIds: ["mi.audit.exists"] }));
  await store.saveResult(result({ targetId: target, status: "noncompliant", failingRuleIds: ["mi.audit.exists"] })); // retried message
  await store.saveResult(result({ targetId: target, scanId: "scan-2", scanStartedAt: "2026-11-24T10:59:00.000Z", scannedAt: "2026-11-24T11:00:00.000Z", status: "remediated" }));
  const latest = await store.listLatest();
  assert.equal(latest.length, 1);
  assert.equal(latest[0]!.status, "remediated");
  assert.deepEqual((await store.listScanResults("scan-1")).items.map((r) => r.status), ["noncompliant"], "no duplicate for the retry");
  assert.deepEqual((await store.listScanResults("scan-2")).items.map((r) => r.status), ["remediated"]);
});

test("a result never replaces a newer one, whatever order they arrive in", async () => {
  const store = await ResultsStore.open({ connectionString: azurite.connectionString }, "T6");
  const target = id(SUB1, "mi-order");
  const newer = result({ targetId: target, scanId: "scan-new", scanStartedAt: "2026-11-24T11:00:00.000Z", status: "compliant" });
  const older = result({ targetId: target, scanId: "scan-old", scanStartedAt: "2026-11-24T10:00:00.000Z", status: "noncompliant", failingRuleIds: ["mi.audit.exists"] });
  assert.deepEqual(await store.saveResult(newer), { latest: "written" });
  assert.deepEqual(await store.saveResult(older), { latest: "kept-newer" }, "the late, older result does not win");
  assert.equal((await store.getLatest(SUB1, target))?.scanId, "scan-new");
  assert.equal((await store.listScanResults("scan-old")).items[0]?.status, "noncompliant", "the older scan keeps its own result");
  // Many writers at once, in random order: the newest scan's result is the one left.
  const many = Array.from({ length: 12 }, (_, i) => result({ targetId: id(SUB1, "mi-race"), scanId: `s${String(i).padStart(2, "0")}`, scanStartedAt: new Date(Date.UTC(2026, 10, 24, 12, i)).toISOString() }));
  await Promise.all([...many].sort(() => Math.random() - 0.5).map((r) => store.saveResult(r)));
  assert.equal((await store.getLatest(SUB1, id(SUB1, "mi-race")))?.scanId, "s11");
});

test("filters by subscription, kind, status and rule", async () => {
  const store = await ResultsStore.open({ connectionString: azurite.connectionString }, "T2");
  await store.saveResult(result({ targetId: id(SUB1, "mi-a"), status: "noncompliant", failingRuleIds: ["mi.audit.exists"] }));
  await store.saveResult(result({ targetId: id(SUB1, "srv-b", "Microsoft.Sql/servers"), kind: "sql-server", status: "compliant" }));
  await store.saveResult(result({ targetId: id(SUB2, "ws-c", "Microsoft.Synapse/workspaces"), subscriptionId: SUB2, kind: "synapse-workspace", status: "noncompliant", failingRuleIds: ["syn.auditing.enabled"] }));
  const names = async (f: Parameters<ResultsStore["listLatest"]>[0]) => (await store.listLatest(f)).map((r) => r.name).sort();
  assert.deepEqual(await names({ subscriptionIds: [SUB2] }), ["ws-c"]);
  assert.deepEqual(await names({ kinds: ["sql-server"] }), ["srv-b"]);
  assert.deepEqual(await names({ statuses: ["noncompliant"] }), ["mi-a", "ws-c"]);
  assert.deepEqual(await names({ ruleIds: ["mi.audit"] }), [], "a rule id never matches a prefix of another");
  assert.deepEqual(await names({ ruleIds: ["syn.auditing.enabled"] }), ["ws-c"]);
  assert.deepEqual(await names({ statuses: ["compliant"], kinds: ["sql-server"], subscriptionIds: [SUB1] }), ["srv-b"]);
  assert.deepEqual(await names({ subscriptionIds: ["' or 1 eq 1 or '"] }), [], "a hostile filter value matches nothing");
});

test("a result larger than one entity is stored whole and read back whole", async () => {
  const store = await ResultsStore.open({ connectionString: azurite.connectionString }, "T3");
  const detail = { evidence: randomBytes(1_200_000).toString("base64") };
  const target = id(SUB1, "mi-big");
  await store.saveResult(result({ targetId: target, detail }));
  const back = await store.getLatest(SUB1, target);
  assert.deepEqual(back?.detail, detail);
  const [latest] = await store.listLatest();
  assert.deepEqual(latest?.detail, detail, "overflow parts are not listed as targets");
});

test("scan runs are listed newest first", async () => {
  const store = await ResultsStore.open({ connectionString: azurite.connectionString }, "T4");
  const counts = { compliant: 1, remediated: 0, noncompliant: 0, exempt: 0, error: 0 };
  await store.saveRun({ scanId: "a", trigger: "timer", mode: "plan", startedAt: "2026-11-24T09:00:00.000Z", expectedTargets: 1, counts, complete: true });
  await store.saveRun({ scanId: "b", trigger: "http", mode: "enforce", startedAt: "2026-11-24T10:00:00.000Z", expectedTargets: 2, counts, complete: false });
  assert.deepEqual((await store.listRuns()).map((r) => r.scanId), ["b", "a"]);
  assert.equal((await store.getRun("a"))?.complete, true);
  assert.equal(await store.getRun("missing"), undefined);
});

test("a lease is held by one owner at a time and expires", async () => {
  const store = await ResultsStore.open({ connectionString: azurite.connectionString }, "T5");
  const target = id(SUB1, "mi-lock");
  const won = async (owner: string, now?: number) => (await store.acquireLease(target, owner, 60_000, now)).acquired;
  const results = await Promise.all([won("scanner-1"), won("scanner-2")]);
  assert.deepEqual(results.filter(Boolean).length, 1, "exactly one of two racing scanners wins");
  const winner = results[0] ? "scanner-1" : "scanner-2";
  const loser = results[0] ? "scanner-2" : "scanner-1";
  const refused = await store.acquireLease(target, loser, 60_000);
  assert.equal(refused.acquired, false);
  assert.equal(!refused.acquired && refused.holder.owner, winner, "the refusal names the holder");
  const takeover = await store.acquireLease(target, loser, 60_000, Date.now() + 120_000);
  assert.equal(takeover.acquired && takeover.tookOverFrom?.owner, winner, "an expired lease is taken over, and whose it was is said");
  assert.equal(await store.renewLease(target, winner, 60_000), false, "the old holder's renewal finds it lost");
  await store.releaseLease(target, winner); // not the holder any more: no effect
  assert.equal(await won(winner), false);
  await store.releaseLease(target, loser);
  assert.equal(await won(winner), true);
});

test("a bad table prefix is refused", async () => {
  await assert.rejects(ResultsStore.open({ connectionString: azurite.connectionString }, "bad-prefix"), /invalid table prefix/);
});

test("retention deletes an old scan whole, summary overflow included, but never the scan the report shows", async () => {
  const store = await ResultsStore.open({ connectionString: azurite.connectionString }, "T7");
  const counts = { compliant: 1, remediated: 0, noncompliant: 0, exempt: 0, error: 0 };
  const scans = [
    { scanId: "old-1", startedAt: "2026-10-01T09:00:00.000Z" },
    { scanId: "old-2", startedAt: "2026-10-02T09:00:00.000Z" },
    { scanId: "new-1", startedAt: "2026-11-30T09:00:00.000Z" },
  ];
  const target = id(SUB1, "mi-kept");
  for (const s of scans) {
    await store.saveRun({ ...s, trigger: "timer", mode: "plan", expectedTargets: 1, counts, complete: true, closed: true });
    await store.addPending(s.scanId, [{ id: target, kind: "sql-managed-instance", subscriptionId: SUB1 }]);
    await store.saveResult(result({ targetId: target, scanId: s.scanId, scanStartedAt: s.startedAt }));
    await store.countFinished(s.scanId, target, "compliant");
    await store.claimClose(s.scanId);
  }
  // A summary too large for one entity: random rule ids do not compress, so it spills into overflow rows.
  const big = Array.from({ length: 1500 }, (_, i) => ({ subscriptionId: SUB1, kind: "sql-managed-instance" as const, status: "noncompliant" as const, failingRuleIds: [randomBytes(600).toString("hex")], targets: i + 1 }));
  await store.saveSummary("old-1", big);
  await store.saveSummary("old-2", big.slice(0, 2));
  const runsTable = TableClient.fromConnectionString(azurite.connectionString, "T7Runs", { allowInsecureConnection: true });
  const summaryRows = async (scanId: string) => {
    const keys: string[] = [];
    for await (const e of runsTable.listEntities({ queryOptions: { filter: odata`PartitionKey eq 'summary'`, select: ["RowKey"] } })) if (String(e.rowKey).startsWith(scanId)) keys.push(String(e.rowKey));
    return keys;
  };
  assert.ok((await summaryRows("old-1")).length > 1, "the test's summary did spill into overflow rows");
  await store.setLatestClosedScan("old-2", "2026-10-02T09:00:00.000Z"); // the app was stopped since: old-2 is the last closed

  assert.deepEqual(await store.pruneScans(new Date("2026-11-01T00:00:00.000Z")), ["old-1"], "old-2 is kept: the report points at it");
  assert.equal(await store.getRun("old-1"), undefined);
  assert.equal(await store.getSummary("old-1"), undefined);
  assert.deepEqual(await summaryRows("old-1"), [], "no overflow row is left behind");
  assert.deepEqual((await store.listScanResults("old-1")).items, []);
  assert.equal(await store.getProgress("old-1", target), undefined);
  assert.equal((await store.readCounters("old-1")).finished, 0);
  assert.deepEqual((await store.listRuns()).map((r) => r.scanId), ["new-1", "old-2"]);
  assert.equal((await store.getSummary("old-2"))?.cells.length, 2, "the kept scan is whole");
  assert.equal((await store.listScanResults("new-1")).items.length, 1);
  assert.equal((await store.getLatest(SUB1, target))?.scanId, "new-1", "the latest table is not pruned");

  await store.setLatestClosedScan("new-1", "2026-11-30T09:00:00.000Z");
  assert.deepEqual(await store.pruneScans(new Date("2026-11-01T00:00:00.000Z")), ["old-2"], "once the report moved on, old-2 goes too");
});
