import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import sql from "mssql";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";

// The TDS endpoint's protocol behaviour with the real mssql/tedious client: concurrent pooled sessions,
// transactions through the TRANSACTION_MANAGER request, cancellation by ATTENTION, and malformed input.
const SUB = "11111111-1111-4111-8111-111111111111";
let emu: RunningEmulator;
const fqdn = "mi-proto.0a1b2c3d4e5f.database.windows.net";

before(async () => {
  emu = await startEmulator({
    fleet: {
      tenantId: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
      scanner: { principalId: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", clientId: "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", displayName: "auditguard-scanner", roleAssignments: [] },
      subscriptions: [{ id: SUB, displayName: "proto", resourceGroups: [{ name: "rg", managedInstances: [{ name: "mi-proto", dnsZone: "0a1b2c3d4e5f", sql: { logins: [{ name: "dba", password: "test-only-Pa55", permissions: ["sysadmin"] }] } }] }] }],
    },
  });
});
after(() => emu?.stop());

const pool = (max = 10, encrypt: boolean | "strict" = true) =>
  new sql.ConnectionPool({
    server: emu.tds!.host,
    port: emu.tds!.port,
    user: "dba",
    password: "test-only-Pa55",
    pool: { max },
    requestTimeout: 5000,
    options: { encrypt: encrypt as boolean, trustServerCertificate: false, serverName: fqdn, cryptoCredentialsDetails: { ca: [emu.caPem] } },
  });

describe("the TDS endpoint", () => {
  it("speaks TDS 8 (strict: TLS first, ALPN tds/8.0, TLS 1.3) and TDS 7.4 (TLS inside PRELOGIN, TLS 1.2) on one port", async () => {
    for (const [encrypt, protocol] of [["strict", "TLSv1.3"], [true, "TLSv1.2"]] as const) {
      const p = pool(1, encrypt);
      await p.connect();
      try {
        const r = await p.request().query<{ server: string }>("SELECT @@SERVERNAME AS server");
        assert.equal(r.recordset[0]!.server, fqdn, `${String(encrypt)}: routed by SNI to the instance`);
        // tedious keeps the socket it speaks TDS on; under TDS 8 that socket is the TLS one.
        type Pooled = { socket: { getProtocol?(): string | null; alpnProtocol?: string | false } };
        const tarn = (p as unknown as { pool: { acquire(): { promise: Promise<Pooled> }; release(c: Pooled): void } }).pool;
        const connection = await tarn.acquire().promise;
        tarn.release(connection);
        if (encrypt === "strict") {
          assert.equal(connection.socket.getProtocol?.(), protocol);
          assert.equal(connection.socket.alpnProtocol, "tds/8.0");
        } else {
          // The method's absence is what is asserted, not a call of it.
          // eslint-disable-next-line @typescript-eslint/unbound-method
          assert.equal(connection.socket.getProtocol, undefined, "TDS 7.4 keeps a plain TCP socket under its TLS-in-PRELOGIN layer");
        }
      } finally {
        await p.close();
      }
    }
  });

  it("a strict client that does not trust the certificate is refused before any TDS is spoken", async () => {
    const p = new sql.ConnectionPool({ server: emu.tds!.host, port: emu.tds!.port, user: "dba", password: "test-only-Pa55", options: { encrypt: "strict" as unknown as boolean, serverName: fqdn } });
    await assert.rejects(p.connect(), /certificate/i);
  });

  it("serves concurrent sessions of a pool, each with its own session id", async () => {
    const p = pool(8);
    await p.connect();
    try {
      const spids = await Promise.all(Array.from({ length: 20 }, () => p.request().query<{ spid: number }>("SELECT @@SPID AS spid").then((r) => r.recordset[0]!.spid)));
      assert.equal(spids.length, 20);
      assert.ok(new Set(spids).size > 1, "more than one session served at once");
    } finally {
      await p.close();
    }
  });

  it("typed parameters round-trip through sp_executesql", async () => {
    const p = pool(1);
    await p.connect();
    try {
      const r = await p.request().input("name", sql.NVarChar(50), "Überwachung ' ]").input("n", sql.Int, 42).input("flag", sql.Bit, true).query("SELECT @name AS name, @n AS n, @flag AS flag");
      assert.deepEqual(r.recordset[0], { name: "Überwachung ' ]", n: 42, flag: true });
    } finally {
      await p.close();
    }
  });

  it("datetime, datetime2, uniqueidentifier and NULL columns decode as the engine meant them", async () => {
    const p = pool(1);
    await p.connect();
    try {
      const before = Date.now();
      await p.request().batch("CREATE SERVER AUDIT [typed] TO EXTERNAL_MONITOR WITH (AUDIT_GUID = '6F9619FF-8B86-D011-B42D-00C04FC964FF');");
      await p.request().batch("ALTER SERVER AUDIT [typed] WITH (STATE = ON);");
      const r = await p.request().query<{ audit_guid: string; create_date: Date; predicate: string | null; status_time: Date }>(
        "SELECT a.audit_guid, a.create_date, a.predicate, s.status_time FROM sys.server_audits AS a JOIN sys.dm_server_audit_status AS s ON s.audit_id = a.audit_id WHERE a.name = 'typed'",
      );
      const row = r.recordset[0]!;
      assert.equal(row.audit_guid, "6F9619FF-8B86-D011-B42D-00C04FC964FF");
      assert.equal(row.predicate, null);
      for (const d of [row.create_date, row.status_time]) {
        assert.ok(d instanceof Date);
        assert.ok(Math.abs(d.getTime() - before) < 60_000, `${d.toISOString()} is about now`);
      }
    } finally {
      await p.close();
    }
  });

  it("a rolled-back transaction leaves no audit behind; a committed one does", async () => {
    const p = pool(1);
    await p.connect();
    try {
      const rolledBack = new sql.Transaction(p);
      await rolledBack.begin();
      await new sql.Request(rolledBack).batch("CREATE SERVER AUDIT [in_tx] TO EXTERNAL_MONITOR;");
      await rolledBack.rollback();
      const committed = new sql.Transaction(p);
      await committed.begin();
      await new sql.Request(committed).batch("CREATE SERVER AUDIT [kept] TO EXTERNAL_MONITOR;");
      await committed.commit();
      const names = (await p.request().query<{ name: string }>("SELECT name FROM sys.server_audits WHERE name IN ('in_tx', 'kept') ORDER BY name")).recordset.map((r) => r.name);
      assert.deepEqual(names, ["kept"]);
    } finally {
      await p.close();
    }
  });

  it("cancelling a waiting request sends ATTENTION; the connection stays usable", async () => {
    const holder = pool(1);
    const waiter = pool(1);
    await Promise.all([holder.connect(), waiter.connect()]);
    try {
      await holder.request().query("DECLARE @r int; EXEC @r = sp_getapplock @Resource = N'x', @LockMode = 'Exclusive', @LockOwner = 'Session'; SELECT @r AS r");
      const request = waiter.request();
      const waiting = request.query("DECLARE @r int; EXEC @r = sp_getapplock @Resource = N'x', @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = 60000; SELECT @r AS r");
      setTimeout(() => request.cancel(), 100);
      await assert.rejects(waiting, /cancel/i);
      assert.equal((await waiter.request().query("SELECT 1 AS one")).recordset[0]?.one, 1);
    } finally {
      await Promise.all([holder.close(), waiter.close()]);
    }
  });

  it("malformed bytes close that connection only", async () => {
    await new Promise<void>((resolve) => {
      const socket = connect(emu.tds!.port, emu.tds!.host, () => socket.write(Buffer.from([0x12, 0x01, 0x00, 0x02, 0xff, 0xff, 0xff, 0xff])));
      socket.on("close", () => resolve());
      socket.on("error", () => undefined);
    });
    const p = pool(1);
    await p.connect();
    assert.equal((await p.request().query("SELECT 1 AS one")).recordset[0]?.one, 1);
    await p.close();
  });

  it("an unknown server name is refused at login", async () => {
    const p = new sql.ConnectionPool({ server: emu.tds!.host, port: emu.tds!.port, user: "dba", password: "x", options: { encrypt: true, serverName: "nobody.0a1b2c3d4e5f.database.windows.net", cryptoCredentialsDetails: { ca: [emu.caPem] } } });
    await assert.rejects(p.connect(), /Cannot open server/);
  });
});
