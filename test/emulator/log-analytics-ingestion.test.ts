import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { LogsQueryClient, LogsQueryResultStatus } from "@azure/monitor-query-logs";
import type { TokenCredential } from "@azure/core-auth";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { parseFleet } from "../../emulator/fleet/load.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import type { FleetInput } from "../../emulator/fleet/schema.js";
import type { SqlAuditRecord } from "../../emulator/sql/contracts.js";

// Ingestion time ("Log data ingestion time in Azure Monitor"): a row becomes visible to queries only once it has
// been ingested (its event time plus the fleet's faults.ingestionDelay, on the emulator's clock), and
// ingestion_time() returns that moment. Seed rows may be dated relative to the emulator's start.
const SUB = "11111111-1111-4111-8111-111111111111";
const MI = `/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/managedInstances/mi-good`;
const WORKSPACE = "4e5f6a7b-8c9d-4e0f-9a1b-3c4d5e6f7a8b";
const START = Date.parse("2026-11-24T12:00:00Z");

function fleet(change: (f: FleetInput) => void): FleetInput {
  const f = JSON.parse(JSON.stringify(parseFleet(readFileSync(shippedFleet("test-small.yaml"), "utf8")))) as FleetInput;
  change(f);
  return f;
}

function record(over: Partial<SqlAuditRecord> = {}): SqlAuditRecord {
  return {
    event_time: new Date(START),
    action_id: "BA",
    action_name: "BACKUP",
    class_type: "DB",
    succeeded: true,
    session_id: 60,
    server_principal_name: "mallory",
    database_name: "sales",
    statement: "BACKUP DATABASE [sales] TO URL = 'https://x.blob.core.windows.net/c/s.bak' WITH COPY_ONLY",
    client_ip: "10.0.0.4",
    application_name: "SSMS",
    server_instance_name: "mi-good",
    event_id: "6f9619ff-8b86-4d01-b42d-00cf4fc964ff",
    audit_name: "auditguard",
    ...over,
  };
}

async function withClock(f: FleetInput, body: (emu: RunningEmulator, client: LogsQueryClient, clock: { ms: number }) => Promise<void>) {
  const clock = { ms: START };
  const emu = await startEmulator({ fleet: f, now: () => new Date(clock.ms) });
  const credential: TokenCredential = { getToken: async () => ({ token: emu.issueToken("https://api.loganalytics.io"), expiresOnTimestamp: Date.now() + 3600_000 }) };
  try {
    await body(emu, new LogsQueryClient(credential, { endpoint: emu.logAnalyticsUrl, tlsOptions: { ca: emu.caPem } }), clock);
  } finally {
    await emu.stop();
  }
}

async function rows(client: LogsQueryClient, query: string): Promise<unknown[][]> {
  const result = await client.queryWorkspace(WORKSPACE, query, { duration: "P7D" });
  assert.equal(result.status, LogsQueryResultStatus.Success);
  return result.status === LogsQueryResultStatus.Success ? result.tables[0]!.rows : [];
}

