import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import functions from "@azure/functions";
import { ManagedIdentityCredential } from "@azure/identity";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { generateFleet } from "../../emulator/fleet/generate.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import { discoverTargets } from "../../src/scan/run-scan.js";
import { ResultsStore } from "../../src/azure/results-store.js";
import { ActivityStore } from "../../src/azure/activity-store.js";
import { JsonQueue } from "../../src/azure/queues.js";
import { useHostServices } from "../../src/host/services.js";
import type { HostServices } from "../../src/host/services.js";
import { MAX_DEQUEUE_COUNT, SCAN_POISON_QUEUE, SCAN_QUEUE } from "../../src/host/queue-names.js";
import { scanWorker } from "../../src/host/handlers.js";
import type { Target } from "../../src/core/domain.js";
import { startEstate, stopEstate } from "../support/estate.js";

// A scan request whose target fails for transient reasons only (here an instance that accepts connections and
// never answers) goes back to the queue for the host to retry, and is stored as an error only on the last
// attempt; a target that fails for a lasting reason (no login for the scanner) is stored at once.
let emu: RunningEmulator;
let azurite: RunningAzurite;
let services: HostServices;
let hanging: Target;
let noLogin: Target;

const context = (dequeueCount: number) => new functions.InvocationContext({ functionName: "scanWorker", triggerMetadata: { dequeueCount }, logHandler: () => undefined });
const request = (target: Target) => ({ version: 2, scanId: "retry-scan", targetId: target.id, mode: "plan" });

before(async () => {
  const { fleet } = generateFleet({ seed: 31, subscriptions: 1, managedInstances: 2, sqlServers: 0, synapseWorkspaces: 0, driftRate: 0 });
  const instances = (fleet).subscriptions.flatMap((s) => s.resourceGroups!.flatMap((g) => g.managedInstances ?? []));
  (fleet).faults = { seed: 31, hanging: [instances[0]!.name] };
  // The second instance has no login for the scanner: a lasting failure.
  instances[1]!.sql = { logins: [{ name: "dba", password: "test-only-Pa55", permissions: ["sysadmin"] }] };
  ({ emu, azurite } = await startEstate({ fleet }));
  const generated = emulatorBaseline(emu, endpointsOf(emu)) as Record<string, unknown> & { scan?: Record<string, unknown> };
  generated.scan = { ...(generated.scan ?? {}), targetTimeoutSeconds: 1 };
  const env = createScanEnvironment(loadBaselineText(JSON.stringify(generated), "b.json"), { credential: new ManagedIdentityCredential() });
  const connection = { connectionString: azurite.connectionString };
  services = {
    env,
    store: await ResultsStore.open(connection, "Retry"),
    requests: JsonQueue.connect(connection, SCAN_QUEUE),
    poison: JsonQueue.connect(connection, SCAN_POISON_QUEUE),
    events: JsonQueue.connect(connection, "retry-events"),
    eventSource: "urn:auditguard:test",
    retentionDays: 90,
    invocationBudgetMs: 60_000,
    activity: await ActivityStore.open(connection, "Retry"),
  };
  useHostServices(async () => services);
  const { targets } = await discoverTargets(env);
  hanging = targets.find((t) => t.name === instances[0]!.name)!;
  noLogin = targets.find((t) => t.name === instances[1]!.name)!;
  await services.store.saveRun({ scanId: "retry-scan", trigger: "timer", mode: "plan", startedAt: new Date().toISOString(), expectedTargets: 2, counts: { compliant: 0, remediated: 0, noncompliant: 0, exempt: 0, error: 0 }, complete: false });
  await services.store.addPending("retry-scan", [hanging, noLogin]);
});

after(async () => {
  useHostServices(undefined);
  await stopEstate(emu, azurite);
});

it("the attempt limit the worker counts with is host.json's maxDequeueCount", () => {
  const host = JSON.parse(readFileSync(join(process.cwd(), "host.json"), "utf8")) as { extensions: { queues: { maxDequeueCount: number } } };
  assert.equal(host.extensions.queues.maxDequeueCount, MAX_DEQUEUE_COUNT);
});

it("a transient failure goes back to the queue until the last attempt, which stores it with its reason", async () => {
  await assert.rejects(scanWorker(request(hanging), context(1)), /transient failure, retried by the queue/);
  assert.equal((await services.store.listLatest()).find((r) => r.targetId === hanging.id), undefined, "nothing stored while retries remain");
  await scanWorker(request(hanging), context(MAX_DEQUEUE_COUNT));
  const stored = (await services.store.listLatest()).find((r) => r.targetId === hanging.id);
  assert.equal(stored?.status, "error");
  assert.ok(stored?.reason, "the last attempt says why");
});

it("a lasting failure is stored on the first attempt", async () => {
  await scanWorker(request(noLogin), context(1));
  const stored = (await services.store.listLatest()).find((r) => r.targetId === noLogin.id);
  assert.equal(stored?.status, "error");
  assert.match(stored?.reason ?? "", /ELOGIN|Login failed/);
});
