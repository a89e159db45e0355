import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { rawRequest } from "../../emulator/http/request.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";

// The App Service managed-identity protocol, driven by the real @azure/identity credentials.
let emu: RunningEmulator;

before(async () => {
  emu = await startEmulator({ fleetFile: shippedFleet("test-small.yaml") });
  process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
  process.env.IDENTITY_HEADER = emu.identity.header;
  // Keep DefaultAzureCredential to the managed identity (no developer credentials on a CI machine).
  process.env.AZURE_TOKEN_CREDENTIALS = "ManagedIdentityCredential";
});

after(async () => {
  await emu?.stop();
});

function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

describe("managed identity endpoint", () => {
  it("ManagedIdentityCredential gets a verifiable token for ARM, Log Analytics and SQL", async () => {
    const credential = new ManagedIdentityCredential();
    for (const [scope, audience] of [
      ["https://management.azure.com/.default", "https://management.azure.com"],
      ["https://api.loganalytics.io/.default", "https://api.loganalytics.io"],
      ["https://database.windows.net/.default", "https://database.windows.net/"],
    ] as const) {
      const token = await credential.getToken(scope);
      assert.ok(token, scope);
      assert.ok(token.expiresOnTimestamp > Date.now());
      const check = emu.authority.verify(token.token, [audience]);
      assert.ok(check.ok, scope);
      assert.equal(check.claims.oid, emu.scanner.principalId);
      assert.equal(check.claims.tid, emu.tenantId);
    }
  });

  it("a user-assigned identity is chosen by client_id", async () => {
    const other = emu.fleet.otherIdentities[0]!;
    const token = await new ManagedIdentityCredential({ clientId: other.clientId }).getToken("https://management.azure.com/.default");
    assert.equal(claims(token.token).oid, other.principalId);
  });

  it("DefaultAzureCredential uses it unchanged", async () => {
    const token = await new DefaultAzureCredential().getToken("https://management.azure.com/.default");
    assert.equal(claims(token.token).oid, emu.scanner.principalId);
  });

  it("answers the protocol's JSON: access_token, expires_on in epoch seconds, resource, token_type, client_id", async () => {
    const res = await rawRequest(`${emu.identity.endpoint}?api-version=2019-08-01&resource=${encodeURIComponent("https://management.azure.com")}`, {
      headers: { "X-IDENTITY-HEADER": emu.identity.header },
    });
    assert.equal(res.status, 200);
    const body = res.json<Record<string, string>>();
    assert.deepEqual(Object.keys(body).sort(), ["access_token", "client_id", "expires_on", "resource", "token_type"]);
    assert.match(body.expires_on!, /^\d{10}$/);
    assert.equal(body.token_type, "Bearer");
    assert.equal(body.client_id, emu.scanner.clientId);
    assert.equal(body.resource, "https://management.azure.com");
  });

  it("refuses a missing or wrong X-IDENTITY-HEADER and an unknown client_id, without leaking the secret", async () => {
    const url = `${emu.identity.endpoint}?api-version=2019-08-01&resource=https://management.azure.com`;
    const missing = await rawRequest(url);
    assert.equal(missing.status, 400);
    const wrong = await rawRequest(url, { headers: { "X-IDENTITY-HEADER": "guess" } });
    assert.equal(wrong.status, 401);
    assert.ok(!wrong.body.includes(emu.identity.header));
    const unknown = await rawRequest(`${url}&client_id=99999999-9999-4999-8999-999999999999`, { headers: { "X-IDENTITY-HEADER": emu.identity.header } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.json<{ message: string }>().message, /No Managed Identity found/);
    await assert.rejects(new ManagedIdentityCredential({ clientId: "99999999-9999-4999-8999-999999999999" }).getToken("https://management.azure.com/.default"));
  });

  it("also serves App Service's 2017-09-01 protocol (MSI_ENDPOINT / MSI_SECRET) that msrestazure and azure-cli 2.45 use", async () => {
    // azure-cli's adal_authentication.py documents the answer: {"access_token", "expires_on": "11/05/2021 15:18:31 +00:00",
    // "resource", "token_type": "Bearer", "client_id"}; msrestazure's get_msi_token_webapp asks
    // `{MSI_ENDPOINT}/?resource=...&api-version=2017-09-01[&clientid=...]` with header `secret`.
    const url = `${emu.identity.endpoint}/?resource=${encodeURIComponent("https://management.core.windows.net/")}&api-version=2017-09-01`;
    const res = await rawRequest(url, { headers: { secret: emu.identity.header } });
    assert.equal(res.status, 200);
    const body = res.json<Record<string, string>>();
    assert.deepEqual(Object.keys(body).sort(), ["access_token", "client_id", "expires_on", "resource", "token_type"]);
    assert.match(body.expires_on!, /^\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d \+00:00$/);
    const check = emu.authority.verify(body.access_token!, ["https://management.core.windows.net/"]);
    assert.ok(check.ok);
    const [month, day, year, hour, minute, second] = body.expires_on!.split(/[/ :]/).map(Number);
    assert.equal(Date.UTC(year!, month! - 1, day, hour, minute, second) / 1000, check.claims.exp, "the same expiry as the token's exp");
    assert.equal(check.claims.oid, emu.scanner.principalId, "one token authority for both protocols");
    const other = emu.fleet.otherIdentities[0]!;
    const chosen = await rawRequest(`${url}&clientid=${other.clientId}`, { headers: { secret: emu.identity.header } });
    assert.equal(claims(chosen.json<{ access_token: string }>().access_token).oid, other.principalId);
    assert.equal((await rawRequest(url)).status, 400, "without the secret header");
    assert.equal((await rawRequest(url, { headers: { secret: "guess" } })).status, 401);
    assert.equal((await rawRequest(url, { headers: { "X-IDENTITY-HEADER": emu.identity.header } })).status, 400, "each protocol takes its own header");
  });
});
