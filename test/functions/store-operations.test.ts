import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import functions from "@azure/functions";
import { QueueClient } from "@azure/storage-queue";
import { ManagedIdentityCredential } from "@azure/identity";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { generateFleet } from "../../emulator/fleet/generate.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import { ResultsStore } from "../../src/azure/results-store.js";
import { ActivityStore } from "../../src/azure/activity-store.js";
import { JsonQueue } from "../../src/azure/queues.js";
import { decodeQueueMessage } from "../../src/core/events/build.js";
import { useHostServices } from "../../src/host/services.js";
import type { HostServices } from "../../src/host/services.js";
import { SCAN_POISON_QUEUE } from "../../src/host/queue-names.js";
import { complianceReport, scanWorker, scheduledScan } from "../../src/host/handlers.js";
import { startEstate, stopEstate } from "../support/estate.js";

// The Functions path's store cost per target is a constant: the timer records the targets, each worker checks its
// request, stores its result, moves its progress row and a counter shard on, and the last one closes the scan with
// one listing of the progress rows. Counted (requests to Table storage, batches included), not timed: a scan of
// four times the targets costs four times the requests, give or take the constant part.
const SMALL = 8;
let emu: RunningEmulator;
let azurite: RunningAzurite;

before(async () => {
  const { fleet } = generateFleet({ seed: 17, subscriptions: 1, resourceGroupsPerSubscription: 4, managedInstances: 0, sqlServers: SMALL * 4, synapseWorkspaces: 0, driftRate: 0.5 });
  ({ emu, azurite } = await startEstate({ fleet }));
});
after(async () => {
  useHostServices(undefined);
  await stopEstate(emu, azurite);
});

const timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: "", next: "", lastUpdated: "" } };
const context = (dequeueCount = 1) => new functions.InvocationContext({ functionName: "w", triggerMetadata: { dequeueCount }, logHandler: () => undefined });

async function scanThroughFunctions(resourceGroups: string[], prefix: string) {
  const generated = emulatorBaseline(emu, endpointsOf(emu)) as Record<string, unknown> & { scope: Record<string, unknown> };
  generated.mode = "enforce";
  generated.scope = { ...generated.scope, resourceGroups };
  const connection = { connectionString: azurite.connectionString };
  const requestsQueue = `${prefix.toLowerCase()}-requests`;
  const services: HostServices = {
    env: createScanEnvironment(loadBaselineText(JSON.stringify(generated), "b.json"), { credential: new ManagedIdentityCredential() }),
    store: await ResultsStore.open(connection, prefix),
    activity: await ActivityStore.open(connection, prefix),
    requests: JsonQueue.connect(connection, requestsQueue),
    poison: JsonQueue.connect(connection, SCAN_POISON_QUEUE),
    events: JsonQueue.connect(connection, `${prefix.toLowerCase()}-events`),
    eventSource: "urn:auditguard:test",
    retentionDays: 90,
    invocationBudgetMs: 60_000,
  };
  useHostServices(async () => services);
  const before = services.store.stats.requests + services.activity.stats.requests;
  await scheduledScan(timer, context());
  const queue = new QueueClient(azurite.connectionString, requestsQueue);
  let targets = 0;
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (!receivedMessageItems.length) break;
    await Promise.all(
      receivedMessageItems.map(async (m) => {
        await scanWorker(decodeQueueMessage(m.messageText), context(m.dequeueCount));
        await queue.deleteMessage(m.messageId, m.popReceipt);
        targets++;
      }),
    );
  }
  const ops = services.store.stats.requests + services.activity.stats.requests - before;
  const runs = await services.store.listRuns(1);
  assert.equal(runs[0]?.closed, true, "the last worker closed the scan");
  return { targets, ops, services };
}

it("store requests per target do not grow with the number of targets, and the report's summary does not read results", { timeout: 180_000 }, async () => {
  const small = await scanThroughFunctions(["rg-0-0"], "OpsSmall");
  const large = await scanThroughFunctions(["rg-0-0", "rg-0-1", "rg-0-2", "rg-0-3"], "OpsLarge");
  assert.equal(small.targets, SMALL);
  assert.equal(large.targets, SMALL * 4);
  const perTarget = (r: { ops: number; targets: number }) => r.ops / r.targets;
  assert.ok(perTarget(large) <= perTarget(small) * 1.15, `per target: ${perTarget(small).toFixed(1)} at ${small.targets}, ${perTarget(large).toFixed(1)} at ${large.targets}`);
  assert.ok(perTarget(large) < 20, `about a dozen requests per target, got ${perTarget(large).toFixed(1)}`);
  // The report of the large scan: its summary (and a 304) costs the same few reads as the small one's.
  const cost = async (services: HostServices, headers: Record<string, string> = {}) => {
    useHostServices(async () => services);
    const before = services.store.stats.requests;
    const answer = await complianceReport(new functions.HttpRequest({ method: "GET", url: "http://localhost/api/compliance?top=1", headers }), context());
    if (answer.body) for await (const _chunk of answer.body as AsyncIterable<Uint8Array>) void _chunk;
    return { requests: services.store.stats.requests - before, etag: (answer.headers as Record<string, string>).etag! };
  };
  const smallReport = await cost(small.services);
  const largeReport = await cost(large.services);
  assert.equal(largeReport.requests, smallReport.requests, "the same number of reads whatever the scan's size");
  const notModified = await cost(large.services, { "if-none-match": largeReport.etag });
  assert.ok(notModified.requests < largeReport.requests);
});
