import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import { readFileSync } from "node:fs";
import { Connection, Request } from "tedious";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { rawRequest } from "../../emulator/http/request.js";
import { parseFleet } from "../../emulator/fleet/load.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import { FaultInjector } from "../../emulator/faults/faults.js";
import type { FleetInput } from "../../emulator/fleet/schema.js";

// Answers that stall after their headers (faults.stallAfterHeaders) and a Managed Instance that stalls after the
// login (faults.stallAfterLogin): what a client's timeouts must cope with. Nothing here measures time: a stalled
// body is shown to be unsent when the emulator stops, and a delayed one to arrive whole.
const SUB = "11111111-1111-4111-8111-111111111111";
const SERVER = `/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.Sql/servers/sql-good`;
const WORKSPACE = "4e5f6a7b-8c9d-4e0f-9a1b-3c4d5e6f7a8b";

function fleet(faults: FleetInput["faults"]): FleetInput {
  const f = JSON.parse(JSON.stringify(parseFleet(readFileSync(shippedFleet("test-small.yaml"), "utf8")))) as FleetInput;
  f.faults = faults;
  return f;
}

/** Sends a request and resolves at the response headers; `body` resolves with what arrived by the end. */
function headersThenBody(url: string, options: { method?: string; headers: Record<string, string>; body?: string; ca: string }) {
  return new Promise<{ status: number; contentLength: number; body: Promise<{ text: string; complete: boolean }> }>((resolve, reject) => {
    const req = httpsRequest(url, { method: options.method ?? "GET", headers: { "content-type": "application/json", ...options.headers }, ca: options.ca }, (res) => {
      const chunks: Buffer[] = [];
      const body = new Promise<{ text: string; complete: boolean }>((done) => {
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => done({ text: Buffer.concat(chunks).toString("utf8"), complete: res.complete }));
        res.on("error", () => done({ text: Buffer.concat(chunks).toString("utf8"), complete: false }));
        res.on("close", () => done({ text: Buffer.concat(chunks).toString("utf8"), complete: res.complete }));
      });
      resolve({ status: res.statusCode ?? 0, contentLength: Number(res.headers["content-length"]), body });
    });
    req.on("error", reject);
    if (options.body) req.write(options.body);
    req.end();
  });
}

describe("answers that stall after their headers", () => {
  it("ARM: the status line and headers arrive, the body never does, and the PUT took effect", async () => {
    const emu = await startEmulator({ fleet: fleet({ stallAfterHeaders: [{ service: "arm", path: "/auditingSettings/default$" }] }) });
    let stopped = false;
    try {
      const token = { authorization: `Bearer ${emu.issueToken("https://management.azure.com/")}` };
      const put = await headersThenBody(`${emu.armUrl}${SERVER}/auditingSettings/default?api-version=2021-11-01-preview`, {
        method: "PUT",
        headers: token,
        body: JSON.stringify({ properties: { state: "Disabled" } }),
        ca: emu.caPem,
      });
      assert.equal(put.status, 200);
      assert.ok(put.contentLength > 0, "the headers announce a body");
      // Other paths are unaffected.
      const other = await rawRequest(`${emu.armUrl}${SERVER}?api-version=2022-08-01-preview`, { headers: token, ca: emu.caPem });
      assert.equal(other.status, 200);
      assert.equal(emu.estate.auditingPolicy(`${SERVER}`, "auditingSettings")?.state, "Disabled", "the request was handled");
      await emu.stop();
      stopped = true;
      const body = await put.body;
      assert.deepEqual(body, { text: "", complete: false }, "no byte of the body was sent before the emulator stopped");
    } finally {
      if (!stopped) await emu.stop();
    }
  });

  it("Log Analytics: a body delayed by bodyDelayMs still arrives whole", async () => {
    const emu = await startEmulator({ fleet: fleet({ stallAfterHeaders: [{ service: "logAnalytics", path: "/query$", bodyDelayMs: 30 }] }) });
    try {
      const answer = await headersThenBody(`${emu.logAnalyticsUrl}/workspaces/${WORKSPACE}/query`, {
        method: "POST",
        headers: { authorization: `Bearer ${emu.issueToken("https://api.loganalytics.io")}` },
        body: JSON.stringify({ query: "AzureDiagnostics | count" }),
        ca: emu.caPem,
      });
      assert.equal(answer.status, 200);
      const body = await answer.body;
      assert.equal(body.complete, true);
      assert.equal(Buffer.byteLength(body.text), answer.contentLength);
      assert.ok(Array.isArray((JSON.parse(body.text) as { tables: unknown[] }).tables));
    } finally {
      await emu.stop();
    }
  });

  it("a rate stalls about that share of matching answers, the same ones for the same seed", () => {
    const decide = (seed: number) => {
      const f = new FaultInjector(parseFleet(readFileSync(shippedFleet("test-small.yaml"), "utf8")).faults);
      const g = new FaultInjector({ ...f.config, seed, stallAfterHeaders: [{ service: "arm", path: "^/subscriptions/", rate: 0.25 }] });
      return Array.from({ length: 400 }, (_, i) => (g.stallAfterHeaders("arm", i % 2 ? `/subscriptions/${SUB}` : "/providers/x") ? 1 : 0) as number);
    };
    const first = decide(9);
    assert.deepEqual(first, decide(9));
    assert.equal(first.filter((_, i) => i % 2 === 0).reduce((a, b) => a + b, 0), 0, "paths that do not match never stall");
    const share = first.reduce((a, b) => a + b, 0) / 200;
    assert.ok(share > 0.15 && share < 0.35, String(share));
  });

  it("a path that is not a regular expression is refused at load", () => {
    assert.throws(() => parseFleet(JSON.stringify(fleet({ stallAfterHeaders: [{ service: "arm", path: "([" }] }))), /stallAfterHeaders.*not a valid regular expression/s);
  });
});

