import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ManagedIdentityCredential } from "@azure/identity";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import { runScan } from "../../src/scan/run-scan.js";
import { closeScan, enqueueScan } from "../../src/scan/fan-out.js";
import { InventoryError } from "../../src/azure/errors.js";
import { ResultsStore } from "../../src/azure/results-store.js";
import { JsonQueue } from "../../src/azure/queues.js";
import { decodeQueueMessage } from "../../src/core/events/build.js";
import { QueueClient } from "@azure/storage-queue";
import { startEstate, stopEstate } from "../support/estate.js";

// An inventory that could not be read completely never reads as a clean estate: a scan that cannot sign in, an
// identity that can see nothing, Resource Graph failing with its fallback failing too, or a subscription in scope
// that the scanner cannot see, each end as an error that names what could not be read.
const SUB = "11111111-1111-4111-8111-111111111111";
const RO_SUB = "22222222-2222-4222-8222-222222222222";
const UNKNOWN_SUB = "33333333-3333-4333-8333-333333333333";
let emu: RunningEmulator;
let azurite: RunningAzurite;

before(async () => {
  ({ emu, azurite } = await startEstate({ fleetFile: shippedFleet("test-small.yaml") }));
});
after(async () => {
  await stopEstate(emu, azurite);
});

function environment(scope: Record<string, unknown>, options: { clientId?: string; useResourceGraph?: boolean; credential?: ManagedIdentityCredential } = {}) {
  const generated = emulatorBaseline(emu, endpointsOf(emu)) as Record<string, unknown> & { scope: Record<string, unknown>; endpoints: Record<string, unknown> };
  generated.scope = { ...generated.scope, kinds: ["sql-server", "synapse-workspace"], ...scope };
  if (options.useResourceGraph === false) generated.endpoints.useResourceGraph = false;
  generated.mode = "plan";
  const credential = options.credential ?? new ManagedIdentityCredential(options.clientId ? { clientId: options.clientId } : {});
  return createScanEnvironment(loadBaselineText(JSON.stringify(generated), "b.json"), { credential });
}

describe("an inventory that could not be read", () => {
  it("an identity without any role reads nothing: an error, not an empty estate", async () => {
    const noRoles = emu.fleet.otherIdentities.find((i) => i.displayName === "no-roles")!;
    await assert.rejects(runScan(environment({ subscriptions: [] }, { clientId: noRoles.clientId }), { trigger: "cli" }), (e: unknown) => e instanceof InventoryError && /can read no subscription/.test(e.message));
  });

  it("Resource Graph off and every subscription unlistable: InventoryError with each subscription's ARM error", async () => {
    const noRoles = emu.fleet.otherIdentities.find((i) => i.displayName === "no-roles")!;
    await assert.rejects(runScan(environment({ subscriptions: [SUB, RO_SUB] }, { clientId: noRoles.clientId, useResourceGraph: false }), { trigger: "cli" }), (e: unknown) => {
      assert.ok(e instanceof InventoryError);
      assert.equal(e.unreadable.length, 2);
      assert.ok(e.unreadable.every((u) => /AuthorizationFailed|HTTP403/.test(u)), e.message);
      return true;
    });
  });

  it("a subscription in scope that the scanner cannot see: the rest is scanned and the scan is incomplete, naming it", async () => {
    const summary = await runScan(environment({ subscriptions: [SUB, UNKNOWN_SUB] }), { trigger: "cli" });
    assert.ok(summary.results.length > 0, "what could be read was scanned");
    assert.equal(summary.complete, false);
    assert.deepEqual(summary.inventory.unreadable.map((u) => u.split(":")[0]), [`subscription ${UNKNOWN_SUB}`]);
  });

  it("the same through the Functions fan-out: the run records the problem and its scan-completed event says it", async () => {
    const connection = { connectionString: azurite.connectionString };
    const services = {
      env: environment({ subscriptions: [SUB, UNKNOWN_SUB] }),
      store: await ResultsStore.open(connection, "Inventory"),
      requests: JsonQueue.connect(connection, "inventory-requests"),
      events: JsonQueue.connect(connection, "inventory-events"),
      eventSource: "urn:auditguard:test",
    };
    const { scanId, problem } = await enqueueScan(services, { trigger: "timer" });
    assert.match(problem ?? "", new RegExp(`subscription ${UNKNOWN_SUB}: not visible`));
    const run = (await services.store.getRun(scanId))!;
    assert.match(run.problem ?? "", /could not be read completely/);
    // Close it as the last worker would (the targets themselves are not scanned here).
    await closeScan(services, run);
    const events = new QueueClient(azurite.connectionString, "inventory-events");
    const { receivedMessageItems } = await events.receiveMessages({ numberOfMessages: 32 });
    const completed = receivedMessageItems.map((m) => decodeQueueMessage(m.messageText) as { type: string; data: { complete: boolean; problem?: string } }).find((e) => e.type === "com.auditguard.scan.completed")!;
    assert.equal(completed.data.complete, false);
    assert.match(completed.data.problem ?? "", new RegExp(UNKNOWN_SUB));
  });
});
