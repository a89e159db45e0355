import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SqlManagementClient } from "@azure/arm-sql";
import { MonitorClient } from "@azure/arm-monitor";
import type { TokenCredential } from "@azure/core-auth";
import { generateFleet } from "../../emulator/fleet/generate.js";
import { validateFleet } from "../../emulator/fleet/load.js";
import { startEmulator } from "../../emulator/server.js";

// Generated fleets for scale: valid, repeatable, and served in nextLink pages the SDK pagers follow.
describe("generated fleets", () => {
  it("are valid and repeatable, with the requested drift mix", () => {
    const a = generateFleet({ seed: 5, managedInstances: 300, sqlServers: 40, synapseWorkspaces: 10, driftRate: 0.5 });
    const b = generateFleet({ seed: 5, managedInstances: 300, sqlServers: 40, synapseWorkspaces: 10, driftRate: 0.5 });
    assert.deepEqual(a, b);
    const fleet = validateFleet(a.fleet);
    const count = fleet.subscriptions.reduce((n, s) => n + s.resourceGroups.reduce((m, g) => m + g.managedInstances.length, 0), 0);
    assert.equal(count, 300);
    const drifted = Object.values(a.drift).filter((d) => d !== "compliant").length;
    assert.ok(drifted > 100 && drifted < 200, String(drifted));
    assert.notDeepEqual(generateFleet({ seed: 6, managedInstances: 300, driftRate: 0.5 }).drift, a.drift);
  });

  it("spread the targets' audit over the workspaces asked for, in turn", () => {
    const fleet = validateFleet(generateFleet({ seed: 2, subscriptions: 3, managedInstances: 40, sqlServers: 40, synapseWorkspaces: 20, driftRate: 0, workspaces: 5 }).fleet);
    const groups = fleet.subscriptions.flatMap((s) => s.resourceGroups);
    const names = groups.flatMap((g) => g.logAnalyticsWorkspaces.map((w) => w.name)).sort();
    assert.deepEqual(names, ["law-00", "law-01", "law-02", "law-03", "law-04", "law-other"]);
    const sentTo = new Map<string, number>();
    for (const g of groups) {
      for (const r of [...g.managedInstances, ...g.sqlServers, ...g.synapseWorkspaces]) for (const d of r.diagnosticSettings) sentTo.set(String(d.workspace), (sentTo.get(String(d.workspace)) ?? 0) + 1);
    }
    assert.deepEqual([...sentTo.keys()].sort(), ["law-00", "law-01", "law-02", "law-03", "law-04"]);
    for (const n of sentTo.values()) assert.equal(n, 20, "100 targets over 5 workspaces");
  });

  it("ARM pages large lists with nextLink and the SDK follows every page", async () => {
    const { fleet } = generateFleet({ seed: 9, subscriptions: 1, managedInstances: 1200, armPageSize: 250 });
    const emu = await startEmulator({ fleet });
    try {
      const sub = emu.fleet.subscriptions[0]!.id;
      const credential: TokenCredential = { getToken: async () => ({ token: emu.issueToken("https://management.azure.com/"), expiresOnTimestamp: Date.now() + 3600_000 }) };
      const sql = new SqlManagementClient(credential, sub, { endpoint: emu.armUrl, tlsOptions: { ca: emu.caPem } });
      const before = emu.requestCounts().arm;
      const names = new Set<string>();
      for await (const mi of sql.managedInstances.list()) names.add(mi.name!);
      assert.equal(names.size, 1200);
      assert.equal(emu.requestCounts().arm - before, 5);
      const monitor = new MonitorClient(credential, sub, { endpoint: emu.armUrl, tlsOptions: { ca: emu.caPem } });
      const first = emu.estate.managedInstances()[0]!;
      const settings = [];
      for await (const d of monitor.diagnosticSettings.list(first.id.slice(1))) settings.push(d);
      assert.ok(settings.length <= 1);
    } finally {
      await emu.stop();
    }
  });
});
