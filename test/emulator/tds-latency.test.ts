import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { Connection, Request } from "tedious";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { LinkLatency } from "../../emulator/tds-server/link-latency.js";
import { miFleet } from "../support/mi-fleet.js";

// The fleet's faults.latency.tds is paid on every round trip, the handshake included ([MS-TDS] 3.2.5: PRELOGIN,
// then the TLS handshake, LOGIN7, then requests; a TLS 1.3 handshake is one round trip, RFC 8446 §2, a TLS 1.2 one
// two, RFC 5246 §7.3), not only on requests after the login.
describe("the link's latency, flight by flight", () => {
  let server: Server;
  let port = 0;
  const received: string[] = [];
  let flights = 0;
  before(async () => {
    server = createServer((socket) => {
      const link = new LinkLatency(socket, () => 5, () => flights++);
      link.on("data", (chunk: Buffer) => {
        received.push(chunk.toString());
        if (chunk.toString().endsWith("?")) link.write("!");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("what the client sends before an answer is one flight; each answer starts the next", async () => {
    const client: Socket = connect(port, "127.0.0.1");
    await new Promise((resolve) => client.once("connect", resolve));
    const answered = () => new Promise((resolve) => client.once("data", resolve));
    const first = answered();
    client.write("a");
    client.write("b?"); // pipelined behind the first: the same flight
    await first;
    const second = answered();
    client.write("c?");
    await second;
    client.destroy();
    assert.equal(received.join(""), "ab?c?", "every byte arrives, in order");
    assert.equal(flights, 2);
  });
});

describe("TDS latency on every round trip", () => {
  const dba = { name: "dba", password: "test-only-Pa55", permissions: ["sysadmin"] };
  let emu: RunningEmulator;
  before(async () => {
    emu = await startEmulator({
      fleet: { ...miFleet([{ name: "mi-far", dnsZone: "0a1b2c3d4e5f", sql: { logins: [dba] } }], "latency"), faults: { latency: { tds: { kind: "fixed", ms: 2 } } } },
    });
  });
  after(() => emu?.stop());

  /** Connects with tedious, runs one query, closes; returns the round trips the server counted and its requests. */
  async function connectAndQuery(encrypt: true | "strict") {
    const before = emu.tds!.counts();
    const connection = new Connection({
      server: emu.tds!.host,
      authentication: { type: "default", options: { userName: dba.name, password: dba.password } },
      options: { port: emu.tds!.port, encrypt, serverName: "mi-far.0a1b2c3d4e5f.database.windows.net", cryptoCredentialsDetails: { ca: [emu.caPem] }, connectTimeout: 5000 },
    });
    await new Promise<void>((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve())));
    await new Promise<void>((resolve, reject) => connection.execSql(new Request("SELECT 1 AS n", (error) => (error ? reject(error) : resolve()))));
    connection.close();
    const after = emu.tds!.counts();
    return { roundTrips: after.roundTrips! - before.roundTrips!, requests: after.requests - before.requests };
  }

  it("TDS 8 strict (TLS 1.3 first): the ClientHello, PRELOGIN, LOGIN7 and each request each wait a latency", async () => {
    const { roundTrips, requests } = await connectAndQuery("strict");
    assert.ok(requests >= 2, "tedious's session settings and the query");
    // The client's last TLS flight and its PRELOGIN go out back to back: one round trip, or two if they part.
    assert.ok(roundTrips >= 3 + requests && roundTrips <= 4 + requests, `handshake round trips (ClientHello, PRELOGIN, LOGIN7) and ${requests} requests: ${roundTrips}`);
  });

  it("TDS 7.4 (TLS 1.2 inside PRELOGIN): PRELOGIN, both TLS flights, LOGIN7 and each request each wait a latency", async () => {
    const { roundTrips, requests } = await connectAndQuery(true);
    assert.equal(roundTrips, 4 + requests, `PRELOGIN, two TLS 1.2 flights, LOGIN7 and ${requests} requests`);
  });
});
