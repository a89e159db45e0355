import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SqlManagementClient } from "@azure/arm-sql";
import type { TokenCredential } from "@azure/core-auth";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { rawRequest } from "../../emulator/http/request.js";
import { parseFleet } from "../../emulator/fleet/load.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import type { FleetIdentity, FleetInput } from "../../emulator/fleet/schema.js";
import { SERVER_AUDIT_ACTION_GROUPS } from "../../emulator/arm/audit-action-groups.js";

// ARM's auditing policies as the REST references define them: "Server Blob Auditing Policies - Create Or Update"
// (SQL), "Workspace Managed Sql Server Blob Auditing Policies - Create Or Update" (Synapse), the extended policies ("Extended Server Blob Auditing
// Policies"), their long-running PUTs, and ARM's linked authorization for diagnostic settings.
const SUB = "11111111-1111-4111-8111-111111111111";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-data/providers`;
const SERVER = `${RG}/Microsoft.Sql/servers/sql-good`;
const ASYNC_SERVER = `${RG}/Microsoft.Sql/servers/sql-async`;
const WORKSPACE = `${RG}/Microsoft.Synapse/workspaces/syn-one`;
const LAW = `/subscriptions/${SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law-central`;
const SQL_API = "2021-11-01-preview";
const SYNAPSE_API = "2021-06-01";
const writer: FleetIdentity = {
  principalId: "5d6e7f80-9a1b-4c2d-8e3f-405162738495",
  clientId: "6e7f8091-a2b3-4d4e-9f50-516273849506",
  displayName: "diagnostics-only",
  // May write diagnostic settings but not use the workspace's keys (a custom role).
  roleAssignments: [{ scope: `/subscriptions/${SUB}`, actions: ["*/read", "Microsoft.Insights/diagnosticSettings/*"] }],
};
const monitoring: FleetIdentity = {
  principalId: "7f8091a2-b3c4-4e5f-8061-627384950617",
  clientId: "8091a2b3-c4d5-4f60-9172-738495061728",
  displayName: "monitoring-contributor",
  roleAssignments: [{ scope: `/subscriptions/${SUB}`, role: "Monitoring Contributor" }],
};

let emu: RunningEmulator;

before(async () => {
  const f = JSON.parse(JSON.stringify(parseFleet(readFileSync(shippedFleet("test-small.yaml"), "utf8")))) as FleetInput;
  f.otherIdentities = [...(f.otherIdentities ?? []), writer, monitoring];
  // auditstore: sql-good's identity may write to it, sql-async's and the workspace's may not.
  f.storageAccounts = [{ name: "auditstore", keys: ["primary-test-key==", "secondary-test-key=="], blobDataContributors: ["sql-good"] }];
  emu = await startEmulator({ fleet: f });
});
after(() => emu?.stop());

const bearer = (who?: FleetIdentity) => ({ authorization: `Bearer ${emu.issueToken("https://management.azure.com/", who)}` });
const url = (resource: string, policy: "auditingSettings" | "extendedAuditingSettings", api = resource.includes("Synapse") ? SYNAPSE_API : SQL_API) =>
  `${emu.armUrl}${resource}/${policy}/default?api-version=${api}`;
const put = (resource: string, policy: "auditingSettings" | "extendedAuditingSettings", body: unknown, headers: Record<string, string> = {}) =>
  rawRequest(url(resource, policy), { method: "PUT", body: JSON.stringify(body), headers: { ...bearer(), ...headers }, ca: emu.caPem });
const get = async (resource: string, policy: "auditingSettings" | "extendedAuditingSettings") =>
  (await rawRequest(url(resource, policy), { headers: bearer(), ca: emu.caPem })).json<{ properties: Record<string, unknown> }>().properties;
const errorOf = (res: { json<T>(): T }) => res.json<{ error: { code: string } }>().error.code;

describe("what a server or workspace auditing PUT refuses", () => {
  it("action groups outside the documented list, such as AUDIT_CHANGE_GROUP (a Managed Instance group): InvalidBlobAuditActionsAndGroups", async () => {
    for (const resource of [SERVER, WORKSPACE]) {
      const before = await get(resource, "auditingSettings");
      const res = await put(resource, "auditingSettings", { properties: { state: "Enabled", isAzureMonitorTargetEnabled: true, auditActionsAndGroups: ["BACKUP_RESTORE_GROUP", "AUDIT_CHANGE_GROUP"] } });
      assert.equal(res.status, 400, resource);
      assert.equal(errorOf(res), "InvalidBlobAuditActionsAndGroups");
      assert.deepEqual(await get(resource, "auditingSettings"), before, "nothing changed");
    }
  });

  it("every documented group is accepted", async () => {
    const res = await put(WORKSPACE, "auditingSettings", { properties: { state: "Enabled", isAzureMonitorTargetEnabled: true, auditActionsAndGroups: [...SERVER_AUDIT_ACTION_GROUPS] } });
    assert.equal(res.status, 200);
    assert.equal(SERVER_AUDIT_ACTION_GROUPS.length, 20);
    assert.ok(!(SERVER_AUDIT_ACTION_GROUPS as readonly string[]).includes("AUDIT_CHANGE_GROUP"));
  });

  it("actions (\"SELECT on dbo.t by public\") at server level: InvalidBlobAuditActions; a database policy takes them", async () => {
    const res = await put(SERVER, "auditingSettings", { properties: { state: "Enabled", isAzureMonitorTargetEnabled: true, auditActionsAndGroups: ["SELECT on dbo.t by public"] } });
    assert.equal(res.status, 400);
    assert.equal(errorOf(res), "InvalidBlobAuditActions");
    const db = await rawRequest(`${emu.armUrl}${SERVER}/databases/master/auditingSettings/default?api-version=${SQL_API}`, {
      method: "PUT",
      body: JSON.stringify({ properties: { state: "Enabled", isAzureMonitorTargetEnabled: true, auditActionsAndGroups: ["SELECT on dbo.t by public", "BATCH_COMPLETED_GROUP"] } }),
      headers: bearer(),
      ca: emu.caPem,
    });
    assert.equal(db.status, 200);
  });

  it("{} or a body without state: InvalidServerBlobAuditingPolicyCreateRequest", async () => {
    for (const body of [{}, { properties: {} }, { properties: { isAzureMonitorTargetEnabled: true } }]) {
      const res = await put(SERVER, "auditingSettings", body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(errorOf(res), "InvalidServerBlobAuditingPolicyCreateRequest");
    }
  });
});

describe("storage access (storageAccountAccessKey in the REST reference)", () => {
  const storage = (over: Record<string, unknown>) => ({ properties: { state: "Enabled", storageEndpoint: "https://auditstore.blob.core.windows.net", retentionDays: 30, ...over } });

  it("a key that is not the account's: BlobAuditingInvalidStorageAccountCredentials; the secondary key with isStorageSecondaryKeyInUse works", async () => {
    const wrong = await put(SERVER, "auditingSettings", storage({ storageAccountAccessKey: "guessed==" }));
    assert.equal(wrong.status, 400);
    assert.equal(errorOf(wrong), "BlobAuditingInvalidStorageAccountCredentials");
    assert.ok(!wrong.body.includes("primary-test-key"), "the error names no key");
    const secondary = await put(SERVER, "auditingSettings", storage({ storageAccountAccessKey: "secondary-test-key==", isStorageSecondaryKeyInUse: true }));
    assert.equal(secondary.status, 200);
    assert.equal(secondary.json<{ properties: Record<string, unknown> }>().properties.isManagedIdentityInUse, false, "a PUT with the key keeps key-based access");
    assert.ok(!secondary.body.includes("secondary-test-key"), "the key is never echoed");
  });

  it("no key means the server's managed identity (isManagedIdentityInUse true), refused where that identity may not write", async () => {
    const identity = await put(SERVER, "auditingSettings", storage({}));
    assert.equal(identity.status, 200);
    assert.equal((await get(SERVER, "auditingSettings")).isManagedIdentityInUse, true);
    const denied = await put(ASYNC_SERVER, "auditingSettings", storage({}), { "x-emulator-lro": "sync" });
    assert.equal(denied.status, 400);
    assert.equal(errorOf(denied), "BlobAuditingInvalidStorageAccountCredentials");
    const back = await put(SERVER, "auditingSettings", storage({ storageAccountAccessKey: "primary-test-key==" }));
    assert.equal(back.status, 200);
    assert.equal((await get(SERVER, "auditingSettings")).isManagedIdentityInUse, false);
  });

  it("Synapse, whose API has no isManagedIdentityInUse (CreateWorkspaceManagedSqlServerBlobAuditingSettingsWithMinParameters.json), reports none", async () => {
    const res = await put(WORKSPACE, "auditingSettings", { properties: { state: "Enabled", storageAccountAccessKey: "sdlfkjabc+sdlfkjsdlkfsjdfLDKFTERLKFDFKLjsdfksjdflsdkfD2342309432849328476458/3RSD==", storageEndpoint: "https://mystorage.blob.core.windows.net" } });
    assert.equal(res.status, 200);
    const body = res.json<{ name: string; type: string; properties: Record<string, unknown> }>();
    assert.equal(body.type, "Microsoft.Synapse/workspaces/auditingSettings");
    assert.equal(body.properties.state, "Enabled");
    assert.equal(body.properties.storageEndpoint, "https://mystorage.blob.core.windows.net");
    assert.equal(body.properties.isStorageSecondaryKeyInUse, false);
    assert.deepEqual(body.properties.auditActionsAndGroups, ["SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP", "FAILED_DATABASE_AUTHENTICATION_GROUP", "BATCH_COMPLETED_GROUP"]);
    assert.ok(!("isManagedIdentityInUse" in body.properties));
    assert.ok(!("storageAccountAccessKey" in body.properties));
  });
});

describe("auditingSettings and extendedAuditingSettings are one policy (ExtendedServerBlobAuditingGet.json adds predicateExpression)", () => {
  it("a PUT to either changes both; the extended view carries the predicate", async () => {
    const extended = await put(SERVER, "extendedAuditingSettings", { properties: { state: "Enabled", isAzureMonitorTargetEnabled: true, auditActionsAndGroups: ["BACKUP_RESTORE_GROUP"], predicateExpression: "object_name = 'SensitiveData'" } });
    assert.equal(extended.status, 200);
    const plain = await get(SERVER, "auditingSettings");
    assert.equal(plain.state, "Enabled");
    assert.deepEqual(plain.auditActionsAndGroups, ["BACKUP_RESTORE_GROUP"]);
    assert.ok(!("predicateExpression" in plain));
    const viaPlain = await put(SERVER, "auditingSettings", { properties: { state: "Enabled", isAzureMonitorTargetEnabled: true, auditActionsAndGroups: ["BACKUP_RESTORE_GROUP", "BATCH_COMPLETED_GROUP"] } });
    assert.equal(viaPlain.status, 200);
    const both = await get(SERVER, "extendedAuditingSettings");
    assert.deepEqual(both.auditActionsAndGroups, ["BACKUP_RESTORE_GROUP", "BATCH_COMPLETED_GROUP"]);
    assert.equal(both.predicateExpression, "object_name = 'SensitiveData'");
  });
});

describe("a PUT takes effect when its long-running operation completes", () => {
  it("GETs between the 202 and Succeeded still show the old policy", async () => {
    const before = await get(ASYNC_SERVER, "auditingSettings");
    assert.equal(before.state, "Disabled");
    const accepted = await put(ASYNC_SERVER, "auditingSettings", { properties: { state: "Enabled", isAzureMonitorTargetEnabled: true, auditActionsAndGroups: ["BACKUP_RESTORE_GROUP"] } });
    assert.equal(accepted.status, 202);
    assert.deepEqual(await get(ASYNC_SERVER, "auditingSettings"), before, "accepted, not applied");
    const status = () => rawRequest(accepted.headers["azure-asyncoperation"]!, { headers: bearer(), ca: emu.caPem });
    assert.equal((await status()).json<{ status: string }>().status, "InProgress");
    assert.deepEqual(await get(ASYNC_SERVER, "extendedAuditingSettings").then((p) => p.state), "Disabled");
    assert.equal((await status()).json<{ status: string }>().status, "Succeeded");
    assert.equal((await get(ASYNC_SERVER, "auditingSettings")).state, "Enabled");
  });

  it("the SDK's poller sees the new policy once it is done", async () => {
    const credential: TokenCredential = { getToken: async () => ({ token: emu.issueToken("https://management.azure.com/"), expiresOnTimestamp: Date.now() + 3600_000 }) };
    const sql = new SqlManagementClient(credential, SUB, { endpoint: emu.armUrl, tlsOptions: { ca: emu.caPem }, credentialScopes: ["https://management.azure.com/.default"] });
    const done = await sql.serverBlobAuditingPolicies.beginCreateOrUpdateAndWait("rg-data", "sql-async", { state: "Disabled" }, { updateIntervalInMs: 1 });
    assert.equal(done.state, "Disabled");
    assert.equal((await sql.serverBlobAuditingPolicies.get("rg-data", "sql-async")).state, "Disabled");
  });
});

describe("diagnostic settings to a Log Analytics workspace", () => {
  const setting = (name: string, workspaceId: string, who: FleetIdentity) =>
    rawRequest(`${emu.armUrl}${WORKSPACE}/providers/Microsoft.Insights/diagnosticSettings/${name}?api-version=2021-05-01-preview`, {
      method: "PUT",
      body: JSON.stringify({ properties: { workspaceId, logs: [{ category: "SQLSecurityAuditEvents", enabled: true }] } }),
      headers: bearer(who),
      ca: emu.caPem,
    });

  it("need the workspace's shared keys (LinkedAuthorizationFailed without them), which Monitoring Contributor has", async () => {
    const denied = await setting("no-keys", LAW, writer);
    assert.equal(denied.status, 403);
    const error = denied.json<{ error: { code: string; message: string } }>().error;
    assert.equal(error.code, "LinkedAuthorizationFailed");
    assert.match(error.message, /has permission to perform action 'Microsoft\.Insights\/diagnosticSettings\/write'.*does not have permission to perform action 'Microsoft\.OperationalInsights\/workspaces\/sharedKeys\/action' on the linked scope\(s\) '.*law-central'/);
    assert.equal(emu.estate.diagnosticSetting(WORKSPACE, "no-keys"), undefined);
    const allowed = await setting("with-keys", LAW, monitoring);
    assert.equal(allowed.status, 200);
  });

  it("a workspace that does not exist is refused", async () => {
    const missing = await setting("nowhere", `/subscriptions/${SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law-gone`, monitoring);
    assert.equal(missing.status, 404);
    assert.equal(errorOf(missing), "ResourceNotFound");
  });
});
