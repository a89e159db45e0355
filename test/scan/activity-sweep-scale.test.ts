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
import type { StoredRoute } from "../../src/azure/activity-store.js";
import { ResultsStore } from "../../src/azure/results-store.js";
import { JsonQueue } from "../../src/azure/queues.js";
import { startEstate, stopEstate } from "../support/estate.js";

// A fleet of 10,000 targets sending to 20 workspaces, swept under Log Analytics' documented limits, which the
// emulator enforces by default (200 queries per 30 s and 5 at once per identity: "Azure Monitor service limits"):
// one query per workspace (two with silence detection), however many targets, and not one 429.
const SUB = "11111111-1111-4111-8111-111111111111";
const TARGETS = 10_000;
const WORKSPACES = 20;
let emu: RunningEmulator;
let azurite: RunningAzurite;

const targetId = (i: number) => `/subscriptions/${SUB}/resourceGroups/rg-${i % 50}/providers/Microsoft.Sql/managedInstances/mi-${String(i).padStart(5, "0")}`;

before(async () => {
  // Each workspace holds benign records and one COPY_ONLY backup of one of its targets, ten minutes old.
  const workspaces = Array.from({ length: WORKSPACES }, (_, w) => ({
    name: `law-${w}`,
    customerId: `00000000-0000-4000-8000-${String(w).padStart(12, "0")}`,
    tables: {
      AzureDiagnostics: [
        ...Array.from({ length: 30 }, (_, k) => ({ TimeGenerated: "-PT20M", Category: "SQLSecurityAuditEvents", action_id_s: "BCM", statement_s: "SELECT 1", server_principal_name_s: "app", _ResourceId: targetId(w + k * WORKSPACES) })),
        { TimeGenerated: "-PT10M", Category: "SQLSecurityAuditEvents", action_id_s: "BA  ", action_name_s: "BACKUP", class_type_s: "DB", statement_s: `BACKUP DATABASE [d${w}] TO URL = 'https://corpbackups.blob.core.windows.net/b/d.bak' WITH COPY_ONLY`, server_principal_name_s: "mallory", database_name_s: `d${w}`, event_id_g: `0000000${w % 10}-1111-4111-8111-${String(w).padStart(12, "0")}`, _ResourceId: targetId(w) },
      ],
    },
  }));
  const fleet: FleetInput = {
    tenantId: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
    scanner: { principalId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", clientId: "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", displayName: "auditguard-scanner", roleAssignments: [{ scope: `/subscriptions/${SUB}`, role: "Log Analytics Reader" }] },
    subscriptions: [{ id: SUB, displayName: "logs", resourceGroups: [{ name: "rg-logs", logAnalyticsWorkspaces: workspaces }] }],
    faults: { ingestionDelay: { kind: "fixed", ms: 0 } },
  };
  ({ emu, azurite } = await startEstate({ fleet }));
});
after(async () => {
  await stopEstate(emu, azurite);
});

it(`sweeps ${TARGETS} targets in ${WORKSPACES} workspaces with one query per workspace and no 429`, { timeout: 180_000 }, async () => {
  const generated = emulatorBaseline(emu, endpointsOf(emu)) as Record<string, unknown> & { activity: Record<string, unknown> };
  generated.activity = { ...generated.activity, lookback: "PT1H", allowedBackupStorageAccounts: ["corpbackups"] };
  const env = createScanEnvironment(loadBaselineText(JSON.stringify(generated), "b.json"), { credential: new ManagedIdentityCredential() });
  const connection = { connectionString: azurite.connectionString };
  const activity = await ActivityStore.open(connection, "Scale");
  const workspaceIds = [...emu.estate.allWorkspaces()].map((w) => w.resourceId).sort((a, b) => Number(a.split("-").pop()) - Number(b.split("-").pop()));
  const routes: StoredRoute[] = Array.from({ length: TARGETS }, (_, i) => ({
    targetId: targetId(i),
    kind: "sql-managed-instance",
    name: `mi-${String(i).padStart(5, "0")}`,
    subscriptionId: SUB,
    resourceGroup: `rg-${i % 50}`,
    routes: [{ workspaceId: workspaceIds[i % WORKSPACES]!, table: "AzureDiagnostics" }],
    observedAt: new Date().toISOString(),
  }));
  await activity.saveRoutes(routes);
  const before = emu.requestCounts().logAnalytics;
  const summary = await runActivitySweep({ env, activity, store: await ResultsStore.open(connection, "Scale"), events: JsonQueue.connect(connection, "scale-events"), eventSource: "urn:auditguard:test" }, { sweepId: "scale-1" });
  assert.equal(summary.workspaces.length, WORKSPACES);
  assert.ok(summary.workspaces.every((w) => w.complete && !w.problem), JSON.stringify(summary.workspaces.filter((w) => w.problem)));
  assert.equal(summary.queries, WORKSPACES, "one query per workspace, whatever the number of targets");
  assert.equal(emu.requestCounts().logAnalytics - before, WORKSPACES, "the service saw exactly those");
  assert.equal(env.clients.context.logsRateLimit?.stats.throttled, 0, "no 429");
  assert.equal(summary.events, WORKSPACES, "each workspace's COPY_ONLY backup announced once");
  // The padded action id ("BA  ", as the blob format keeps it) is judged like "BA".
  assert.equal((await activity.getVerdict(targetId(7)))?.suspicious[0]?.actionId, "BA");
});
