import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { SqlManagementClient } from "@azure/arm-sql";
import type { TokenCredential } from "@azure/core-auth";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { rawRequest } from "../../emulator/http/request.js";
import { TokenAuthority } from "../../emulator/identity/tokens.js";
import { parseFleet } from "../../emulator/fleet/load.js";
import { readFileSync } from "node:fs";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import type { FleetInput } from "../../emulator/fleet/schema.js";

// ARM's failure answers: 401s, 403s, api-version errors, 404s, invalid PUT bodies, 429s and throttling headers.
const SUB = "11111111-1111-4111-8111-111111111111";
const RO_SUB = "22222222-2222-4222-8222-222222222222";
const SERVER = `/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/servers/sql-good`;

let emu: RunningEmulator;
const arm = "https://management.azure.com/";

function fleetWith(change: (f: FleetInput) => void): FleetInput {
  const base = JSON.parse(JSON.stringify(parseFleet(readFileSync(shippedFleet("test-small.yaml"), "utf8")))) as FleetInput;
  change(base);
  return base;
}

before(async () => {
  emu = await startEmulator({
    fleet: fleetWith((f) => {
      f.faults = { seed: 3, throttleBursts: [{ service: "arm", subscriptionId: RO_SUB, startAtRequest: 1, requests: 2, retryAfterSeconds: 1, retryAfterMs: 20 }] };
    }),
  });
});

after(async () => {
  await emu?.stop();
});

const get = (path: string, headers: Record<string, string> = {}) => rawRequest(`${emu.armUrl}${path}`, { headers, ca: emu.caPem });
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

describe("authentication (401)", () => {
  const path = `${SERVER}?api-version=2022-08-01-preview`;

  it("no Authorization header: AuthenticationFailed with a WWW-Authenticate challenge", async () => {
    const res = await get(path);
    assert.equal(res.status, 401);
    assert.deepEqual(res.json(), { error: { code: "AuthenticationFailed", message: "Authentication failed. The 'Authorization' header is missing." } });
    assert.match(res.headers["www-authenticate"] ?? "", /^Bearer authorization_uri="https:\/\/login\.windows\.net\/", error="invalid_token"/);
  });

  it("a token signed by another authority: InvalidAuthenticationToken", async () => {
    const forger = new TokenAuthority({ tenantId: emu.tenantId });
    const forged = forger.issue(arm, { oid: emu.scanner.principalId }).token;
    const res = await get(path, auth(forged));
    assert.equal(res.status, 401);
    assert.equal(res.json<{ error: { code: string } }>().error.code, "InvalidAuthenticationToken");
  });

  it("an expired token: ExpiredAuthenticationToken with both times", async () => {
    const expired = emu.authority.issue(arm, { oid: emu.scanner.principalId }, 60, Date.now() - 3600_000).token;
    const res = await get(path, auth(expired));
    assert.equal(res.status, 401);
    const error = res.json<{ error: { code: string; message: string } }>().error;
    assert.equal(error.code, "ExpiredAuthenticationToken");
    assert.match(error.message, /^The access token expiry UTC time '.+ [AP]M' is earlier than current UTC time '.+ [AP]M'\.$/);
  });

  it("a token for another audience: InvalidAuthenticationTokenAudience listing the allowed ones", async () => {
    const res = await get(path, auth(emu.issueToken("https://api.loganalytics.io")));
    assert.equal(res.status, 401);
    const error = res.json<{ error: { code: string; message: string } }>().error;
    assert.equal(error.code, "InvalidAuthenticationTokenAudience");
    assert.ok(error.message.includes("'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'"));
  });

  it("accepts both ARM audiences with and without the trailing slash", async () => {
    for (const audience of ["https://management.azure.com", "https://management.azure.com/", "https://management.core.windows.net/", "https://management.core.windows.net"]) {
      const res = await get(path, auth(emu.issueToken(audience)));
      assert.equal(res.status, 200, audience);
    }
  });

  it("the SDK surfaces the 401 as a RestError with ARM's code", async () => {
    const anonymous: TokenCredential = { getToken: async () => ({ token: "not.a.jwt", expiresOnTimestamp: Date.now() + 3600_000 }) };
    const client = new SqlManagementClient(anonymous, SUB, { endpoint: emu.armUrl, tlsOptions: { ca: emu.caPem } });
    await assert.rejects(client.servers.get("rg-data", "sql-good"), (e: { statusCode?: number; code?: string }) => e.statusCode === 401 && e.code === "InvalidAuthenticationToken");
  });
});