describe("ingestion time", () => {
  it("a new audit row is invisible until its ingestion delay has passed, then ingestion_time() is event time + delay", async () => {
    await withClock(
      fleet((f) => {
        f.faults = { ingestionDelay: { kind: "fixed", ms: 90_000 } };
      }),
      async (emu, client, clock) => {
        const query = `AzureDiagnostics | where session_id_d == 60 | project TimeGenerated, it = ingestion_time(), server_principal_name_s`;
        assert.equal(emu.estate.appendAuditRecord(MI, record()).delivered, true);
        assert.deepEqual(await rows(client, query), [], "not ingested yet");
        clock.ms = START + 89_999;
        assert.deepEqual(await rows(client, query), [], "still not");
        clock.ms = START + 90_000;
        const [row] = await rows(client, query);
        assert.deepEqual(row, [new Date(START), new Date(START + 90_000), "mallory"]);
      },
    );
  });

  it("a workspace is read by its customerId and, resource-centric, by its ARM id", async () => {
    await withClock(
      fleet((f) => {
        f.faults = { ingestionDelay: { kind: "fixed", ms: 0 } };
      }),
      async (emu, client) => {
        emu.estate.appendAuditRecord(MI, record({ session_id: 61 }));
        const law = `/subscriptions/${SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law-central`;
        const query = "AzureDiagnostics | where session_id_d == 61 | count";
        assert.deepEqual(await rows(client, query), [[1]]);
        const byId = await client.queryResource(law.slice(1), query, { duration: "P7D" });
        assert.equal(byId.status, LogsQueryResultStatus.Success);
        assert.deepEqual(byId.status === LogsQueryResultStatus.Success ? byId.tables[0]!.rows : [], [[1]]);
      },
    );
  });

  it("rows of one workspace keep the order they arrived in", async () => {
    await withClock(
      fleet((f) => {
        f.faults = { seed: 4, ingestionDelay: { kind: "uniform", minMs: 0, maxMs: 60_000 } };
      }),
      async (emu, client, clock) => {
        for (let i = 0; i < 20; i++) emu.estate.appendAuditRecord(MI, record({ session_id: 100 + i }));
        clock.ms = START + 61_000;
        const seen = (await rows(client, "AzureDiagnostics | where session_id_d >= 100 | project session_id_d, it = ingestion_time()")) as Array<[number, Date]>;
        assert.deepEqual(seen.map(([s]) => s), Array.from({ length: 20 }, (_, i) => 100 + i));
        assert.ok(new Set(seen.map(([, it]) => it.getTime())).size > 1, "delays are drawn per row");
      },
    );
  });

  it("seed rows can be dated relative to the emulator's start and are ingested after their event time", async () => {
    await withClock(
      fleet((f) => {
        f.faults = { ingestionDelay: { kind: "fixed", ms: 5000 } };
        const law = f.subscriptions[0]!.resourceGroups!.find((g) => g.name === "rg-logs")!.logAnalyticsWorkspaces![0]!;
        law.tables = { AzureDiagnostics: [{ TimeGenerated: "-PT20M", event_time_t: "-PT20M5S", Category: "SQLSecurityAuditEvents", action_id_s: "BA" }] };
      }),
      async (_emu, client) => {
        const [row] = await rows(client, "AzureDiagnostics | where TimeGenerated > ago(1h) | project TimeGenerated, event_time_t, it = ingestion_time()");
        assert.deepEqual(row, [new Date(START - 20 * 60_000), new Date(START - 20 * 60_000 - 5000), new Date(START - 20 * 60_000 + 5000)]);
      },
    );
  });

  it("a relative time that is not an ISO 8601 duration is refused at load with its path", () => {
    const bad = fleet((f) => {
      f.subscriptions[0]!.resourceGroups!.find((g) => g.name === "rg-logs")!.logAnalyticsWorkspaces![0]!.tables = { AzureDiagnostics: [{ TimeGenerated: "-20 minutes" }] };
    });
    assert.throws(() => parseFleet(JSON.stringify(bad)), /tables\.AzureDiagnostics\[0\]\.TimeGenerated.*negative ISO 8601 duration/);
  });

  it("a restored estate keeps its seed rows dated from its own start and the rows that arrived since", async () => {
    const f = fleet((x) => {
      x.faults = { ingestionDelay: { kind: "fixed", ms: 0 } };
      x.subscriptions[0]!.resourceGroups!.find((g) => g.name === "rg-logs")!.logAnalyticsWorkspaces![0]!.tables = { AzureDiagnostics: [{ TimeGenerated: "-PT10M", action_id_s: "SEED" }] };
    });
    let saved: ReturnType<RunningEmulator["estate"]["snapshot"]> | undefined;
    await withClock(f, async (emu) => {
      emu.estate.appendAuditRecord(MI, record({ session_id: 77 }));
      saved = JSON.parse(JSON.stringify(emu.estate.snapshot())) as typeof saved;
    });
    const later = START + 24 * 3600_000;
    const emu = await startEmulator({ fleet: f, now: () => new Date(later) });
    try {
      emu.estate.restore(saved!);
      const stored = emu.estate.workspaceByCustomerId(WORKSPACE)!.tables.get("AzureDiagnostics")!;
      assert.deepEqual(stored.map((r) => [r.action_id_s, (r.TimeGenerated as Date).toISOString()]), [
        ["SEED", new Date(later - 10 * 60_000).toISOString()],
        ["BA", new Date(START).toISOString()],
      ]);
    } finally {
      await emu.stop();
    }
  });
});
