import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
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

test("upserts keep one latest result per target and one history row per scan", async () => {
  const store = await ResultsStore.open({ connectionString: azurite.connectionString }, "T1");
  const target = id(SUB1, "mi-a");
  await store.saveResult(result({ targetId: target, status: "noncompliant", failingRuleIds: ["mi.audit.exists"] }));
  await store.saveResult(result({ targetId: target, status: "noncompliant", failingRuleIds: ["mi.audit.exists"] })); // retried message
  await store.saveResult(result({ targetId: target, scanId: "scan-2", scannedAt: "2026-11-24T11:00:00.000Z", status: "remediated" }));
  const latest = await store.listLatest();
  assert.equal(latest.length, 1);
  assert.equal(latest[0]!.status, "remediated");
  const history = await store.listHistory(target);
  assert.deepEqual(history.map((h) => h.scanId), ["scan-2", "scan-1"], "newest first, no duplicate for the retry");
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
  const results = await Promise.all([store.acquireLease(target, "scanner-1", 60_000), store.acquireLease(target, "scanner-2", 60_000)]);
  assert.deepEqual(results.filter(Boolean).length, 1, "exactly one of two racing scanners wins");
  const winner = results[0] ? "scanner-1" : "scanner-2";
  const loser = results[0] ? "scanner-2" : "scanner-1";
  assert.equal(await store.acquireLease(target, loser, 60_000), false);
  assert.equal(await store.acquireLease(target, loser, 60_000, Date.now() + 120_000), true, "an expired lease can be taken over");
  await store.releaseLease(target, winner); // not the holder any more: no effect
  assert.equal(await store.acquireLease(target, winner, 60_000), false);
  await store.releaseLease(target, loser);
  assert.equal(await store.acquireLease(target, winner, 60_000), true);
});

test("a bad table prefix is refused", async () => {
  await assert.rejects(ResultsStore.open({ connectionString: azurite.connectionString }, "bad-prefix"), /invalid table prefix/);
});