describe("authorization (403)", () => {
  it("an identity without any role gets AuthorizationFailed naming the action and scope", async () => {
    const token = emu.issueToken(arm, emu.fleet.otherIdentities[0]);
    const res = await get(`${SERVER}/auditingSettings/default?api-version=2021-11-01-preview`, auth(token));
    assert.equal(res.status, 403);
    const error = res.json<{ error: { code: string; message: string } }>().error;
    assert.equal(error.code, "AuthorizationFailed");
    assert.ok(error.message.includes("'Microsoft.Sql/servers/auditingSettings/read'"));
    assert.ok(error.message.includes(`over scope '${SERVER}'`));
  });

  it("a Reader can read but not PUT an auditing policy", async () => {
    const token = emu.issueToken(arm);
    const server = `/subscriptions/${RO_SUB}/resourceGroups/rg-ro/providers/Microsoft.Sql/servers/sql-readonly`;
    // The first two requests in this subscription are throttled by the fleet's burst; wait them out.
    let read = await get(`${server}/auditingSettings/default?api-version=2021-11-01-preview`, auth(token));
    while (read.status === 429) read = await get(`${server}/auditingSettings/default?api-version=2021-11-01-preview`, auth(token));
    assert.equal(read.status, 200);
    const put = await rawRequest(`${emu.armUrl}${server}/auditingSettings/default?api-version=2021-11-01-preview`, {
      method: "PUT",
      headers: auth(token),
      body: JSON.stringify({ properties: { state: "Enabled", isAzureMonitorTargetEnabled: true } }),
      ca: emu.caPem,
    });
    assert.equal(put.status, 403);
    assert.ok(put.json<{ error: { message: string } }>().error.message.includes("Microsoft.Sql/servers/auditingSettings/write"));
  });
});

describe("api-version", () => {
  const token = () => auth(emu.issueToken(arm));

  it("missing: MissingApiVersionParameter", async () => {
    const res = await get(SERVER, token());
    assert.equal(res.status, 400);
    assert.equal(res.json<{ error: { code: string } }>().error.code, "MissingApiVersionParameter");
  });

  it("unknown on a provider route: NoRegisteredProviderFound listing the supported versions", async () => {
    const res = await get(`${SERVER}?api-version=2099-01-01`, token());
    assert.equal(res.status, 400);
    const error = res.json<{ error: { code: string; message: string } }>().error;
    assert.equal(error.code, "NoRegisteredProviderFound");
    assert.ok(error.message.includes("2022-08-01-preview"));
  });

  it("unknown on /subscriptions: InvalidApiVersionParameter", async () => {
    const res = await get(`/subscriptions?api-version=1999-01-01`, token());
    assert.equal(res.status, 400);
    assert.equal(res.json<{ error: { code: string } }>().error.code, "InvalidApiVersionParameter");
  });
});

describe("not found (404)", () => {
  const token = () => auth(emu.issueToken(arm));

  it("ResourceNotFound, ResourceGroupNotFound and SubscriptionNotFound with ARM's messages", async () => {
    const missing = await get(`/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/servers/nope?api-version=2022-08-01-preview`, token());
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json(), {
      error: {
        code: "ResourceNotFound",
        message: "The Resource 'Microsoft.Sql/servers/nope' under resource group 'rg-data' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
      },
    });
    const rg = await get(`/subscriptions/${SUB}/resourceGroups/rg-missing/providers/Microsoft.Sql/servers?api-version=2022-08-01-preview`, token());
    assert.equal(rg.status, 404);
    assert.deepEqual(rg.json(), { error: { code: "ResourceGroupNotFound", message: "Resource group 'rg-missing' could not be found." } });
    const sub = await get(`/subscriptions/33333333-3333-4333-8333-333333333333/providers/Microsoft.Sql/servers?api-version=2022-08-01-preview`, token());
    assert.equal(sub.status, 404);
    assert.equal(sub.json<{ error: { code: string } }>().error.code, "SubscriptionNotFound");
  });
});

