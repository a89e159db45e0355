import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { LogsQueryClient, LogsQueryResultStatus } from "@azure/monitor-query-logs";
import type { TokenCredential } from "@azure/core-auth";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import { rawRequest } from "../../emulator/http/request.js";
import { parseFleet } from "../../emulator/fleet/load.js";
import type { FleetIdentity, FleetInput } from "../../emulator/fleet/schema.js";
import type { EmulatorRequest } from "../../emulator/http-contracts.js";

// The Log Analytics endpoint's front: HTTPS at /v1, the service's authentication and access answers and its
// faults, in front of whichever query handler is mounted (the KQL engine is emulator/loganalytics'; a stub here).
const LA = "https://api.loganalytics.io";
const WORKSPACE = "4e5f6a7b-8c9d-4e0f-9a1b-3c4d5e6f7a8b";

function fleet(change: (f: FleetInput) => void = () => {}): FleetInput {
  const f = JSON.parse(JSON.stringify(parseFleet(readFileSync(shippedFleet("test-small.yaml"), "utf8")))) as FleetInput;
  change(f);
  return f;
}

function credential(emu: RunningEmulator, who?: FleetIdentity): TokenCredential {
  return { getToken: async () => ({ token: emu.issueToken(LA, who), expiresOnTimestamp: Date.now() + 3600_000 }) };
}

async function withEmulator(f: FleetInput, body: (emu: RunningEmulator, seen: EmulatorRequest[]) => Promise<void>): Promise<void> {
  const seen: EmulatorRequest[] = [];
  const emu = await startEmulator({
    fleet: f,
    services: {
      logAnalytics: (store) => (request) => {
        seen.push(request);
        const id = /\/workspaces\/([^/]+)\/query$/.exec(request.url.pathname)?.[1] ?? "";
        const rows = store.workspaceByCustomerId(id)?.tables.get("AzureDiagnostics") ?? [];
        return { status: 200, json: { tables: [{ name: "PrimaryResult", columns: [{ name: "Count", type: "long" }], rows: [[rows.length]] }] } };
      },
    },
  });
  try {
    await body(emu, seen);
  } finally {
    await emu.stop();
  }
}

describe("Log Analytics endpoint", () => {
  it("LogsQueryClient reaches the mounted handler at /v1 with a verified token", async () => {
    await withEmulator(fleet(), async (emu, seen) => {
      const client = new LogsQueryClient(credential(emu), { endpoint: emu.logAnalyticsUrl, tlsOptions: { ca: emu.caPem } });
      const result = await client.queryWorkspace(WORKSPACE, "AzureDiagnostics | count", { duration: "P1D" });
      assert.equal(result.status, LogsQueryResultStatus.Success);
      assert.equal(seen[0]!.url.pathname, `/v1/workspaces/${WORKSPACE}/query`);
      assert.ok(result.status === LogsQueryResultStatus.Success && result.tables[0]!.rows[0]![0] === 1);
    });
  });

  it("answers the service's 401 without a token and 403 InvalidTokenError for an ARM token", async () => {
    await withEmulator(fleet(), async (emu) => {
      const url = `${emu.logAnalyticsUrl}/workspaces/${WORKSPACE}/query`;
      const body = JSON.stringify({ query: "AzureDiagnostics | take 1" });
      const none = await rawRequest(url, { method: "POST", body, ca: emu.caPem });
      assert.equal(none.status, 401);
      assert.equal(none.json<{ error: { code: string } }>().error.code, "AuthorizationRequiredError");
      const arm = await rawRequest(url, { method: "POST", body, ca: emu.caPem, headers: { authorization: `Bearer ${emu.issueToken("https://management.azure.com/")}` } });
      assert.equal(arm.status, 403);
      assert.deepEqual(
        { code: arm.json<{ error: { code: string; message: string } }>().error.code, message: arm.json<{ error: { message: string } }>().error.message },
        { code: "InvalidTokenError", message: "The provided authentication is not valid for this resource" },
      );
    });
  });

  it("an identity without read access to the workspace gets InsufficientAccessError", async () => {
    await withEmulator(fleet(), async (emu, seen) => {
      const client = new LogsQueryClient(credential(emu, emu.fleet.otherIdentities[0]), { endpoint: emu.logAnalyticsUrl, tlsOptions: { ca: emu.caPem } });
      await assert.rejects(client.queryWorkspace(WORKSPACE, "AzureDiagnostics | count", { duration: "P1D" }), (e: { statusCode?: number; code?: string }) => e.statusCode === 403 && e.code === "InsufficientAccessError");
      assert.equal(seen.length, 0);
    });
  });

  it("a 429 burst is honoured by the SDK's retry with no storm", async () => {
    await withEmulator(
      fleet((f) => {
        f.faults = { throttleBursts: [{ service: "logAnalytics", startAtRequest: 1, requests: 1, retryAfterSeconds: 1, retryAfterMs: 20 }] };
      }),
      async (emu, seen) => {
        const client = new LogsQueryClient(credential(emu), { endpoint: emu.logAnalyticsUrl, tlsOptions: { ca: emu.caPem } });
        const result = await client.queryWorkspace(WORKSPACE, "AzureDiagnostics | count", { duration: "P1D" });
        assert.equal(result.status, LogsQueryResultStatus.Success);
        assert.equal(emu.requestCounts().logAnalytics, 2);
        assert.equal(seen.length, 1);
      },
    );
  });
});
