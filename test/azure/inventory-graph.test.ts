import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { generateFleet } from "../../emulator/fleet/generate.js";
import type { AzureClients } from "../../src/azure/clients.js";
import { clientsFor } from "../support/emulator-clients.js";
import { discoverResources } from "../../src/azure/inventory.js";
import { KIND_ADAPTERS } from "../../src/kinds/adapters.js";

// Inventory with the real ResourceGraphClient against the emulator's Resource Graph (KQL over Resources).

describe("inventory through Resource Graph", () => {
  let emu: RunningEmulator;
  let clients: AzureClients;
  before(async () => {
    const { fleet } = generateFleet({ seed: 7, managedInstances: 1200, sqlServers: 600, synapseWorkspaces: 700, subscriptions: 3 });
    emu = await startEmulator({ fleet });
    clients = clientsFor(emu);
  });
  after(() => emu?.stop());

  it("pages with $skipToken through 2,500 resources and misses none", async () => {
    const found = await discoverResources(clients, { readers: KIND_ADAPTERS });
    assert.equal(found.source, "resource-graph");
    assert.equal(found.resources.length, 2500);
    assert.equal(new Set(found.resources.map((r) => r.id.toLowerCase())).size, 2500);
    assert.equal(found.resources.filter((r) => r.kind === "sql-managed-instance").length, 1200);
    assert.ok(found.resources.filter((r) => r.kind === "sql-managed-instance").every((r) => typeof r.properties.fullyQualifiedDomainName === "string"));
  });

  // "Guidance for throttled requests in Azure Resource Graph": 15 queries per 5-second window per user, 429 past it
  // (the emulator enforces that by default). 2,500 resources at 150 a page are 17 pages, and the visible-subscriptions
  // query is one more: a window's worth and more, which the scanner's throttle spreads over two windows.
  it("an inventory of more pages than Resource Graph's 15-query window is paced to its quota: no 429", async () => {
    const before = clients.context.throttle.stats.resourceGraphQueries;
    const found = await discoverResources(clients, { readers: KIND_ADAPTERS, graphPageSize: 150 });
    assert.equal(found.source, "resource-graph");
    assert.equal(found.resources.length, 2500);
    assert.equal(new Set(found.resources.map((r) => r.id.toLowerCase())).size, 2500);
    const stats = clients.context.throttle.stats;
    assert.equal(stats.throttled, 0, "no 429 from Resource Graph");
    assert.ok(stats.resourceGraphQueries - before >= 18, `17 pages and the subscriptions: ${stats.resourceGraphQueries - before}`);
  });

  it("falls back to the providers' list APIs when Resource Graph is not used, with the same answer", async () => {
    const graph = await discoverResources(clients, { readers: KIND_ADAPTERS });
    const subs = [...new Set(graph.resources.map((r) => r.subscriptionId))];
    const lists = await discoverResources(clients, { readers: KIND_ADAPTERS, subscriptions: subs, useResourceGraph: false });
    assert.deepEqual(lists.resources.map((r) => r.id.toLowerCase()).sort(), graph.resources.map((r) => r.id.toLowerCase()).sort());
  });
});
