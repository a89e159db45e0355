import { after, before, describe, it } from "node:test";
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
import { discoverTargets } from "../../src/scan/run-scan.js";
import { scanTarget } from "../../src/scan/scan-target.js";
import { enqueueScan } from "../../src/scan/fan-out.js";
import { ResultsStore } from "../../src/azure/results-store.js";
import { ActivityStore } from "../../src/azure/activity-store.js";
import { JsonQueue } from "../../src/azure/queues.js";
import { decodeQueueMessage } from "../../src/core/events/build.js";
import { useHostServices } from "../../src/host/services.js";
import type { HostServices } from "../../src/host/services.js";
import { SCAN_POISON_QUEUE, SCAN_QUEUE } from "../../src/host/queue-names.js";
import { scanWorker } from "../../src/host/handlers.js";
import type { Target } from "../../src/core/domain.js";
import { startEstate, stopEstate } from "../support/estate.js";

// An attacker who can write to the scan-request queue (or replay a message) tries every shape that used to steer
// the worker: a host outside the instance's DNS zone, a target outside the scope, a forged exemption tag, a mode
// above the baseline's, a target or a scan that does not exist. The worker believes none of it: it takes the scan
// and the target id, checks both against what the timer recorded, reads the target from ARM and applies the
// baseline itself.
let emu: RunningEmulator;
let azurite: RunningAzurite;
let services: HostServices;
let all: Target[];
let scanId: string;
let queued: Target[];
const logs: string[] = [];

const context = (dequeueCount = 1) => new functions.InvocationContext({ functionName: "scanWorker", triggerMetadata: { dequeueCount }, logHandler: (level, ...args) => logs.push(`${level}: ${args.join(" ")}`) });

async function takeAll(queueName: string): Promise<unknown[]> {
  const queue = new QueueClient(azurite.connectionString, queueName);
  const out: unknown[] = [];
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (!receivedMessageItems.length) return out;
    for (const m of receivedMessageItems) {
      out.push(decodeQueueMessage(m.messageText));
      await queue.deleteMessage(m.messageId, m.popReceipt);
    }
  }
}

before(async () => {
  const { fleet } = generateFleet({ seed: 41, subscriptions: 1, resourceGroupsPerSubscription: 1, managedInstances: 6, sqlServers: 2, synapseWorkspaces: 0, driftRate: 1 });
  ({ emu, azurite } = await startEstate({ fleet }));
  const generated = emulatorBaseline(emu, endpointsOf(emu)) as Record<string, unknown> & { scope: Record<string, unknown> };
  generated.mode = "plan";
  // Instances tagged env=dev are out of scope.
  generated.scope.excludeTags = { env: "dev" };
  const env = createScanEnvironment(loadBaselineText(JSON.stringify(generated), "baseline.json"), { credential: new ManagedIdentityCredential() });
  const connection = { connectionString: azurite.connectionString };
  services = {
    env,
    store: await ResultsStore.open(connection, "Forged"),
    requests: JsonQueue.connect(connection, SCAN_QUEUE),
    poison: JsonQueue.connect(connection, SCAN_POISON_QUEUE),
    events: JsonQueue.connect(connection, "forged-events"),
    eventSource: "urn:auditguard:test",
    retentionDays: 90,
    invocationBudgetMs: 60_000,
    activity: await ActivityStore.open(connection, "Forged"),
  };
  useHostServices(async () => services);
  all = (await discoverTargets({ ...env, baseline: { ...env.baseline, scope: { ...env.baseline.scope, excludeTags: {} } } })).targets;
  ({ scanId, targets: queued } = await enqueueScan(services, { trigger: "timer" }));
  await takeAll(SCAN_QUEUE); // the genuine requests: each test sends its own
});

after(async () => {
  useHostServices(undefined);
  await stopEstate(emu, azurite);
});

const inScopeMi = () => queued.find((t) => t.kind === "sql-managed-instance" && !t.tags["auditguard:exempt"])!;
const outOfScope = () => all.find((t) => t.tags.env === "dev")!;