describe("invalid PUT bodies (400)", () => {
  const put = (body: unknown) =>
    rawRequest(`${emu.armUrl}${SERVER}/auditingSettings/default?api-version=2021-11-01-preview`, {
      method: "PUT",
      headers: auth(emu.issueToken(arm)),
      body: JSON.stringify(body),
      ca: emu.caPem,
    });

  it("state must be Enabled or Disabled", async () => {
    const res = await put({ properties: { state: "On" } });
    assert.equal(res.status, 400);
    assert.equal(res.json<{ error: { code: string } }>().error.code, "InvalidRequestContent");
  });

  it("Enabled needs a storage endpoint or the Azure Monitor target", async () => {
    const res = await put({ properties: { state: "Enabled" } });
    assert.equal(res.status, 400);
    assert.equal(res.json<{ error: { code: string } }>().error.code, "DataSecurityInvalidUserSuppliedParameter");
  });

  it("a storage endpoint without a key is written by the server's managed identity, as the REST reference says", async () => {
    const res = await put({ properties: { state: "Enabled", storageEndpoint: "https://acct.blob.core.windows.net" } });
    assert.equal(res.status, 200, res.body);
    const body = res.json<{ properties: Record<string, unknown> }>().properties;
    assert.equal(body.isManagedIdentityInUse, true);
    assert.equal(body.storageAccountAccessKey, undefined);
  });

  it("a storage endpoint that is not a blob endpoint is refused", async () => {
    const res = await put({ properties: { state: "Enabled", storageEndpoint: "https://acct.file.core.windows.net" } });
    assert.equal(res.status, 400);
    assert.match(res.json<{ error: { message: string } }>().error.message, /storageEndpoint/);
  });
});

describe("throttling", () => {
  it("x-ms-ratelimit-remaining-subscription-reads counts down from the bucket's 250, per subscription", async () => {
    const frozen = new Date();
    const fresh = await startEmulator({ fleet: fleetWith(() => {}), now: () => frozen });
    try {
      const token = auth(fresh.issueToken(arm));
      const remaining = async (path: string) => (await rawRequest(`${fresh.armUrl}${path}`, { headers: token, ca: fresh.caPem })).headers["x-ms-ratelimit-remaining-subscription-reads"];
      assert.equal(await remaining(`${SERVER}?api-version=2022-08-01-preview`), "249");
      assert.equal(await remaining(`${SERVER}?api-version=2022-08-01-preview`), "248");
      assert.equal(await remaining(`/subscriptions/${RO_SUB}/resourceGroups/rg-ro/providers/Microsoft.Sql/servers/sql-readonly?api-version=2022-08-01-preview`), "249", "another subscription has its own bucket");
    } finally {
      await fresh.stop();
    }
  });

  it("a 429 burst carries Retry-After; the SDK waits and retries without a storm", async () => {
    const fresh = await startEmulator({
      fleet: fleetWith((f) => {
        f.faults = { seed: 1, throttleBursts: [{ service: "arm", startAtRequest: 1, requests: 2, retryAfterSeconds: 1, retryAfterMs: 30 }] };
      }),
    });
    try {
      const raw = await rawRequest(`${fresh.armUrl}${SERVER}?api-version=2022-08-01-preview`, { headers: auth(fresh.issueToken(arm)), ca: fresh.caPem });
      assert.equal(raw.status, 429);
      assert.equal(raw.headers["retry-after"], "1");
      assert.equal(raw.json<{ error: { code: string } }>().error.code, "SubscriptionRequestsThrottled");
      const credential: TokenCredential = { getToken: async () => ({ token: fresh.issueToken(arm), expiresOnTimestamp: Date.now() + 3600_000 }) };
      const client = new SqlManagementClient(credential, SUB, { endpoint: fresh.armUrl, tlsOptions: { ca: fresh.caPem } });
      const before = fresh.requestCounts().arm;
      const server = await client.servers.get("rg-data", "sql-good");
      assert.equal(server.name, "sql-good");
      // One more throttled answer, then success: two requests, not a storm.
      assert.equal(fresh.requestCounts().arm - before, 2);
    } finally {
      await fresh.stop();
    }
  });

  it("the documented token buckets: 250 reads and 200 writes per subscription and principal, in the headers of every answer", async () => {
    const token = auth(emu.issueToken(arm));
    const read = await get(`/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/servers/nope?api-version=2022-08-01-preview`, token);
    assert.equal(read.status, 404, "an error answer carries them too");
    // Fresh buckets hold 250 (reads) and 200 (writes) tokens; this test file has spent a few already.
    const reads = Number(read.headers["x-ms-ratelimit-remaining-subscription-reads"]);
    assert.ok(reads > 200 && reads < 250, String(reads));
    assert.ok(Number(read.headers["x-ms-ratelimit-remaining-subscription-global-reads"]) > 3000, "the global bucket is 15 times as large");
    const write = await rawRequest(`${emu.armUrl}${SERVER}/auditingSettings/default?api-version=2021-11-01-preview`, { method: "PUT", body: "{}", headers: token, ca: emu.caPem });
    assert.ok(Number(write.headers["x-ms-ratelimit-remaining-subscription-writes"]) < 200);
    assert.equal(write.headers["x-ms-ratelimit-remaining-subscription-reads"], undefined, "a write spends and reports write tokens");
    const tenant = await get(`/subscriptions?api-version=2022-12-01`, token);
    assert.ok(Number(tenant.headers["x-ms-ratelimit-remaining-tenant-reads"]) < 250, "tenant-level requests have buckets of their own");
  });

  it("an empty bucket answers 429 with Retry-After until it refills, per principal; the global bucket is shared", async () => {
    let clock = Date.now();
    const fresh = await startEmulator({
      now: () => new Date(clock),
      fleet: fleetWith((f) => {
        f.armThrottling = { reads: { size: 2, refillPerSecond: 0.5 }, globalMultiplier: 1.5 };
      }),
    });
    try {
      const scanner = auth(fresh.issueToken(arm));
      const other = auth(fresh.issueToken(arm, fresh.fleet.otherIdentities[0]));
      const url = `${fresh.armUrl}${SERVER}?api-version=2022-08-01-preview`;
      const first = await rawRequest(url, { headers: scanner, ca: fresh.caPem });
      assert.equal(first.headers["x-ms-ratelimit-remaining-subscription-reads"], "1");
      await rawRequest(url, { headers: scanner, ca: fresh.caPem });
      const third = await rawRequest(url, { headers: scanner, ca: fresh.caPem });
      assert.equal(third.status, 429);
      assert.equal(third.json<{ error: { code: string } }>().error.code, "SubscriptionRequestsThrottled");
      assert.equal(third.headers["retry-after"], "2", "one token comes back after 2 s at 0.5 per second");
      // Another principal has a bucket of its own, but the global one (3 tokens) has one left, then none.
      assert.notEqual((await rawRequest(url, { headers: other, ca: fresh.caPem })).status, 429);
      const global = await rawRequest(url, { headers: other, ca: fresh.caPem });
      assert.equal(global.status, 429);
      assert.equal(global.headers["x-ms-ratelimit-remaining-subscription-global-reads"], "0");
      clock += 2000;
      const refilled = await rawRequest(url, { headers: scanner, ca: fresh.caPem });
      assert.equal(refilled.status, 200, "a token came back");
    } finally {
      await fresh.stop();
    }
  });

  it("armThrottling: false lifts the buckets (and their headers)", async () => {
    const fresh = await startEmulator({ fleet: fleetWith((f) => (f.armThrottling = false)) });
    try {
      const res = await rawRequest(`${fresh.armUrl}${SERVER}?api-version=2022-08-01-preview`, { headers: auth(fresh.issueToken(arm)), ca: fresh.caPem });
      assert.equal(res.status, 200);
      assert.equal(res.headers["x-ms-ratelimit-remaining-subscription-reads"], undefined);
    } finally {
      await fresh.stop();
    }
  });
});

