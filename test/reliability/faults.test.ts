import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { QueueClient } from "@azure/storage-queue";
import { ManagedIdentityCredential } from "@azure/identity";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { generateFleet } from "../../emulator/fleet/generate.js";
import { startAzurite } from "../../emulator/storage/azurite.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import { runScan } from "../../src/scan/run-scan.js";
import { ResultsStore } from "../../src/azure/results-store.js";
import { JsonQueue } from "../../src/azure/queues.js";
import { decodeQueueMessage } from "../../src/core/events/build.js";

// Seeded fault injection: 10% of ARM and Log Analytics requests fail with 5xx, with 429 bursts on top. Every
// target ends with a definite status, the SDKs' retries carry transient faults, nothing is lost from the store or
// the queue, and a second enforce run finds nothing left to apply.
const SEED = Number(process.env.FAULT_SEED ?? 11);
let emu: RunningEmulator;
let azurite: RunningAzurite;

before(async () => {
  const { fleet } = generateFleet({
    seed: SEED,
    subscriptions: 2,
    managedInstances: 0,
    sqlServers: 36,
    synapseWorkspaces: 24,
    driftRate: 0.6,
    faults: {
      seed: SEED,
      errorRate: { arm: 0.1, logAnalytics: 0.1 },
      latency: { arm: { kind: "uniform", minMs: 1, maxMs: 8 }, logAnalytics: { kind: "uniform", minMs: 1, maxMs: 8 } },
      throttleBursts: [
        { service: "arm", startAtRequest: 40, requests: 6, retryAfterSeconds: 1, retryAfterMs: 50 },
        { service: "arm", startAtRequest: 160, requests: 6, retryAfterSeconds: 1, retryAfterMs: 50 },
      ],
    },
  });
  emu = await startEmulator({ fleet });
  azurite = await startAzurite();
});

after(async () => {
  await emu?.stop();
  await azurite?.stop();
});

it(`every target ends with a definite status under faults (seed ${SEED}), and nothing is applied twice or lost`, async () => {
  process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
  process.env.IDENTITY_HEADER = emu.identity.header;
  const generated = emulatorBaseline(emu, endpointsOf(emu));
  generated.mode = "enforce";
  const env = createScanEnvironment(loadBaselineText(JSON.stringify(generated), "b.json"), { credential: new ManagedIdentityCredential() });
  const store = await ResultsStore.open({ connectionString: azurite.connectionString }, "Faults");
  const events = JsonQueue.connect({ connectionString: azurite.connectionString }, "fault-events");

  const first = await runScan(env, { trigger: "cli", store, events, concurrency: 12 });
  assert.equal(first.inventory.inScope, 60);
  assert.equal(first.notScanned.length, 0);
  assert.equal(first.results.length, 60, "every target has a result");
  for (const r of first.results) {
    assert.ok(["compliant", "remediated", "noncompliant", "exempt", "error"].includes(r.status));
    if (r.status === "error" || r.status === "noncompliant") assert.ok(r.reason, `${r.target.name} says why`);
    assert.ok(r.applied.length <= r.plan.length, "nothing beyond the plan was applied");
    assert.equal(new Set(r.applied.map((a) => a.description)).size, r.applied.length, "no change applied twice");
  }
  const errors = first.results.filter((r) => r.status === "error");
  assert.ok(errors.length <= 3, `transient faults were retried: ${errors.map((r) => r.reason).join(" | ")}`);
  assert.ok(emu.requestCounts().arm > 0);

  assert.equal((await store.listLatest()).length, 60, "every result is stored");
  const queue = new QueueClient(azurite.connectionString, "fault-events");
  const published: Array<{ type: string; subject?: string }> = [];
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (!receivedMessageItems.length) break;
    for (const m of receivedMessageItems) {
      published.push(decodeQueueMessage(m.messageText) as { type: string; subject?: string });
      await queue.deleteMessage(m.messageId, m.popReceipt);
    }
  }
  const remediated = first.results.filter((r) => r.applied.length > 0).map((r) => r.target.id).sort();
  assert.deepEqual(published.filter((e) => e.type === "com.auditguard.remediation.applied").map((e) => e.subject).sort(), remediated, "one remediation event per remediated target");
  assert.equal(published.filter((e) => e.type === "com.auditguard.scan.completed").length, 1);

  const second = await runScan(env, { trigger: "cli", store, concurrency: 12 });
  const reapplied = second.results.filter((r) => r.applied.length > 0 && first.results.find((f) => f.target.id === r.target.id)?.status === "remediated");
  assert.deepEqual(reapplied.map((r) => r.target.name), [], "what was fixed is not fixed again");
});
