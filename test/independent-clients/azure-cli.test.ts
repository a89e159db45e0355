import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import type { FleetInput } from "../../emulator/fleet/schema.js";

// Debian's azure-cli (2.45) against the emulated ARM, for the commands an operator runs: a cloud registered at the
// emulator's ARM endpoint, its CA trusted through REQUESTS_CA_BUNDLE, `az login --identity` through App Service's
// 2017-09-01 managed-identity protocol (MSI_ENDPOINT / MSI_SECRET, which msrestazure uses when
// APPSETTING_WEBSITE_SITE_NAME is set), then `az sql mi list`, the SQL server and Synapse audit-policy show /
// update and `az monitor diagnostic-settings list`. What is expected is what those commands document and print.
const SUB = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f";
const RG = "rg-ops";
const LAW = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.OperationalInsights/workspaces/law-ops`;
const MI = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Sql/managedInstances/mi-ops-01`;
const SERVER = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Sql/servers/sql-ops-01`;

const fleet: FleetInput = {
  tenantId: "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a",
  scanner: {
    principalId: "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
    clientId: "6f7a8b9c-0d1e-4f2a-9b3c-4d5e6f7a8b9c",
    displayName: "operator-identity",
    roleAssignments: [{ scope: `/subscriptions/${SUB}`, role: "Contributor" }],
  },
  subscriptions: [
    {
      id: SUB,
      displayName: "Operations",
      resourceGroups: [
        {
          name: RG,
          location: "westeurope",
          managedInstances: [
            {
              name: "mi-ops-01",
              dnsZone: "a1b2c3d4e5f6",
              diagnosticSettings: [{ name: "audit-to-ops", workspace: "law-ops", logs: [{ category: "SQLSecurityAuditEvents" }] }],
            },
          ],
          sqlServers: [
            { name: "sql-ops-01", auditingSettings: { state: "Disabled" } },
            { name: "sql-ops-02", auditingSettings: { state: "Enabled", isAzureMonitorTargetEnabled: true, auditActionsAndGroups: ["BACKUP_RESTORE_GROUP"] } },
          ],
          synapseWorkspaces: [{ name: "syn-ops-01", auditingSettings: { state: "Disabled" } }],
          logAnalyticsWorkspaces: [{ name: "law-ops", customerId: "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d" }],
        },
      ],
    },
  ],
};

let emu: RunningEmulator;
let configDir = "";
let env: NodeJS.ProcessEnv = {};

const hasAz = (() => {
  try {
    execFileSync("az", ["version"], { stdio: "ignore", env: { ...process.env, AZURE_CORE_COLLECT_TELEMETRY: "false" } });
    return true;
  } catch {
    return false;
  }
})();

interface AzResult {
  code: number;
  stdout: string;
  stderr: string;
  json<T = unknown>(): T;
}

function az(...args: string[]): Promise<AzResult> {
  return new Promise((resolve) => {
    execFile("az", [...args, "--only-show-errors"], { env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T });
    });
  });
}

function ok(result: AzResult, what: string): AzResult {
  assert.equal(result.code, 0, `${what}: ${result.stderr}`);
  return result;
}

describe("azure-cli 2.45 against the emulated ARM", { skip: hasAz ? false : "az (azure-cli) is not installed" }, () => {
  before(async () => {
    emu = await startEmulator({ fleet });
    configDir = mkdtempSync(join(tmpdir(), "auditguard-az-"));
    env = {
      PATH: process.env.PATH,
      HOME: configDir,
      AZURE_CONFIG_DIR: configDir,
      AZURE_CORE_COLLECT_TELEMETRY: "false",
      AZURE_CORE_NO_COLOR: "true",
      AZURE_CORE_OUTPUT: "json",
      REQUESTS_CA_BUNDLE: emu.caFile,
      NO_PROXY: "127.0.0.1,localhost",
      // App Service's managed-identity variables (the 2017-09-01 protocol msrestazure speaks).
      APPSETTING_WEBSITE_SITE_NAME: "auditguard",
      MSI_ENDPOINT: emu.identity.endpoint,
      MSI_SECRET: emu.identity.header,
    };
    // A cloud whose Resource Manager is the emulator; the token audience stays ARM's own.
    ok(
      await az(
        "cloud", "register", "--name", "AuditGuardEmulator",
        "--endpoint-resource-manager", emu.armUrl,
        "--endpoint-active-directory", "https://login.microsoftonline.com",
        "--endpoint-active-directory-resource-id", "https://management.core.windows.net/",
        "--endpoint-active-directory-graph-resource-id", "https://graph.windows.net/",
        "--endpoint-management", "https://management.core.windows.net/",
      ),
      "az cloud register",
    );
    ok(await az("cloud", "set", "--name", "AuditGuardEmulator"), "az cloud set");
  });

  after(async () => {
    await emu?.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  });

  it("az login --identity lists the subscriptions the identity may see, as the managed identity", async () => {
    const accounts = ok(await az("login", "--identity"), "az login --identity").json<Array<{ id: string; name: string; tenantId: string; user: { type: string; assignedIdentityInfo: string } }>>();
    assert.deepEqual(accounts.map((a) => [a.id, a.name, a.tenantId]), [[SUB, "Operations", fleet.tenantId]]);
    assert.equal(accounts[0]!.user.type, "servicePrincipal");
    assert.equal(accounts[0]!.user.assignedIdentityInfo, "MSI");
  });

  it("reads: sql mi list, server and workspace audit-policy show, monitor diagnostic-settings list", async () => {
    const [mis, server, workspace, settings] = await Promise.all([
      az("sql", "mi", "list"),
      az("sql", "server", "audit-policy", "show", "-g", RG, "-n", "sql-ops-02"),
      az("synapse", "sql", "audit-policy", "show", "-g", RG, "--workspace-name", "syn-ops-01"),
      az("monitor", "diagnostic-settings", "list", "--resource", MI),
    ]);
    const instances = ok(mis, "az sql mi list").json<Array<{ name: string; fullyQualifiedDomainName: string; resourceGroup: string; state: string }>>();
    assert.deepEqual(instances.map((m) => [m.name, m.fullyQualifiedDomainName, m.resourceGroup]), [["mi-ops-01", "mi-ops-01.a1b2c3d4e5f6.database.windows.net", RG]]);
    const policy = ok(server, "az sql server audit-policy show").json<Record<string, unknown>>();
    assert.equal(policy.state, "Enabled");
    assert.equal(policy.isAzureMonitorTargetEnabled, true);
    assert.deepEqual(policy.auditActionsAndGroups, ["BACKUP_RESTORE_GROUP"]);
    // No diagnostic setting on master: the CLI reports the Log Analytics target as off, and blob storage off.
    assert.equal(policy.logAnalyticsTargetState, "Disabled");
    assert.equal(policy.blobStorageTargetState, "Disabled");
    assert.equal(policy.storageAccountAccessKey ?? null, null);
    const synapse = ok(workspace, "az synapse sql audit-policy show").json<Record<string, unknown>>();
    assert.equal(synapse.state, "Disabled");
    assert.equal(synapse.type, "Microsoft.Synapse/workspaces/auditingSettings");
    const listed = ok(settings, "az monitor diagnostic-settings list").json<Array<{ name: string; workspaceId: string; logs: Array<{ category: string; enabled: boolean }> }> | { value: Array<{ name: string; workspaceId: string; logs: Array<{ category: string; enabled: boolean }> }> }>();
    const values = Array.isArray(listed) ? listed : listed.value;
    assert.deepEqual(values.map((s) => [s.name, s.workspaceId.toLowerCase(), s.logs.map((l) => `${l.category}:${l.enabled}`)]), [["audit-to-ops", LAW.toLowerCase(), ["SQLSecurityAuditEvents:true"]]]);
  });

  it("updates: audit to Log Analytics on a server and a workspace; a Managed Instance group is refused with Azure's error", async () => {
    const [server, workspace, refused] = await Promise.all([
      az("sql", "server", "audit-policy", "update", "-g", RG, "-n", "sql-ops-01", "--state", "Enabled", "--lats", "Enabled", "--lawri", LAW, "--actions", "BACKUP_RESTORE_GROUP", "BATCH_COMPLETED_GROUP"),
      az("synapse", "sql", "audit-policy", "update", "-g", RG, "--workspace-name", "syn-ops-01", "--state", "Enabled", "--lats", "Enabled", "--lawri", LAW, "--actions", "BACKUP_RESTORE_GROUP"),
      az("sql", "server", "audit-policy", "update", "-g", RG, "-n", "sql-ops-02", "--state", "Enabled", "--lats", "Enabled", "--lawri", LAW, "--actions", "BACKUP_RESTORE_GROUP", "AUDIT_CHANGE_GROUP"),
    ]);
    ok(server, "az sql server audit-policy update");
    ok(workspace, "az synapse sql audit-policy update");
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /InvalidBlobAuditActionsAndGroups/);

    const [shownServer, shownWorkspace, master] = await Promise.all([
      az("sql", "server", "audit-policy", "show", "-g", RG, "-n", "sql-ops-01"),
      az("synapse", "sql", "audit-policy", "show", "-g", RG, "--workspace-name", "syn-ops-01"),
      az("monitor", "diagnostic-settings", "list", "--resource", `${SERVER}/databases/master`),
    ]);
    const policy = ok(shownServer, "show after update").json<Record<string, unknown>>();
    assert.equal(policy.state, "Enabled");
    assert.equal(policy.isAzureMonitorTargetEnabled, true);
    assert.equal(policy.logAnalyticsTargetState, "Enabled");
    assert.equal(String(policy.logAnalyticsWorkspaceResourceId).toLowerCase(), LAW.toLowerCase());
    assert.deepEqual(policy.auditActionsAndGroups, ["BACKUP_RESTORE_GROUP", "BATCH_COMPLETED_GROUP"]);
    const synapse = ok(shownWorkspace, "synapse show after update").json<Record<string, unknown>>();
    assert.equal(synapse.state, "Enabled");
    assert.equal(synapse.isAzureMonitorTargetEnabled, true);
    const listed = ok(master, "diagnostic settings on master").json<Array<{ workspaceId: string; logs: Array<{ category: string; enabled: boolean }> }> | { value: Array<{ workspaceId: string; logs: Array<{ category: string; enabled: boolean }> }> }>();
    const values = Array.isArray(listed) ? listed : listed.value;
    assert.ok(values.some((s) => s.workspaceId.toLowerCase() === LAW.toLowerCase() && s.logs.some((l) => l.category === "SQLSecurityAuditEvents" && l.enabled)), "the CLI created the setting that routes the audit to the workspace");
    // Nothing was changed on the server whose update was refused.
    assert.deepEqual(emu.estate.auditingPolicy(SERVER.replace("sql-ops-01", "sql-ops-02"), "auditingSettings")?.auditActionsAndGroups, ["BACKUP_RESTORE_GROUP"]);
  });
});