describe("injected faults", () => {
  it("an unreachable resource fails with a gateway timeout while the rest of the estate answers", async () => {
    const fresh = await startEmulator({
      fleet: fleetWith((f) => {
        f.faults = { unreachable: ["mi-good"] };
      }),
    });
    try {
      const token = auth(fresh.issueToken(arm));
      const down = await rawRequest(`${fresh.armUrl}/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/managedInstances/mi-good?api-version=2022-08-01-preview`, { headers: token, ca: fresh.caPem });
      assert.equal(down.status, 504);
      assert.equal(down.json<{ error: { code: string } }>().error.code, "GatewayTimeout");
      const up = await rawRequest(`${fresh.armUrl}/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/managedInstances/mi-nodiag?api-version=2022-08-01-preview`, { headers: token, ca: fresh.caPem });
      assert.equal(up.status, 200);
    } finally {
      await fresh.stop();
    }
  });

  it("an error rate of 1 answers every request with ARM's 500", async () => {
    const fresh = await startEmulator({
      fleet: fleetWith((f) => {
        f.faults = { errorRate: { arm: 1 } };
      }),
    });
    try {
      const res = await rawRequest(`${fresh.armUrl}${SERVER}?api-version=2022-08-01-preview`, { headers: auth(fresh.issueToken(arm)), ca: fresh.caPem });
      assert.equal(res.status, 500);
      assert.equal(res.json<{ error: { code: string } }>().error.code, "InternalServerError");
    } finally {
      await fresh.stop();
    }
  });
});
