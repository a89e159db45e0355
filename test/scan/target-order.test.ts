import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ManagedIdentityCredential } from "@azure/identity";
import { QueueClient } from "@azure/storage-queue";
import { interleaveBySubscription } from "../../src/scan/target-order.js";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { generateFleet } from "../../emulator/fleet/generate.js";
import { startAzurite } from "../../emulator/storage/azurite.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import { discoverTargets } from "../../src/scan/run-scan.js";
import { enqueueScan } from "../../src/scan/fan-out.js";
import { ResultsStore } from "../../src/azure/results-store.js";
import { JsonQueue } from "../../src/azure/queues.js";
import { decodeQueueMessage } from "../../src/core/events/build.js";

// ARM meters reads per subscription and principal ("Understand how Azure Resource Manager throttles requests"), so
// the scan's lanes and the timer's queue take the subscriptions in turn rather than one after another.
const t = (subscriptionId: string, name: string) => ({ id: `/subscriptions/${subscriptionId}/resourceGroups/rg/providers/Microsoft.Sql/servers/${name}`, subscriptionId });

test("targets are taken one subscription after another, round-robin, in a stable order", () => {
  const targets = [t("b", "s1"), t("a", "s2"), t("a", "s1"), t("c", "s1"), t("a", "s3"), t("b", "s2")];
  assert.deepEqual(
    interleaveBySubscription(targets).map((x) => `${x.subscriptionId}/${x.id.split("/").pop()}`),
    ["a/s1", "b/s1", "c/s1", "a/s2", "b/s2", "a/s3"],
  );
  assert.deepEqual(interleaveBySubscription([...targets].reverse()), interleaveBySubscription(targets), "the input's order does not matter");
  assert.deepEqual(interleaveBySubscription([]), []);
});

let emu: RunningEmulator;
let azurite: RunningAzurite;
before(async () => {
  const { fleet } = generateFleet({ seed: 9, subscriptions: 3, managedInstances: 0, sqlServers: 12, synapseWorkspaces: 6, driftRate: 0 });
  emu = await startEmulator({ fleet });
  azurite = await startAzurite();
  process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
  process.env.IDENTITY_HEADER = emu.identity.header;
});
after(async () => {
  await emu?.stop();
  await azurite?.stop();
});

test("the inventory's targets and the timer's queue messages interleave the subscriptions", async () => {
  const env = createScanEnvironment(loadBaselineText(JSON.stringify(emulatorBaseline(emu, endpointsOf(emu))), "b.json"), { credential: new ManagedIdentityCredential() });
  const { targets } = await discoverTargets(env);
  assert.equal(targets.length, 18);
  const subscriptions = new Set(targets.map((x) => x.subscriptionId));
  assert.equal(subscriptions.size, 3);
  for (let i = 0; i + 3 <= targets.length; i += 3) assert.equal(new Set(targets.slice(i, i + 3).map((x) => x.subscriptionId)).size, 3, `targets ${i}..${i + 2} are from three subscriptions`);

  const connection = { connectionString: azurite.connectionString };
  const services = { env, store: await ResultsStore.open(connection, "Order"), requests: JsonQueue.connect(connection, "order-requests"), events: JsonQueue.connect(connection, "order-events"), eventSource: "urn:test" };
  const queued = await enqueueScan(services, { trigger: "timer" });
  assert.deepEqual(queued.targets.map((x) => x.id), targets.map((x) => x.id), "queued in the interleaved order");
  const queue = new QueueClient(azurite.connectionString, "order-requests");
  const ids: string[] = [];
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (!receivedMessageItems.length) break;
    for (const m of receivedMessageItems) ids.push((decodeQueueMessage(m.messageText) as { targetId: string }).targetId);
  }
  assert.deepEqual([...ids].sort(), targets.map((x) => x.id).sort(), "one message per target");
});
