import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { SqlManagementClient } from "@azure/arm-sql";
import { SynapseManagementClient } from "@azure/arm-synapse";
import { MonitorClient } from "@azure/arm-monitor";
import { ManagedIdentityCredential } from "@azure/identity";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { rawRequest } from "../../emulator/http/request.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";

// The real SDK clients against the emulated ARM, over HTTPS with certificate checks on and tokens from the
// emulated managed-identity endpoint.
const FLEET = shippedFleet("test-small.yaml");
const SUB = "11111111-1111-4111-8111-111111111111";
const MI_ID = `/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/managedInstances/mi-good`;

let emu: RunningEmulator;
let credential: ManagedIdentityCredential;
let sql: SqlManagementClient;
let synapse: SynapseManagementClient;
let monitor: MonitorClient;

function keys(o: unknown): string[] {
  return Object.keys(o as object).sort();
}

before(async () => {
  emu = await startEmulator({ fleetFile: FLEET });
  process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
  process.env.IDENTITY_HEADER = emu.identity.header;
  credential = new ManagedIdentityCredential();
  const common = { endpoint: emu.armUrl, credentialScopes: ["https://management.azure.com/.default"], tlsOptions: { ca: emu.caPem } };
  sql = new SqlManagementClient(credential, SUB, common);
  synapse = new SynapseManagementClient(credential, SUB, common);
  monitor = new MonitorClient(credential, SUB, { endpoint: emu.armUrl, credentials: { scopes: ["https://management.azure.com/.default"] }, tlsOptions: { ca: emu.caPem } });
});

after(async () => {
  await emu?.stop();
});

async function bearer(): Promise<Record<string, string>> {
  const token = await credential.getToken("https://management.azure.com/.default");
  return { authorization: `Bearer ${token.token}` };
}

describe("Managed Instances", () => {
  it("lists by subscription and resource group and gets one, with the example's fields", async () => {
    const all = [];
    for await (const mi of sql.managedInstances.list()) all.push(mi);
    assert.deepEqual(all.map((m) => m.name).sort(), ["mi-dedicated", "mi-disabled-log", "mi-good", "mi-nodiag"]);
    const byRg = [];
    for await (const mi of sql.managedInstances.listByResourceGroup("rg-data")) byRg.push(mi.name);
    assert.equal(byRg.length, 4);
    const mi = await sql.managedInstances.get("rg-data", "mi-good");
    assert.equal(mi.id, MI_ID);
    assert.equal(mi.type, "Microsoft.Sql/managedInstances");
    assert.equal(mi.fullyQualifiedDomainName, "mi-good.abc123def456.database.windows.net");
    assert.equal(mi.dnsZone, "abc123def456");
    assert.equal(mi.state, "Ready");
    assert.deepEqual(mi.tags, { env: "prod" });
  });

  it("answers in the JSON shape of ManagedInstanceListByResourceGroup.json", async () => {
    const res = await rawRequest(`${emu.armUrl}/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/managedInstances?api-version=2022-08-01-preview`, {
      headers: await bearer(),
      ca: emu.caPem,
    });
    assert.equal(res.status, 200);
    const body = res.json<{ value: Record<string, unknown>[] }>();
    const first = body.value.find((v) => v.name === "mi-nodiag")!;
    // Top-level keys of the example's items (no tags on this instance, as in the example).
    assert.deepEqual(keys(first), ["id", "location", "name", "properties", "sku", "type"]);
    const exampleProperties = [
      "administratorLogin", "collation", "currentBackupStorageRedundancy", "dnsZone", "fullyQualifiedDomainName", "licenseType",
      "minimalTlsVersion", "provisioningState", "proxyOverride", "publicDataEndpointEnabled", "requestedBackupStorageRedundancy",
      "state", "storageSizeInGB", "subnetId", "vCores",
    ];
    for (const k of exampleProperties) assert.ok(k in (first.properties as object), `properties.${k}`);
    assert.deepEqual(keys(first.sku), ["capacity", "family", "name", "tier"]);
    assert.ok(res.headers["x-ms-request-id"]);
    assert.ok(res.headers["x-ms-correlation-request-id"]);
    assert.match(res.headers["x-ms-ratelimit-remaining-subscription-reads"] ?? "", /^\d+$/);
  });
});

