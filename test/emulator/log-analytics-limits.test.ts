import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { LogsQueryClient, LogsQueryResultStatus } from "@azure/monitor-query-logs";
import type { TokenCredential } from "@azure/core-auth";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { rawRequest } from "../../emulator/http/request.js";
import type { RawResponse } from "../../emulator/http/request.js";
import { parseFleet } from "../../emulator/fleet/load.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import type { FleetInput } from "../../emulator/fleet/schema.js";

// Log Analytics' query limits ("Azure Monitor service limits", User query throttling and Log Analytics
// workspaces): five concurrent queries per user, the rest queued (200 at most, 3 minutes at most; past either,
// HTTP 429), and at most 500,000 records / ~100 MiB per answer, beyond which the answer is partial.
const WORKSPACE = "4e5f6a7b-8c9d-4e0f-9a1b-3c4d5e6f7a8b";

function fleet(change: (f: FleetInput) => void = () => {}): FleetInput {
  const f = JSON.parse(JSON.stringify(parseFleet(readFileSync(shippedFleet("test-small.yaml"), "utf8")))) as FleetInput;
  change(f);
  return f;
}

/** An emulator whose query handler holds every query until `release()`, so the front's queueing can be seen. */
async function gated(f: FleetInput, body: (emu: RunningEmulator, gate: { started: number; release(): void }, send: () => Promise<RawResponse>) => Promise<void>) {
  let open: () => void = () => {};
  const opened = new Promise<void>((r) => (open = r));
  const gate = {
    started: 0,
    release() {
      open();
    },
  };
  const emu = await startEmulator({
    fleet: f,
    services: {
      logAnalytics: () => async () => {
        gate.started++;
        await opened;
        return { status: 200, json: { tables: [{ name: "PrimaryResult", columns: [{ name: "x", type: "long" }], rows: [[1]] }] } };
      },
    },
  });
  const token = emu.issueToken("https://api.loganalytics.io");
  const send = () => rawRequest(`${emu.logAnalyticsUrl}/workspaces/${WORKSPACE}/query`, { method: "POST", body: JSON.stringify({ query: "AzureDiagnostics | count" }), headers: { authorization: `Bearer ${token}` }, ca: emu.caPem });
  try {
    await body(emu, gate, send);
  } finally {
    gate.release();
    await emu.stop();
  }
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(condition(), "the condition never held");
}

describe("Log Analytics concurrency per identity", () => {
  it("five queries run at once, the sixth and seventh wait their turn and then run", async () => {
    await gated(fleet(), async (emu, gate, send) => {
      const answers = Array.from({ length: 7 }, () => send());
      await until(() => emu.requestCounts().logAnalytics === 7 && gate.started === 5);
      assert.equal(gate.started, 5, "only five started while the first five hold their slots");
      gate.release();
      const statuses = (await Promise.all(answers)).map((a) => a.status);
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 200]);
      assert.equal(gate.started, 7);
    });
  });

  it("past the queue's length the next query is refused with 429", async () => {
    await gated(fleet((f) => (f.logAnalyticsQueryLimits = { queueLength: 1 })), async (emu, gate, send) => {
      const held = Array.from({ length: 6 }, () => send());
      await until(() => emu.requestCounts().logAnalytics === 6 && gate.started === 5);
      const refused = await send();
      assert.equal(refused.status, 429);
      assert.ok(refused.headers["retry-after"]);
      gate.release();
      assert.deepEqual((await Promise.all(held)).map((a) => a.status), [200, 200, 200, 200, 200, 200]);
    });
  });

  it("a query that waits longer than the queue's time limit is refused with 429", async () => {
    await gated(fleet((f) => (f.logAnalyticsQueryLimits = { concurrentQueries: 1, queueTimeoutSeconds: 0.05 })), async (_emu, gate, send) => {
      const first = send();
      await until(() => gate.started === 1);
      const waiting = await send();
      assert.equal(waiting.status, 429);
      gate.release();
      assert.equal((await first).status, 200);
    });
  });

  it("lifted (logAnalyticsQueryLimits: false), all seven run at once", async () => {
    await gated(fleet((f) => (f.logAnalyticsQueryLimits = false)), async (_emu, gate, send) => {
      const answers = Array.from({ length: 7 }, () => send());
      await until(() => gate.started === 7);
      gate.release();
      assert.equal((await Promise.all(answers)).filter((a) => a.status === 200).length, 7);
    });
  });
});

describe("the size of one answer", () => {
  it("past maxRows the answer is partial: the rows that fit and the error LogsQueryClient reports as PartialFailure", async () => {
    const emu = await startEmulator({
      fleet: fleet((f) => {
        f.logAnalyticsQueryLimits = { maxRows: 2 };
        f.faults = { ingestionDelay: { kind: "fixed", ms: 0 } };
        f.subscriptions[0]!.resourceGroups!.find((g) => g.name === "rg-logs")!.logAnalyticsWorkspaces![0]!.tables = {
          AzureDiagnostics: [1, 2, 3].map((n) => ({ TimeGenerated: `-PT${n}M`, Category: "SQLSecurityAuditEvents", session_id_d: n })),
        };
      }),
    });
    try {
      const credential: TokenCredential = { getToken: async () => ({ token: emu.issueToken("https://api.loganalytics.io"), expiresOnTimestamp: Date.now() + 3600_000 }) };
      const client = new LogsQueryClient(credential, { endpoint: emu.logAnalyticsUrl, tlsOptions: { ca: emu.caPem } });
      const result = await client.queryWorkspace(WORKSPACE, "AzureDiagnostics | project session_id_d | order by session_id_d asc", { duration: "PT1H" });
      assert.equal(result.status, LogsQueryResultStatus.PartialFailure);
      if (result.status !== LogsQueryResultStatus.PartialFailure) return;
      assert.deepEqual(result.partialTables[0]!.rows, [[1], [2]]);
      assert.equal(result.partialError.code, "PartialError");
      const whole = await client.queryWorkspace(WORKSPACE, "AzureDiagnostics | summarize count()", { duration: "PT1H" });
      assert.equal(whole.status, LogsQueryResultStatus.Success, "an answer within the limits is whole");
    } finally {
      await emu.stop();
    }
  });
});
