import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import sql from "mssql";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { miFleet } from "../support/mi-fleet.js";

// What a real client (mssql/tedious) sees of the fleet's injected statement faults and of an instance whose ARM
// state is not Ready ("Stop and start an instance": a stopped instance is like a deallocated VM; nothing answers).
const dba = { name: "dba", password: "test-only-Pa55", permissions: ["sysadmin"] };
let emu: RunningEmulator;

before(async () => {
  emu = await startEmulator({
    fleet: miFleet(
      [
        {
          name: "mi-faulty",
          dnsZone: "0a1b2c3d4e5f",
          sql: {
            logins: [dba],
            faults: [
              { statement: "CREATE SERVER AUDIT \\[?dropped", error: "drop-connection" },
              { statement: "CREATE SERVER AUDIT \\[?unanswered", error: "no-reply" },
              { statement: "ALTER SERVER AUDIT", error: 33227, times: 1 },
            ],
          },
        },
        { name: "mi-stopped", dnsZone: "0a1b2c3d4e5f", state: "Stopped", sql: { logins: [dba] } },
        { name: "mi-stopping", dnsZone: "0a1b2c3d4e5f", sql: { logins: [dba] } },
      ],
      "faults",
    ),
  });
});
after(() => emu?.stop());

const pool = (instance: string) =>
  new sql.ConnectionPool({
    server: emu.tds!.host,
    port: emu.tds!.port,
    user: dba.name,
    password: dba.password,
    pool: { max: 1 },
    connectionTimeout: 5000,
    requestTimeout: 5000,
    options: { encrypt: true, serverName: `${instance}.0a1b2c3d4e5f.database.windows.net`, cryptoCredentialsDetails: { ca: [emu.caPem] } },
  });

/** The connection ended with no answer: a transport error, not a SQL error with a number. */
const lostConnection = (e: Error & { number?: number }) => e.number === undefined && /end of message stream|hang up|closed|lost|ECONNRESET/i.test(e.message);

async function auditNames(instance: string): Promise<string[]> {
  const p = pool(instance);
  await p.connect();
  try {
    return (await p.request().query<{ name: string }>("SELECT name FROM sys.server_audits ORDER BY name")).recordset.map((r) => r.name);
  } finally {
    await p.close();
  }
}

describe("injected statement faults over TDS", () => {
  it('"drop-connection": the client loses the connection and the statement did not run', async () => {
    const p = pool("mi-faulty");
    await p.connect();
    await assert.rejects(p.request().batch("CREATE SERVER AUDIT [dropped] TO EXTERNAL_MONITOR"), lostConnection);
    await p.close().catch(() => undefined);
    assert.ok(!(await auditNames("mi-faulty")).includes("dropped"));
  });

  it('"no-reply": the client loses the connection, yet the statement ran', async () => {
    const p = pool("mi-faulty");
    await p.connect();
    await assert.rejects(p.request().batch("CREATE SERVER AUDIT [unanswered] TO EXTERNAL_MONITOR"), lostConnection);
    await p.close().catch(() => undefined);
    assert.ok((await auditNames("mi-faulty")).includes("unanswered"));
  });

  it("an error fault reaches the client as that error, once", async () => {
    const p = pool("mi-faulty");
    await p.connect();
    try {
      await assert.rejects(p.request().batch("ALTER SERVER AUDIT [unanswered] WITH (QUEUE_DELAY = 2000)"), (e: Error & { number?: number }) => e.number === 33227);
      await p.request().batch("ALTER SERVER AUDIT [unanswered] WITH (QUEUE_DELAY = 2000)");
    } finally {
      await p.close();
    }
  });
});

describe("an instance that is not running", () => {
  it("a Stopped instance refuses the login: the connection closes unanswered", async () => {
    const p = pool("mi-stopped");
    await assert.rejects(p.connect(), (e: Error & { code?: string }) => e.code === "ESOCKET" || e.code === "ELOGIN" || /closed|socket|ended|hang up/i.test(e.message));
  });

  it("an open session of an instance that stops runs no more T-SQL", async () => {
    const p = pool("mi-stopping");
    await p.connect();
    try {
      assert.equal((await p.request().query<{ one: number }>("SELECT 1 AS one")).recordset[0]!.one, 1);
      emu.estate.managedInstanceByServerName("mi-stopping")!.properties.state = "Stopped";
      await assert.rejects(p.request().batch("CREATE SERVER AUDIT [after_stop] TO EXTERNAL_MONITOR"));
      emu.estate.managedInstanceByServerName("mi-stopping")!.properties.state = "Ready";
      assert.ok(!(await auditNames("mi-stopping")).includes("after_stop"));
    } finally {
      await p.close().catch(() => undefined);
    }
  });
});