describe("SQL servers and their auditing policies", () => {
  it("lists and gets servers", async () => {
    const names = [];
    for await (const s of sql.servers.list()) names.push(s.name);
    assert.deepEqual(names.sort(), ["sql-async", "sql-good"]);
    const server = await sql.servers.get("rg-data", "sql-good");
    assert.equal(server.kind, "v12.0");
    assert.equal(server.fullyQualifiedDomainName, "sql-good.database.windows.net");
  });

  it("gets auditingSettings in the shape of ServerBlobAuditingGet.json", async () => {
    const res = await rawRequest(`${emu.armUrl}/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/servers/sql-async/auditingSettings/default?api-version=2021-11-01-preview`, {
      headers: await bearer(),
      ca: emu.caPem,
    });
    const body = res.json<Record<string, unknown>>();
    assert.deepEqual(keys(body), ["id", "name", "properties", "type"]);
    assert.equal(body.name, "default");
    assert.equal(body.type, "Microsoft.Sql/servers/auditingSettings");
    const p = body.properties as Record<string, unknown>;
    for (const k of ["state", "storageEndpoint", "retentionDays", "auditActionsAndGroups", "storageAccountSubscriptionId", "isStorageSecondaryKeyInUse", "isAzureMonitorTargetEnabled"]) {
      assert.ok(k in p, k);
    }
    assert.equal(p.state, "Disabled");
  });

  it("lists server auditing settings and extended auditing settings", async () => {
    const list = [];
    for await (const p of sql.serverBlobAuditingPolicies.listByServer("rg-data", "sql-good")) list.push(p);
    assert.equal(list.length, 1);
    assert.deepEqual(list[0]!.auditActionsAndGroups, ["BATCH_COMPLETED_GROUP", "BACKUP_RESTORE_GROUP"]);
    const extended = await sql.extendedServerBlobAuditingPolicies.get("rg-data", "sql-good");
    assert.equal(extended.type, "Microsoft.Sql/servers/extendedAuditingSettings");
    assert.equal(extended.predicateExpression, "");
  });

  it("PUT answered 200 with the body (Body-mode LRO) and never echoes the storage key", async () => {
    const result = await sql.serverBlobAuditingPolicies.beginCreateOrUpdateAndWait(
      "rg-data",
      "sql-good",
      {
        state: "Enabled",
        storageEndpoint: "https://auditstore.blob.core.windows.net",
        storageAccountAccessKey: "not-a-real-key-but-secret",
        isAzureMonitorTargetEnabled: true,
        auditActionsAndGroups: ["BACKUP_RESTORE_GROUP"],
        retentionDays: 30,
      },
      { updateIntervalInMs: 1 },
    );
    assert.equal(result.state, "Enabled");
    assert.equal(result.retentionDays, 30);
    assert.equal(result.storageAccountAccessKey, undefined);
    const raw = await rawRequest(`${emu.armUrl}/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/servers/sql-good/auditingSettings/default?api-version=2021-11-01-preview`, {
      headers: await bearer(),
      ca: emu.caPem,
    });
    assert.ok(!raw.body.includes("not-a-real-key-but-secret"));
  });

  it("PUT answered 202 + Azure-AsyncOperation is polled to Succeeded (resource chooses async)", async () => {
    const before = emu.requestCounts().arm;
    const result = await sql.serverBlobAuditingPolicies.beginCreateOrUpdateAndWait(
      "rg-data",
      "sql-async",
      { state: "Enabled", isAzureMonitorTargetEnabled: true, auditActionsAndGroups: ["BACKUP_RESTORE_GROUP", "BATCH_COMPLETED_GROUP"] },
      { updateIntervalInMs: 1 },
    );
    assert.equal(result.state, "Enabled");
    assert.deepEqual(result.auditActionsAndGroups, ["BACKUP_RESTORE_GROUP", "BATCH_COMPLETED_GROUP"]);
    // PUT, at least InProgress + Succeeded polls, then the final GET.
    assert.ok(emu.requestCounts().arm - before >= 4, `requests: ${emu.requestCounts().arm - before}`);
  });

  it("the request can choose the 202 shape with x-emulator-lro: async; the status endpoint goes InProgress → Succeeded", async () => {
    const headers = { ...(await bearer()), "x-emulator-lro": "async" };
    const put = await rawRequest(`${emu.armUrl}/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/servers/sql-good/extendedAuditingSettings/default?api-version=2021-11-01-preview`, {
      method: "PUT",
      headers,
      body: JSON.stringify({ properties: { state: "Enabled", isAzureMonitorTargetEnabled: true, predicateExpression: "statement <> 'x'" } }),
      ca: emu.caPem,
    });
    assert.equal(put.status, 202);
    assert.equal(put.headers["retry-after"], undefined);
    assert.match(put.headers["x-ms-ratelimit-remaining-subscription-writes"] ?? "", /^\d+$/);
    const statusUrl = put.headers["azure-asyncoperation"]!;
    assert.ok(put.headers["location"]);
    const first = await rawRequest(statusUrl, { headers: await bearer(), ca: emu.caPem });
    assert.equal(first.json<{ status: string }>().status, "InProgress");
    const second = await rawRequest(statusUrl, { headers: await bearer(), ca: emu.caPem });
    assert.equal(second.json<{ status: string }>().status, "Succeeded");
    const got = await sql.extendedServerBlobAuditingPolicies.get("rg-data", "sql-good");
    assert.equal(got.predicateExpression, "statement <> 'x'");
  });

  it("the Location URL answers 202 while the operation runs and the resource once it is done", async () => {
    const put = await rawRequest(`${emu.armUrl}/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/servers/sql-good/auditingSettings/default?api-version=2021-11-01-preview`, {
      method: "PUT",
      headers: { ...(await bearer()), "x-emulator-lro": "async" },
      body: JSON.stringify({ properties: { state: "Enabled", isAzureMonitorTargetEnabled: true, auditActionsAndGroups: ["BACKUP_RESTORE_GROUP"] } }),
      ca: emu.caPem,
    });
    assert.equal(put.status, 202);
    const first = await rawRequest(put.headers["location"]!, { headers: await bearer(), ca: emu.caPem });
    assert.equal(first.status, 202);
    const done = await rawRequest(put.headers["location"]!, { headers: await bearer(), ca: emu.caPem });
    assert.equal(done.status, 200);
    assert.deepEqual(done.json<{ properties: { auditActionsAndGroups: string[] } }>().properties.auditActionsAndGroups, ["BACKUP_RESTORE_GROUP"]);
  });
});