describe("a forged or replayed scan request", () => {
  it("the timer queued only in-scope targets, and only their ids", async () => {
    assert.ok(queued.length > 0 && queued.every((t) => t.tags.env !== "dev"));
    assert.ok(outOfScope(), "the fleet has an out-of-scope instance to aim at");
  });

  it("naming a host outside the instance's DNS zone: the worker connects only to the host ARM reports", async () => {
    const target = inScopeMi();
    const before = emu.requestCounts().tdsLogins;
    await scanWorker({ version: 1, scanId, trigger: "timer", target: { ...target, fullyQualifiedDomainName: "mi-x.attacker.example" } }, context());
    const stored = await services.store.getLatest(target.subscriptionId, target.id);
    const detail = stored?.detail as { target: Target } | undefined;
    assert.equal(detail?.target.fullyQualifiedDomainName, target.fullyQualifiedDomainName, "the host is ARM's, not the message's");
    assert.match(detail?.target.fullyQualifiedDomainName ?? "", /\.database\.windows\.net$/);
    assert.ok(emu.requestCounts().tdsLogins > before, "the real instance was scanned");
  });

  it("a target whose host is outside the zone gets no connection at all, and says why", async () => {
    const target = { ...inScopeMi(), fullyQualifiedDomainName: "mi-x.attacker.example" };
    const before = emu.requestCounts().tdsLogins;
    const result = await scanTarget(services.env, target, { scanId: "direct" });
    assert.equal(result.status, "error");
    assert.match(result.reason ?? "", /UntrustedHost: the instance's host name 'mi-x\.attacker\.example' is not <instance>\.<dnsZone>\.database\.windows\.net/);
    assert.equal(emu.requestCounts().tdsLogins, before, "no login was attempted, so no token left the scanner");
  });

  it("naming a target outside the scope: refused, poisoned with the reason, nothing stored", async () => {
    const target = outOfScope();
    await scanWorker({ version: 2, scanId, targetId: target.id }, context());
    assert.equal(await services.store.getLatest(target.subscriptionId, target.id), undefined);
    const poisoned = (await takeAll(SCAN_POISON_QUEUE)) as Array<{ rejected: string }>;
    assert.equal(poisoned.length, 1);
    assert.match(poisoned[0]!.rejected, new RegExp(`scan ${scanId} does not expect target .*${target.name}`));
  });

  it("forging an exemption through tags: the tags are ARM's", async () => {
    const target = queued.find((t) => t.kind === "sql-server")!;
    await scanWorker({ version: 1, scanId, trigger: "timer", target: { ...target, tags: { "auditguard:exempt": "true" } } }, context());
    const stored = await services.store.getLatest(target.subscriptionId, target.id);
    assert.notEqual(stored?.status, "exempt");
    assert.equal(stored?.status, "noncompliant", "the drifted server is reported as it is");
  });

  it("raising a plan-only baseline to enforce: the mode stays plan and nothing is changed", async () => {
    const target = queued.filter((t) => t.kind === "sql-server")[1]!;
    const policyBefore = JSON.stringify(emu.estate.auditingPolicy(target.id, "auditingSettings"));
    await scanWorker({ version: 2, scanId, targetId: target.id, mode: "enforce" }, context());
    const stored = await services.store.getLatest(target.subscriptionId, target.id);
    const detail = stored?.detail as { mode: string; applied: unknown[]; plan: unknown[] };
    assert.equal(detail.mode, "plan");
    assert.ok(detail.plan.length > 0, "there was something to fix");
    assert.deepEqual(detail.applied, []);
    assert.equal(JSON.stringify(emu.estate.auditingPolicy(target.id, "auditingSettings")), policyBefore);
  });

  it("a phantom target or an unknown scan: refused, nothing stored", async () => {
    const sub = inScopeMi().subscriptionId;
    const phantom = `/subscriptions/${sub}/resourceGroups/rg-0-0/providers/Microsoft.Sql/managedInstances/mi-phantom`;
    await scanWorker({ version: 2, scanId, targetId: phantom }, context());
    await scanWorker({ version: 2, scanId: "20261201T000000-deadbeef", targetId: inScopeMi().id }, context());
    assert.equal(await services.store.getLatest(sub, phantom), undefined);
    const poisoned = (await takeAll(SCAN_POISON_QUEUE)) as Array<{ rejected: string }>;
    assert.deepEqual(
      poisoned.map((p) => /does not expect|no scan 20261201T000000-deadbeef is recorded/.test(p.rejected)),
      [true, true],
    );
  });

  it("a target that left the scope after it was queued is not scanned, and its scan still closes", async () => {
    const target = queued.find((t) => t.kind === "sql-managed-instance" && t.id !== inScopeMi().id)!;
    emu.estate.resource(target.id)!.tags = { ...target.tags, env: "dev" };
    await scanWorker({ version: 2, scanId, targetId: target.id }, context());
    const progress = await services.store.getProgress(scanId, target.id);
    assert.equal(progress?.status, "refused");
    assert.match(progress?.reason ?? "", /left the baseline's scope/);
    assert.equal(await services.store.getLatest(target.subscriptionId, target.id), undefined);
  });

  it("a second delivery of a finished request is counted once", async () => {
    const target = inScopeMi();
    const before = await services.store.readCounters(scanId);
    await scanWorker({ version: 2, scanId, targetId: target.id }, context(2));
    assert.deepEqual(await services.store.readCounters(scanId), before);
    assert.ok(logs.some((l) => /already \w+ \(a repeated delivery\)/.test(l)));
  });

  it("an oversized or undecodable message goes to the poison queue with a reason, not the whole message", async () => {
    const huge = `{"version":2,"scanId":"${"x".repeat(100_000)}`;
    await scanWorker(huge, context());
    await scanWorker({ version: 2, scanId, targetId: inScopeMi().id, extra: "x".repeat(100_000) }, context());
    await scanWorker(Buffer.from([0xff, 0xfe, 0x00]), context());
    const poisoned = (await takeAll(SCAN_POISON_QUEUE)) as Array<{ rejected: string; preview: string; bytes: number; sha256: string }>;
    assert.equal(poisoned.length, 3);
    assert.match(poisoned[0]!.rejected, /more than the 16384 a request can be/);
    assert.match(poisoned[1]!.rejected, /more than the 16384 a request can be/);
    assert.match(poisoned[2]!.rejected, /not JSON/);
    for (const p of poisoned) {
      assert.ok(p.preview.length <= 512 && p.sha256.length === 64 && p.bytes > 0);
    }
  });
});
