import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import type { AzureClients } from "../../src/azure/clients.js";
import { clientsFor } from "../support/emulator-clients.js";
import { discoverResources } from "../../src/azure/inventory.js";
import { listDiagnosticSettings, putDiagnosticSetting, serverAuditingPolicies, workspaceAuditingPolicies } from "../../src/azure/arm-auditing.js";
import { KIND_ADAPTERS } from "../../src/kinds/adapters.js";

// The ARM adapters with the real SDK clients and the real managed-identity credential, against the emulator.
const SUB = "11111111-1111-4111-8111-111111111111";
const RO_SUB = "22222222-2222-4222-8222-222222222222";
const MI = `/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/managedInstances`;
const LAW = `/subscriptions/${SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law-central`;

let emu: RunningEmulator;
let clients: AzureClients;

before(async () => {
  emu = await startEmulator({ fleetFile: shippedFleet("test-small.yaml") });
  clients = clientsFor(emu);
});

after(async () => {
  await emu?.stop();
});

describe("inventory", () => {
  it("lists every instance, server and workspace per subscription when Resource Graph is not used", async () => {
    const found = await discoverResources(clients, { readers: KIND_ADAPTERS, subscriptions: [SUB, RO_SUB], useResourceGraph: false });
    assert.equal(found.source, "resource-provider-lists");
    assert.deepEqual(found.unreadable, []);
    const names = found.resources.map((r) => `${r.kind}:${r.name}`).sort();
    assert.ok(names.includes("sql-managed-instance:mi-good"));
    assert.ok(names.includes("sql-server:sql-readonly"));
    assert.ok(names.includes("synapse-workspace:syn-one"));
    const mi = found.resources.find((r) => r.name === "mi-good")!;
    assert.equal(mi.subscriptionId, SUB);
    assert.equal(mi.resourceGroup, "rg-data");
    assert.deepEqual(mi.tags, { env: "prod" });
    assert.match(String(mi.properties.fullyQualifiedDomainName), /^mi-good\.abc123def456\.database\.windows\.net$/);
  });
});

describe("auditing policies", () => {
  it("reads a SQL server's policy with the fields ARM returns", async () => {
    const policy = await serverAuditingPolicies.get(clients, { subscriptionId: SUB, resourceGroup: "rg-data", name: "sql-good" }, "auditingSettings");
    assert.equal(policy.state, "Enabled");
    assert.equal(policy.isAzureMonitorTargetEnabled, true);
    assert.ok((policy.auditActionsAndGroups as string[]).includes("BACKUP_RESTORE_GROUP"));
    assert.equal("id" in policy, false, "read-only envelope fields are dropped");
  });

  it("writes through the long-running operation, in its 202 + Azure-AsyncOperation shape too", async () => {
    const target = { subscriptionId: SUB, resourceGroup: "rg-data", name: "sql-async" };
    const saved = await serverAuditingPolicies.put(clients, target, "extendedAuditingSettings", {
      state: "Enabled",
      isAzureMonitorTargetEnabled: true,
      auditActionsAndGroups: ["BATCH_COMPLETED_GROUP"],
    });
    assert.equal(saved.state, "Enabled");
    const back = await serverAuditingPolicies.get(clients, target, "extendedAuditingSettings");
    assert.equal(back.isAzureMonitorTargetEnabled, true);
  });

  it("reads and writes a Synapse workspace's policy", async () => {
    const target = { subscriptionId: SUB, resourceGroup: "rg-data", name: "syn-one" };
    assert.equal((await workspaceAuditingPolicies.get(clients, target, "auditingSettings")).state, "Disabled");
    await workspaceAuditingPolicies.put(clients, target, "auditingSettings", { state: "Enabled", isAzureMonitorTargetEnabled: true });
    assert.equal((await workspaceAuditingPolicies.get(clients, target, "auditingSettings")).state, "Enabled");
  });

  it("a write the identity may not make fails with ARM's 403, unchanged", async () => {
    await assert.rejects(
      serverAuditingPolicies.put(clients, { subscriptionId: RO_SUB, resourceGroup: "rg-ro", name: "sql-readonly" }, "auditingSettings", { state: "Enabled", isAzureMonitorTargetEnabled: true }),
      (error: { statusCode?: number; code?: string }) => error.statusCode === 403 && error.code === "AuthorizationFailed",
    );
  });
});

describe("diagnostic settings", () => {
  it("lists settings with category and categoryGroup logs, given an ARM id with its leading slash", async () => {
    const settings = await listDiagnosticSettings(clients, SUB, `${MI}/mi-dedicated`);
    assert.equal(settings.length, 1);
    assert.equal(settings[0]!.logAnalyticsDestinationType, "Dedicated");
    assert.deepEqual(settings[0]!.logs, [{ categoryGroup: "audit", enabled: true }]);
  });

  it("creates a setting and reads it back", async () => {
    await putDiagnosticSetting(clients, SUB, `${MI}/mi-nodiag`, "auditguard", { workspaceId: LAW, logs: [{ category: "SQLSecurityAuditEvents", enabled: true }] });
    const settings = await listDiagnosticSettings(clients, SUB, `${MI}/mi-nodiag`);
    assert.equal(settings.length, 1);
    assert.equal(settings[0]!.name, "auditguard");
    assert.equal(settings[0]!.workspaceId?.toLowerCase(), LAW.toLowerCase());
  });
});