describe("database-level auditing", () => {
  it("a database without its own policy reports Disabled; a PUT (not an LRO for databases) sets it", async () => {
    const db = await sql.databaseBlobAuditingPolicies.get("rg-data", "sql-good", "master");
    assert.equal(db.state, "Disabled");
    assert.equal(db.type, "Microsoft.Sql/servers/databases/auditingSettings");
    const put = await sql.databaseBlobAuditingPolicies.createOrUpdate("rg-data", "sql-good", "master", { state: "Enabled", isAzureMonitorTargetEnabled: true });
    assert.equal(put.state, "Enabled");
  });
});

describe("Synapse workspaces", () => {
  it("lists and gets workspaces with only dev and sql endpoints, as the example", async () => {
    const names = [];
    for await (const w of synapse.workspaces.list()) names.push(w.name);
    assert.deepEqual(names, ["syn-one"]);
    const byRg = [];
    for await (const w of synapse.workspaces.listByResourceGroup("rg-data")) byRg.push(w.name);
    assert.deepEqual(byRg, ["syn-one"]);
    const ws = await synapse.workspaces.get("rg-data", "syn-one");
    assert.deepEqual(Object.keys(ws.connectivityEndpoints ?? {}).sort(), ["dev", "sql"]);
    assert.equal(ws.identity?.type, "SystemAssigned");
  });

  it("gets, lists and PUTs workspace auditing settings (LRO polled through Azure-AsyncOperation)", async () => {
    const before = await synapse.workspaceManagedSqlServerBlobAuditingPolicies.get("rg-data", "syn-one", "default");
    assert.equal(before.state, "Disabled");
    assert.equal(before.type, "Microsoft.Synapse/workspaces/auditingSettings");
    const requestsBefore = emu.requestCounts().arm;
    const put = await synapse.workspaceManagedSqlServerBlobAuditingPolicies.beginCreateOrUpdateAndWait(
      "rg-data",
      "syn-one",
      "default",
      { state: "Enabled", isAzureMonitorTargetEnabled: true, auditActionsAndGroups: ["BATCH_COMPLETED_GROUP"] },
      { updateIntervalInMs: 1, requestOptions: { customHeaders: { "x-emulator-lro": "async" } } },
    );
    assert.equal(put.state, "Enabled");
    // PUT (202), InProgress, Succeeded, final GET: the 202 shape was really used.
    assert.ok(emu.requestCounts().arm - requestsBefore >= 4, `requests: ${emu.requestCounts().arm - requestsBefore}`);
    const list = [];
    for await (const p of synapse.workspaceManagedSqlServerBlobAuditingPolicies.listByWorkspace("rg-data", "syn-one")) list.push(p);
    assert.equal(list[0]!.state, "Enabled");
    const extended = await synapse.workspaceManagedSqlServerExtendedBlobAuditingPolicies.get("rg-data", "syn-one", "default");
    assert.equal(extended.type, "Microsoft.Synapse/workspaces/extendedAuditingSettings");
  });
});

