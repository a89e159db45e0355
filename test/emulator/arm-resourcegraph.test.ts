import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ResourceGraphClient } from "@azure/arm-resourcegraph";
import type { TokenCredential } from "@azure/core-auth";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import { rawRequest } from "../../emulator/http/request.js";
import type { ResourceGraphStore } from "../../emulator/data-contracts.js";
import { readFileSync } from "node:fs";
import { parseFleet } from "../../emulator/fleet/load.js";

// Resource Graph is mounted behind ARM's authentication and api-version checks; the KQL engine itself lives in
// emulator/loganalytics (another engineer's), so here a stub stands in for it to prove the mounting.
const ARM = "https://management.azure.com/";

function credentialFor(emu: RunningEmulator): TokenCredential {
  return { getToken: async () => ({ token: emu.issueToken(ARM), expiresOnTimestamp: Date.now() + 3600_000 }) };
}

describe("Resource Graph mounting", () => {
  it("a registered handler gets the store and answers ResourceGraphClient's POST", async () => {
    let seen: ResourceGraphStore | undefined;
    const emu = await startEmulator({
      fleetFile: shippedFleet("test-small.yaml"),
      services: {
        resourceGraph: (store) => {
          seen = store;
          return async () => {
            // An await before reading the store, as a real handler may have: the caller's scope must survive it.
            await new Promise((resolve) => setImmediate(resolve));
            const rows = [...store.resources()].filter((r) => r.type === "microsoft.sql/managedinstances");
            return { status: 200, json: { totalRecords: rows.length, count: rows.length, resultTruncated: "false", data: rows.map((r) => ({ id: r.id, name: r.name })), facets: [] } };
          };
        },
      },
    });
    try {
      const client = new ResourceGraphClient(credentialFor(emu), { endpoint: emu.armUrl, tlsOptions: { ca: emu.caPem } });
      const result = await client.resources({ query: "Resources | where type =~ 'microsoft.sql/managedinstances' | project id, name" });
      assert.equal(result.totalRecords, 4);
      assert.ok(seen);
      const quota = await rawRequest(`${emu.armUrl}/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01`, {
        method: "POST",
        body: JSON.stringify({ query: "Resources" }),
        headers: { authorization: `Bearer ${emu.issueToken(ARM)}` },
        ca: emu.caPem,
      });
      assert.equal(quota.headers["x-ms-user-quota-remaining"], "13");
      // The same query as an identity without roles sees nothing: the store is scoped to the caller.
      const stranger = await rawRequest(`${emu.armUrl}/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01`, {
        method: "POST",
        body: JSON.stringify({ query: "Resources" }),
        headers: { authorization: `Bearer ${emu.issueToken(ARM, emu.fleet.otherIdentities[0])}` },
        ca: emu.caPem,
      });
      assert.equal(stranger.json<{ totalRecords: number }>().totalRecords, 0);
      assert.match(quota.headers["x-ms-user-quota-resets-after"] ?? "", /^00:00:0\d$/);
      // Outside a request the store is unscoped.
      assert.deepEqual(seen.subscriptionIds().sort(), ["11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"]);
      const anonymous = await rawRequest(`${emu.armUrl}/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01`, { method: "POST", body: "{}", ca: emu.caPem });
      assert.equal(anonymous.status, 401);
      const badVersion = await rawRequest(`${emu.armUrl}/providers/Microsoft.ResourceGraph/resources?api-version=2000-01-01`, {
        method: "POST",
        body: "{}",
        headers: { authorization: `Bearer ${emu.issueToken(ARM)}` },
        ca: emu.caPem,
      });
      assert.equal(badVersion.status, 400);
    } finally {
      await emu.stop();
    }
  });

  it("with the default KQL handler (emulator/kusto), scoped to what the caller may read", async () => {
    const emu = await startEmulator({ fleetFile: shippedFleet("test-small.yaml") });
    try {
      assert.equal(emu.mounted.resourceGraph, true);
      const query = "Resources | where type == 'microsoft.sql/managedinstances' | project id, name";
      const client = new ResourceGraphClient(credentialFor(emu), { endpoint: emu.armUrl, tlsOptions: { ca: emu.caPem } });
      const result = await client.resources({ query, subscriptions: ["11111111-1111-4111-8111-111111111111"] });
      assert.equal(result.totalRecords, 4);
      const strangerCredential: TokenCredential = {
        getToken: async () => ({ token: emu.issueToken(ARM, emu.fleet.otherIdentities[0]), expiresOnTimestamp: Date.now() + 3600_000 }),
      };
      const stranger = new ResourceGraphClient(strangerCredential, { endpoint: emu.armUrl, tlsOptions: { ca: emu.caPem } });
      const none = await stranger.resources({ query, subscriptions: ["11111111-1111-4111-8111-111111111111"] });
      assert.equal(none.totalRecords, 0);
    } finally {
      await emu.stop();
    }
  });

  it("enforces its quota by default: 15 queries per 5-second window per user, then 429 with Retry-After; the headers on every answer", async () => {
    // "Guidance for throttled requests in Azure Resource Graph": x-ms-user-quota-remaining, x-ms-user-quota-resets-after.
    let clock = Date.now();
    const emu = await startEmulator({ fleetFile: shippedFleet("test-small.yaml"), now: () => new Date(clock) });
    const query = (who?: (typeof emu.fleet.otherIdentities)[number]) =>
      rawRequest(`${emu.armUrl}/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01`, {
        method: "POST",
        body: JSON.stringify({ query: "Resources | count" }),
        headers: { authorization: `Bearer ${emu.issueToken(ARM, who)}` },
        ca: emu.caPem,
      });
    try {
      const answers = [];
      for (let i = 0; i < 16; i++) answers.push(await query());
      assert.deepEqual(answers.slice(0, 15).map((a) => a.status), Array(15).fill(200));
      assert.deepEqual(answers.map((a) => a.headers["x-ms-user-quota-remaining"]), [...Array.from({ length: 15 }, (_, i) => String(14 - i)), "0"]);
      const throttled = answers[15]!;
      assert.equal(throttled.status, 429);
      assert.equal(throttled.json<{ error: { code: string } }>().error.code, "RateLimiting");
      assert.ok(Number(throttled.headers["retry-after"]) >= 1);
      assert.match(throttled.headers["x-ms-user-quota-resets-after"] ?? "", /^00:00:0[0-5]$/);
      assert.equal((await query(emu.fleet.otherIdentities[0])).status, 200, "the quota is per user");
      clock += 5000;
      assert.equal((await query()).status, 200, "a new window");
    } finally {
      await emu.stop();
    }
  });

  it("enforceResourceGraphQuota: false only reports the quota", async () => {
    const emu = await startEmulator({ fleet: { ...parseFleet(readFileSync(shippedFleet("test-small.yaml"), "utf8")), enforceResourceGraphQuota: false } });
    try {
      let last;
      for (let i = 0; i < 16; i++) {
        last = await rawRequest(`${emu.armUrl}/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01`, { method: "POST", body: JSON.stringify({ query: "Resources | count" }), headers: { authorization: `Bearer ${emu.issueToken(ARM)}` }, ca: emu.caPem });
      }
      assert.ok(last, "16 requests were made");
      assert.equal(last.status, 200);
      assert.equal(last.headers["x-ms-user-quota-remaining"], "0");
    } finally {
      await emu.stop();
    }
  });
});
