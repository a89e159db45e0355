import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { QueueClient } from "@azure/storage-queue";
import { ManagedIdentityCredential } from "@azure/identity";
import { parse } from "yaml";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import type { FleetInput } from "../../emulator/fleet/schema.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import type { Baseline } from "../../src/core/policy/schema.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import { runScan } from "../../src/scan/run-scan.js";
import { ResultsStore } from "../../src/azure/results-store.js";
import { JsonQueue } from "../../src/azure/queues.js";
import { decodeQueueMessage } from "../../src/core/events/build.js";
import { cloudEventSchema } from "../../src/core/events/catalog.js";
import { findSecret } from "../../src/core/redaction.js";
import type { ScanEnvironment } from "../../src/scan/environment.js";
import { startEstate, stopEstate } from "../support/estate.js";

// The estate run end to end on the emulator (ARM, Resource Graph, Log Analytics, managed identity) and Azurite.
const SUB = "11111111-1111-4111-8111-111111111111";
const serverId = (rg: string, name: string) => `/subscriptions/${rg === "rg-ro" ? "22222222-2222-4222-8222-222222222222" : SUB}/resourceGroups/${rg}/providers/Microsoft.Sql/servers/${name}`;

let emu: RunningEmulator;
let azurite: RunningAzurite;
let env: ScanEnvironment;
let baseline: Baseline;

before(async () => {
  const fleet = parse(readFileSync(shippedFleet("test-small.yaml"), "utf8")) as FleetInput;
  const rg = fleet.subscriptions[0]!.resourceGroups![0]!;
  rg.sqlServers = [...(rg.sqlServers ?? []), { name: "sql-exempt", tags: { "auditguard:exempt": "true" }, auditingSettings: { state: "Disabled" } }] as typeof rg.sqlServers;
  ({ emu, azurite } = await startEstate({ fleet }));
  const generated = emulatorBaseline(emu, endpointsOf(emu)) as Record<string, unknown> & { scope: Record<string, unknown> };
  // Managed Instances need the TDS endpoint; this run covers the ARM-governed kinds.
  generated.scope.kinds = ["sql-server", "synapse-workspace"];
  baseline = loadBaselineText(JSON.stringify(generated), "baseline.json");
  env = createScanEnvironment(baseline, { credential: new ManagedIdentityCredential() });
});

after(async () => {
  await stopEstate(emu, azurite);
});

async function drain(queueName: string) {
  const queue = new QueueClient(azurite.connectionString, queueName);
  const out: Array<{ type: string; subject?: string; data: Record<string, unknown> }> = [];
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (!receivedMessageItems.length) return out;
    for (const m of receivedMessageItems) {
      assert.equal(findSecret(m.messageText), undefined);
      const event = decodeQueueMessage(m.messageText);
      cloudEventSchema.parse(event);
      out.push(event as (typeof out)[number]);
      await queue.deleteMessage(m.messageId, m.popReceipt);
    }
  }
}

describe("a scan of the estate", () => {
  it("plan mode reports drift with the exact change and changes nothing", async () => {
    const store = await ResultsStore.open({ connectionString: azurite.connectionString }, "Plan");
    const events = JsonQueue.connect({ connectionString: azurite.connectionString }, "plan-events");
    const before = emu.estate.auditingPolicy(serverId("rg-data", "sql-async"), "auditingSettings");
    const summary = await runScan(env, { trigger: "cli", mode: "plan", store, events });
    assert.equal(summary.inventory.source, "resource-graph");
    const byName = Object.fromEntries(summary.results.map((r) => [r.target.name, r]));
    assert.equal(byName["sql-good"]?.status, "compliant", byName["sql-good"]?.reason);
    assert.equal(byName["sql-async"]?.status, "noncompliant");
    assert.ok(byName["sql-async"].plan.some((a) => a.kind === "arm-auditing-put"));
    assert.equal(byName["syn-one"]?.status, "noncompliant");
    assert.equal(byName["sql-exempt"]?.status, "exempt");
    assert.deepEqual(emu.estate.auditingPolicy(serverId("rg-data", "sql-async"), "auditingSettings"), before, "plan mode changed nothing");
    const stored = await store.listLatest();
    assert.equal(stored.length, summary.results.length);
    const published = await drain("plan-events");
    assert.ok(published.some((e) => e.type === "com.auditguard.drift.detected" && e.subject === serverId("rg-data", "sql-async")));
    assert.ok(!published.some((e) => e.type === "com.auditguard.remediation.applied"));
    assert.equal(published.filter((e) => e.type === "com.auditguard.scan.completed").length, 1);
  });

  it("enforce mode remediates what it may, reports what it may not with the missing permission, and a second run is compliant", async () => {
    const store = await ResultsStore.open({ connectionString: azurite.connectionString }, "Enforce");
    const events = JsonQueue.connect({ connectionString: azurite.connectionString }, "enforce-events");
    const first = await runScan(env, { trigger: "cli", mode: "enforce", store, events });
    const byName = Object.fromEntries(first.results.map((r) => [r.target.name, r]));
    assert.equal(byName["sql-async"]?.status, "remediated", byName["sql-async"]?.reason);
    assert.equal(byName["syn-one"]?.status, "remediated", byName["syn-one"]?.reason);
    assert.equal(byName["sql-exempt"]?.status, "exempt");
    assert.equal(emu.estate.auditingPolicy(serverId("rg-data", "sql-exempt"), "auditingSettings")?.state, "Disabled", "an exempt target is left alone");
    const readOnly = byName["sql-readonly"]!;
    assert.equal(readOnly.status, "noncompliant");
    assert.equal(readOnly.failedAction?.error.code, "AuthorizationFailed");
    assert.match(readOnly.reason ?? "", /missing permission: .*auditingSettings\/write/);
    const published = await drain("enforce-events");
    assert.ok(published.some((e) => e.type === "com.auditguard.remediation.applied" && e.subject === serverId("rg-data", "sql-async")));
    assert.ok(published.some((e) => e.type === "com.auditguard.remediation.failed" && e.subject === serverId("rg-ro", "sql-readonly")));

    const second = await runScan(env, { trigger: "cli", mode: "enforce", store });
    const again = Object.fromEntries(second.results.map((r) => [r.target.name, r.status]));
    assert.equal(again["sql-async"], "compliant");
    assert.equal(again["syn-one"], "compliant");
    for (const scan of [first.scanId, second.scanId]) {
      assert.ok((await store.listScanResults(scan)).items.some((r) => r.targetId === serverId("rg-data", "sql-async")), `scan ${scan} keeps its own result`);
    }
  });

  it("a deadline in the past scans nothing and names every target not scanned", async () => {
    const summary = await runScan(env, { trigger: "cli", mode: "plan", deadline: Date.now() - 1 });
    assert.equal(summary.results.length, 0);
    assert.equal(summary.complete, false);
    assert.ok(summary.notScanned.length > 0 && summary.notScanned.every((n) => /deadline/.test(n.reason)));
  });
});
