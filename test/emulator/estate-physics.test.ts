import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Estate } from "../../emulator/estate/estate.js";
import { loadFleetFile } from "../../emulator/fleet/load.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import type { SqlAuditRecord } from "../../emulator/sql/contracts.js";

// Audit records reach a workspace only through a diagnostic setting that routes SQLSecurityAuditEvents there.
const SUB = "11111111-1111-4111-8111-111111111111";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-data/providers`;
const WORKSPACE = "4e5f6a7b-8c9d-4e0f-9a1b-3c4d5e6f7a8b";
const NOW = new Date("2026-11-24T12:00:00Z");

function estate(): Estate {
  return new Estate(loadFleetFile(shippedFleet("test-small.yaml")), { now: () => NOW });
}

function backup(server: string): SqlAuditRecord {
  return {
    event_time: new Date("2026-11-24T11:59:58Z"),
    action_id: "BA  ",
    action_name: "BACKUP",
    class_type: "DB",
    succeeded: true,
    session_id: 57,
    server_principal_name: "dba@contoso.com",
    database_name: "sales",
    statement: "BACKUP DATABASE [sales] TO URL = 'https://x.blob.core.windows.net/c/sales.bak' WITH COPY_ONLY",
    client_ip: "10.0.0.4",
    application_name: "SSMS",
    server_instance_name: server,
    event_id: "6f9619ff-8b86-4d01-b42d-00cf4fc964ff",
    audit_name: "auditguard",
  };
}

describe("appendAuditRecord", () => {
  it("with a setting sending SQLSecurityAuditEvents: one AzureDiagnostics row with Azure's columns", () => {
    const e = estate();
    const before = e.workspaceByCustomerId(WORKSPACE)!.tables.get("AzureDiagnostics")!.length;
    const delivery = e.appendAuditRecord(`${RG}/Microsoft.Sql/managedInstances/mi-good`, backup("mi-good"));
    assert.equal(delivery.delivered, true);
    assert.deepEqual(delivery.destinations, [{ workspaceCustomerId: WORKSPACE, table: "AzureDiagnostics", setting: "audit-to-law" }]);
    const rows = e.workspaceByCustomerId(WORKSPACE)!.tables.get("AzureDiagnostics")!;
    assert.equal(rows.length, before + 1);
    const row = rows.at(-1)!;
    assert.equal(row.Category, "SQLSecurityAuditEvents");
    assert.equal(row.action_id_s, "BA");
    assert.equal(row.succeeded_s, "true");
    assert.equal(row.TenantId, WORKSPACE);
    assert.deepEqual(row.TimeGenerated, NOW);
    assert.equal(row.ResourceId, `${RG}/Microsoft.Sql/managedInstances/mi-good`.toUpperCase());
    assert.equal(row._ResourceId, `${RG}/Microsoft.Sql/managedInstances/mi-good`.toLowerCase());
    assert.equal(row.ResourceProvider, "MICROSOFT.SQL");
    assert.equal(row.ResourceType, "MANAGEDINSTANCES");
    assert.equal(row.Resource, "MI-GOOD");
    assert.equal(row.LogicalServerName_s, "mi-good");
    assert.equal(row.OperationName, "AuditEvent");
    assert.equal(row.Type, "AzureDiagnostics");
    assert.equal(row.session_id_d, 57);
    assert.equal(row.event_id_g, "6f9619ff-8b86-4d01-b42d-00cf4fc964ff");
    assert.equal(row.audit_schema_version_d, 1);
  });

  it("with no setting, or the audit category disabled, nothing arrives", () => {
    const e = estate();
    const count = () => [...e.allWorkspaces()].reduce((n, w) => n + [...w.tables.values()].reduce((m, t) => m + t.length, 0), 0);
    const before = count();
    assert.equal(e.appendAuditRecord(`${RG}/Microsoft.Sql/managedInstances/mi-nodiag`, backup("mi-nodiag")).delivered, false);
    assert.equal(e.appendAuditRecord(`${RG}/Microsoft.Sql/managedInstances/mi-disabled-log`, backup("mi-disabled-log")).delivered, false);
    assert.equal(e.appendAuditRecord(`${RG}/Microsoft.Sql/managedInstances/no-such-mi`, backup("x")).delivered, false);
    assert.equal(count(), before);
  });

  it("deleting the setting stops delivery; a setting to a workspace that does not exist delivers nothing", () => {
    const e = estate();
    const mi = `${RG}/Microsoft.Sql/managedInstances/mi-good`;
    assert.ok(e.deleteDiagnosticSetting(mi, "AUDIT-TO-LAW"));
    assert.equal(e.appendAuditRecord(mi, backup("mi-good")).delivered, false);
    e.putDiagnosticSetting(mi, "elsewhere", {
      workspaceId: `/subscriptions/${SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/gone`,
      logs: [{ category: "SQLSecurityAuditEvents", enabled: true }],
      metrics: [],
    });
    assert.equal(e.appendAuditRecord(mi, backup("mi-good")).delivered, false);
  });

  it("Dedicated destination: the resource-specific SQLSecurityAuditEvents table with PascalCase columns", () => {
    const e = estate();
    const delivery = e.appendAuditRecord(`${RG}/Microsoft.Sql/managedInstances/mi-dedicated`, backup("mi-dedicated"));
    assert.deepEqual(delivery.destinations.map((d) => d.table), ["SQLSecurityAuditEvents"]);
    const row = e.workspaceByCustomerId(WORKSPACE)!.tables.get("SQLSecurityAuditEvents")!.at(-1)!;
    assert.equal(row.Type, "SQLSecurityAuditEvents");
    assert.equal(row.ActionId, "BA");
    assert.equal(row.Succeeded, true);
    assert.equal(row.ServerPrincipalName, "dba@contoso.com");
    assert.equal(row.LogicalServerName, "mi-dedicated");
    assert.ok(!("action_id_s" in row));
  });

  it("a SQL server's records route through the diagnostic setting on its master database (allLogs covers audit)", () => {
    const e = estate();
    const delivery = e.appendAuditRecord(`${RG}/Microsoft.Sql/servers/sql-good`, backup("sql-good"));
    assert.equal(delivery.delivered, true);
    const row = e.workspaceByCustomerId(WORKSPACE)!.tables.get("AzureDiagnostics")!.at(-1)!;
    assert.equal(row.ResourceType, "SERVERS/DATABASES");
    assert.equal(row.Resource, "MASTER");
    assert.equal(row.LogicalServerName_s, "sql-good");
  });

  it("seed rows keep their datetime columns as Dates", () => {
    const row = estate().workspaceByCustomerId(WORKSPACE)!.tables.get("AzureDiagnostics")![0]!;
    assert.ok(row.TimeGenerated instanceof Date);
  });
});

describe("Resource Graph rows", () => {
  it("one row per resource with Resource Graph's columns and lower-case types", () => {
    const rows = [...estate().resources()];
    const mi = rows.find((r) => r.name === "mi-good")!;
    assert.equal(mi.type, "microsoft.sql/managedinstances");
    assert.equal(mi.resourceGroup, "rg-data");
    assert.equal(mi.subscriptionId, SUB);
    assert.equal(mi.location, "westeurope");
    assert.deepEqual(mi.tags, { env: "prod" });
    for (const column of ["id", "name", "type", "tenantId", "kind", "location", "resourceGroup", "subscriptionId", "managedBy", "sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation"]) {
      assert.ok(column in mi, column);
    }
    const types = new Set(rows.map((r) => r.type));
    assert.ok(types.has("microsoft.synapse/workspaces"));
    assert.ok(types.has("microsoft.sql/servers"));
    assert.ok(types.has("microsoft.operationalinsights/workspaces"));
  });

  it("resourceExists answers for resources, groups and subscriptions", () => {
    const e = estate();
    assert.ok(e.resourceExists(`${RG}/Microsoft.Sql/managedInstances/MI-GOOD`));
    assert.ok(e.resourceExists(`/subscriptions/${SUB}/resourceGroups/rg-data`));
    assert.ok(e.resourceExists(`/subscriptions/${SUB}`));
    assert.ok(!e.resourceExists(`${RG}/Microsoft.Sql/managedInstances/nope`));
  });
});
