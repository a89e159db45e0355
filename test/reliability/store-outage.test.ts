import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import functions from "@azure/functions";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { generateFleet } from "../../emulator/fleet/generate.js";
import { startAzurite } from "../../emulator/storage/azurite.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";
import type { ScanEnvironment } from "../../src/scan/environment.js";
import { discoverTargets } from "../../src/scan/run-scan.js";
import { scanTarget } from "../../src/scan/scan-target.js";
import { storeLock } from "../../src/scan/lease.js";
import { ResultsStore } from "../../src/azure/results-store.js";
import { JsonQueue } from "../../src/azure/queues.js";
import { useHostServices } from "../../src/host/services.js";
import { SCAN_POISON_QUEUE, SCAN_QUEUE } from "../../src/host/queue-names.js";
import { scanWorker } from "../../src/host/handlers.js";
import type { Target } from "../../src/core/domain.js";
import { enforcingScanEnvironment } from "../support/estate.js";

// The results store (Table storage) goes away, or a run crashed and left its lease behind: an outage is named as
// the store's and retried like any transient fault, never a verdict on the target; a lease whose holder stopped
// renewing it is recognised and taken over, and the result says whose it was.
let emu: RunningEmulator;
let env: ScanEnvironment;
let drifted: Target[];

before(async () => {
  const { fleet } = generateFleet({ seed: 11, subscriptions: 1, resourceGroupsPerSubscription: 1, managedInstances: 0, sqlServers: 6, synapseWorkspaces: 0, driftRate: 1 });
  emu = await startEmulator({ fleet });
  env = enforcingScanEnvironment(emu);
  drifted = (await discoverTargets(env)).targets;
});
after(() => emu?.stop());

/** A store whose Azurite is stopped right after it was opened: every later call finds nothing listening. */
async function deadStore(): Promise<{ store: ResultsStore; azurite: RunningAzurite }> {
  const azurite = await startAzurite();
  const store = await ResultsStore.open({ connectionString: azurite.connectionString }, "Outage");
  await azurite.stop();
  return { store, azurite };
}

describe("a results store outage", () => {
  it("before the lease: nothing is changed, the reason names the store, and the result is retryable", async () => {
    const { store } = await deadStore();
    const target = drifted[0]!;
    const before = JSON.stringify(emu.estate.auditingPolicy(target.id, "auditingSettings"));
    const result = await scanTarget(env, target, { scanId: "outage", lock: storeLock(store, "outage") });
    assert.equal(result.status, "error");
    assert.match(result.reason ?? "", /^StoreUnavailable: the results store could not take the target's remediation lease: ECONNREFUSED/);
    assert.equal(result.retryable, true, "a retry later may succeed");
    assert.deepEqual(result.applied, []);
    assert.equal(JSON.stringify(emu.estate.auditingPolicy(target.id, "auditingSettings")), before);
  });

  it("in the worker: the message is handed back to the queue with the store named, not poisoned", async () => {
    const { store, azurite } = await deadStore();
    const connection = { connectionString: azurite.connectionString };
    useHostServices(async () => ({
      env,
      store,
      requests: JsonQueue.connect(connection, SCAN_QUEUE),
      poison: JsonQueue.connect(connection, SCAN_POISON_QUEUE),
      events: JsonQueue.connect(connection, "outage-events"),
      eventSource: "urn:auditguard:test",
      retentionDays: 90,
      invocationBudgetMs: 60_000,
      activity: undefined as never,
    }));
    const logs: string[] = [];
    const context = new functions.InvocationContext({ functionName: "scanWorker", triggerMetadata: { dequeueCount: 1 }, logHandler: (_l, ...a) => logs.push(a.join(" ")) });
    try {
      await assert.rejects(scanWorker({ version: 2, scanId: "20261201T000000-0badf00d", targetId: drifted[1]!.id }, context), /the results store could not read the scan's run record/);
      assert.ok(logs.some((l) => /failed \(attempt 1\): the results store could not/.test(l)));
    } finally {
      useHostServices(undefined);
    }
  });
});

describe("a run that crashed holding a lease", () => {
  let azurite: RunningAzurite;
  let store: ResultsStore;
  before(async () => {
    azurite = await startAzurite();
    store = await ResultsStore.open({ connectionString: azurite.connectionString }, "Leases");
  });
  after(() => azurite.stop());

  it("its expired lease is taken over, and the result names the crashed holder", async () => {
    const target = drifted[2]!;
    // The crashed run took the lease two minutes ago and never renewed it.
    await store.acquireLease(target.id, "20261201T000000-crashed1/worker", 60_000, Date.now() - 120_000);
    const result = await scanTarget(env, target, { scanId: "after-crash", lock: storeLock(store, "after-crash/worker") });
    assert.equal(result.status, "remediated", result.reason);
    assert.match(result.reason ?? "", /took over the remediation lease of 20261201T000000-crashed1\/worker \(since .*\), which had expired: that scanner stopped renewing it/);
  });

  it("a live holder's lease is respected, and the result says who holds it", async () => {
    const target = drifted[3]!;
    await store.acquireLease(target.id, "20261201T010000-alive001/worker", 60_000);
    const result = await scanTarget(env, target, { scanId: "second", lock: storeLock(store, "second/worker") });
    assert.equal(result.status, "noncompliant");
    assert.deepEqual(result.applied, []);
    assert.match(result.reason ?? "", /another scanner holds this target's remediation lease: 20261201T010000-alive001\/worker \(since .*, renewed \d+ s ago\); left for it/);
  });
});
