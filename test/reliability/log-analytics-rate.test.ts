import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { ManagedIdentityCredential } from "@azure/identity";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import type { FleetInput } from "../../emulator/fleet/schema.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import { runActivitySweep } from "../../src/scan/activity-sweep.js";
import { ActivityStore } from "../../src/azure/activity-store.js";
import { ResultsStore } from "../../src/azure/results-store.js";
import { JsonQueue } from "../../src/azure/queues.js";
import { startEstate, stopEstate } from "../support/estate.js";

// Log Analytics answers 200 queries per 30 s per identity; here the emulator enforces a scaled-down 5 per 2 s so
// the test stays short, over more workspaces than that. A sweep told the limit stays inside it; one that is not
// (another process spending the same identity's quota) meets 429s, pauses on their Retry-After, and still reads
// every workspace.
const WORKSPACES = 12;
const SUB = "11111111-1111-4111-8111-111111111111";
let emu: RunningEmulator;
let azurite: RunningAzurite;

before(async () => {
  const fleet: FleetInput = {
    tenantId: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
    scanner: { principalId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", clientId: "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", displayName: "auditguard-scanner", roleAssignments: [{ scope: `/subscriptions/${SUB}`, role: "Log Analytics Reader" }] },
    subscriptions: [{ id: SUB, displayName: "logs", resourceGroups: [{ name: "rg-logs", logAnalyticsWorkspaces: Array.from({ length: WORKSPACES }, (_, w) => ({ name: `law-${w}`, customerId: `00000000-0000-4000-8000-${String(w).padStart(12, "0")}` })) }] }],
    logAnalyticsRateLimit: { requests: 5, windowSeconds: 2 },
  };
  ({ emu, azurite } = await startEstate({ fleet }));
});
after(async () => {
  await stopEstate(emu, azurite);
});

async function sweepWith(rate: { requests: number; windowSeconds: number }, prefix: string) {
  const generated = emulatorBaseline(emu, endpointsOf(emu)) as Record<string, unknown> & { scan?: Record<string, unknown> };
  generated.scan = { ...(generated.scan ?? {}), logAnalyticsRate: rate, targetTimeoutSeconds: 60 };
  const env = createScanEnvironment(loadBaselineText(JSON.stringify(generated), "b.json"), { credential: new ManagedIdentityCredential() });
  const connection = { connectionString: azurite.connectionString };
  const activity = await ActivityStore.open(connection, prefix);
  await activity.saveRoutes(
    [...emu.estate.allWorkspaces()].map((w, i) => ({ targetId: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Sql/servers/s${i}`, kind: "sql-server", name: `s${i}`, subscriptionId: SUB, resourceGroup: "rg", routes: [{ workspaceId: w.resourceId, table: "AzureDiagnostics" }], observedAt: new Date().toISOString() })),
  );
  const summary = await runActivitySweep({ env, activity, store: await ResultsStore.open(connection, prefix), events: JsonQueue.connect(connection, `${prefix.toLowerCase()}-events`), eventSource: "urn:test" }, { sweepId: prefix });
  return { summary, stats: env.clients.context.logsRateLimit!.stats };
}

it("a sweep that knows the limit stays inside it: paced, never throttled", async () => {
  const { summary, stats } = await sweepWith({ requests: 5, windowSeconds: 2 }, "Paced");
  assert.equal(summary.workspaces.length, WORKSPACES);
  assert.ok(summary.workspaces.every((w) => w.complete), JSON.stringify(summary.workspaces.filter((w) => !w.complete)));
  assert.equal(stats.throttled, 0);
  assert.ok(stats.waitedMs > 0, "queries beyond five in two seconds waited");
});

it("a sweep that overshoots is throttled, pauses on Retry-After, and still reads every workspace", async () => {
  // Let the quota window of the previous sweep run out first.
  await new Promise((r) => setTimeout(r, 2100));
  const { summary, stats } = await sweepWith({ requests: 1000, windowSeconds: 1 }, "Eager");
  assert.ok(summary.workspaces.every((w) => w.complete), JSON.stringify(summary.workspaces.filter((w) => !w.complete)));
  assert.ok(stats.throttled > 0, "the emulator enforced its quota");
});