describe("Diagnostic settings (arm-monitor 8, 2021-05-01-preview)", () => {
  const uri = MI_ID.slice(1);

  it("lists, gets, creates with categoryGroup and deletes", async () => {
    const listed = [];
    for await (const d of monitor.diagnosticSettings.list(uri)) listed.push(d);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.name, "audit-to-law");
    assert.equal(listed[0]!.logs?.[0]?.category, "SQLSecurityAuditEvents");
    // A setting on the Synapse workspace (which has none) to the fleet's workspace: the workspace must exist.
    const synapseUri = `subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Synapse/workspaces/syn-one`;
    const workspaceId = `/subscriptions/${SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law-central`;
    const created = await monitor.diagnosticSettings.createOrUpdate(synapseUri, "second", {
      workspaceId,
      logAnalyticsDestinationType: "Dedicated",
      logs: [{ categoryGroup: "audit", enabled: true }],
    });
    assert.equal(created.name, "second");
    assert.equal(created.logs?.[0]?.categoryGroup, "audit");
    assert.equal(created.logAnalyticsDestinationType, "Dedicated");
    const got = await monitor.diagnosticSettings.get(synapseUri, "second");
    assert.equal(got.workspaceId, workspaceId);
    await monitor.diagnosticSettings.delete(synapseUri, "second");
    await assert.rejects(monitor.diagnosticSettings.get(synapseUri, "second"), (e: { statusCode?: number }) => e.statusCode === 404);
  });

  it("refuses a second setting sending the same category to the same workspace, as Azure Monitor does", async () => {
    const law = `/subscriptions/${SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law-central`;
    await assert.rejects(
      monitor.diagnosticSettings.createOrUpdate(uri, "duplicate", { workspaceId: law, logs: [{ categoryGroup: "allLogs", enabled: true }] }),
      (e: { statusCode?: number; message?: string }) => e.statusCode === 400 && /already used in diagnostic setting 'audit-to-law' for category 'SQLSecurityAuditEvents'/.test(e.message ?? ""),
    );
    // Updating the existing setting in place is fine.
    const same = await monitor.diagnosticSettings.createOrUpdate(uri, "audit-to-law", { workspaceId: law, logs: [{ category: "SQLSecurityAuditEvents", enabled: true }] });
    assert.equal(same.name, "audit-to-law");
    await assert.rejects(
      monitor.diagnosticSettings.createOrUpdate(uri, "bad-id", { workspaceId: "law-central", logs: [{ category: "SQLSecurityAuditEvents", enabled: true }] }),
      (e: { statusCode?: number; code?: string }) => e.statusCode === 400 && e.code === "LinkedInvalidPropertyId",
    );
  });

  it("answers the 2017-05-01-preview shape (no categoryGroup key) for the older api-version", async () => {
    const res = await rawRequest(`${emu.armUrl}${MI_ID}/providers/Microsoft.Insights/diagnosticSettings?api-version=2017-05-01-preview`, {
      headers: await bearer(),
      ca: emu.caPem,
    });
    assert.equal(res.status, 200);
    const setting = res.json<{ value: { id: string; properties: { logs: Record<string, unknown>[] } }[] }>().value[0]!;
    assert.ok(!("categoryGroup" in setting.properties.logs[0]!));
    assert.match(setting.id, /\/providers\/microsoft\.insights\/diagnosticSettings\/audit-to-law$/);
  });

  it("a resource URI with a leading slash (the SDK's // gotcha) is rejected, not silently fixed", async () => {
    await assert.rejects(
      (async () => {
        for await (const _ of monitor.diagnosticSettings.list(MI_ID)) void _;
      })(),
      (e: { statusCode?: number }) => e.statusCode === 400,
    );
  });
});