describe("a Managed Instance that stalls after the login", () => {
  it("accepts the login and the session set-up, then answers no request while the other instances do", async () => {
    const emu: RunningEmulator = await startEmulator({
      fleet: {
        tenantId: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
        scanner: { principalId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", clientId: "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", displayName: "auditguard-scanner", roleAssignments: [] },
        subscriptions: [
          {
            id: SUB,
            displayName: "stall",
            resourceGroups: [
              {
                name: "rg",
                managedInstances: ["mi-stall", "mi-stall-early", "mi-fine"].map((name) => ({
                  name,
                  dnsZone: "0a1b2c3d4e5f",
                  sql: { logins: [{ name: "dba", password: "test-only-Pa55", permissions: ["sysadmin"] }] },
                })),
              },
            ],
          },
        ],
        // tedious sends one batch of session settings while it connects: answer it, stall the first query.
        faults: { stallAfterLogin: [{ name: "mi-stall", answeredRequests: 1 }, "mi-stall-early"] },
      },
    });
    const connections: Connection[] = [];
    const connect = (name: string) =>
      new Promise<Connection>((resolve, reject) => {
        const connection = new Connection({
          server: emu.tds!.host,
          authentication: { type: "default", options: { userName: "dba", password: "test-only-Pa55" } },
          options: {
            port: emu.tds!.port,
            encrypt: true,
            serverName: `${name}.0a1b2c3d4e5f.database.windows.net`,
            cryptoCredentialsDetails: { ca: [emu.caPem] },
            connectTimeout: 1000,
            requestTimeout: 200,
            cancelTimeout: 200,
          },
        });
        connections.push(connection);
        connection.connect((error) => (error ? reject(error) : resolve(connection)));
      });
    const query = (connection: Connection) =>
      new Promise<number>((resolve, reject) => {
        let value = 0;
        const request = new Request("SELECT 1 AS n", (error) => (error ? reject(error) : resolve(value)));
        request.on("row", (columns: Array<{ value: number }>) => (value = columns[0]!.value));
        connection.execSql(request);
      });
    try {
      const fine = await connect("mi-fine");
      const stalled = await connect("mi-stall");
      assert.equal(await query(fine), 1);
      const before = emu.requestCounts().tdsRequests;
      // tedious gives up on the request, then on its cancel (ATTENTION), which a stalled server does not answer either.
      await assert.rejects(query(stalled), (e: { code?: string }) => e.code === "ETIMEOUT");
      assert.equal(emu.requestCounts().tdsRequests - before, 1, "the request reached the server, which never answered it");
      const loginsBefore = emu.requestCounts().tdsLogins;
      // Without answered requests even the session set-up is left unanswered: the connect itself times out.
      await assert.rejects(connect("mi-stall-early"), (e: { code?: string }) => e.code === "ETIMEOUT");
      assert.equal(emu.requestCounts().tdsLogins - loginsBefore, 1, "the login was answered");
    } finally {
      for (const c of connections) c.close();
      await emu.stop();
    }
  });
});