describe("Resource groups", () => {
  it("lists and gets resource groups (Microsoft.Resources)", async () => {
    const list = await rawRequest(`${emu.armUrl}/subscriptions/${SUB}/resourcegroups?api-version=2021-04-01`, { headers: await bearer(), ca: emu.caPem });
    assert.equal(list.status, 200);
    assert.deepEqual(list.json<{ value: { name: string }[] }>().value.map((g) => g.name).sort(), ["rg-data", "rg-logs"]);
    const one = await rawRequest(`${emu.armUrl}/subscriptions/${SUB}/resourceGroups/rg-data?api-version=2021-04-01`, { headers: await bearer(), ca: emu.caPem });
    assert.deepEqual(one.json(), {
      id: `/subscriptions/${SUB}/resourceGroups/rg-data`,
      name: "rg-data",
      type: "Microsoft.Resources/resourceGroups",
      location: "westeurope",
      properties: { provisioningState: "Succeeded" },
    });
    const missing = await rawRequest(`${emu.armUrl}/subscriptions/${SUB}/resourceGroups/nope?api-version=2021-04-01`, { headers: await bearer(), ca: emu.caPem });
    assert.equal(missing.status, 404);
  });
});

describe("Subscriptions", () => {
  it("GET /subscriptions lists the subscriptions the identity has a role in", async () => {
    const res = await rawRequest(`${emu.armUrl}/subscriptions?api-version=2022-12-01`, { headers: await bearer(), ca: emu.caPem });
    assert.equal(res.status, 200);
    const body = res.json<{ value: { subscriptionId: string; tenantId: string; state: string; id: string }[] }>();
    assert.deepEqual(body.value.map((s) => s.subscriptionId).sort(), [SUB, "22222222-2222-4222-8222-222222222222"]);
    assert.equal(body.value[0]!.tenantId, emu.tenantId);
    assert.equal(body.value[0]!.id, `/subscriptions/${body.value[0]!.subscriptionId}`);
  });
});

/** Every key of the example (recursively through objects; arrays by their first item) exists in the answer. */
function assertCovers(example: unknown, actual: unknown, path = "$"): void {
  if (Array.isArray(example)) {
    assert.ok(Array.isArray(actual), `${path} is an array`);
    if (example.length > 0 && (actual as unknown[]).length > 0) assertCovers(example[0], (actual as unknown[])[0], `${path}[0]`);
    return;
  }
  if (example && typeof example === "object") {
    assert.ok(actual && typeof actual === "object", `${path} is an object`);
    for (const [key, value] of Object.entries(example)) {
      assert.ok(key in (actual), `${path}.${key} present`);
      assertCovers(value, (actual as Record<string, unknown>)[key], `${path}.${key}`);
    }
    return;
  }
  assert.equal(typeof actual, typeof example, `${path} has the example's type`);
}

describe("answers cover the spec examples' shapes", () => {
  // Skeletons of Azure/azure-rest-api-specs' example files for these operations (values replaced by ones of the same type).
  const serverList = {
    value: [{ id: "", name: "", type: "", location: "", kind: "", properties: { fullyQualifiedDomainName: "", administratorLogin: "", version: "", state: "", publicNetworkAccess: "", restrictOutboundNetworkAccess: "", externalGovernanceStatus: "", privateEndpointConnections: [] } }],
  };
  const workspaceList = {
    value: [{ id: "", name: "", type: "", location: "", properties: { defaultDataLakeStorage: { accountUrl: "", filesystem: "" }, connectivityEndpoints: { dev: "", sql: "" }, sqlAdministratorLogin: "", managedResourceGroupName: "", provisioningState: "" }, tags: {} }],
  };
  const diagnosticList = {
    value: [{ id: "", type: "", name: "", properties: { workspaceId: "", metrics: [], logs: [{ category: "", enabled: true, retentionPolicy: { enabled: false, days: 0 } }] } }],
  };

  const get = async (path: string) => {
    const res = await rawRequest(`${emu.armUrl}${path}`, { headers: await bearer(), ca: emu.caPem });
    assert.equal(res.status, 200, path);
    return res.json();
  };

  it("ServerList.json", async () => {
    assertCovers(serverList, await get(`/subscriptions/${SUB}/providers/Microsoft.Sql/servers?api-version=2022-08-01-preview`));
  });

  it("ListWorkspacesInResourceGroup.json (a workspace with tags)", async () => {
    const body = (await get(`/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Synapse/workspaces?api-version=2021-06-01`)) as { value: Record<string, unknown>[] };
    body.value[0]!.tags ??= {};
    assertCovers(workspaceList, body);
  });

  it("listDiagnosticSettings.json", async () => {
    assertCovers(diagnosticList, await get(`${MI_ID}/providers/Microsoft.Insights/diagnosticSettings?api-version=2021-05-01-preview`));
  });
});
