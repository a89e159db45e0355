import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import sql from "mssql";
import { ManagedInstanceEngine } from "../../emulator/mi/engine.js";
import { startTdsServer } from "../../emulator/tds-server/server.js";
import type { RunningTds } from "../../emulator/tds-server/server.js";
import { createCertificateAuthority, issueServerCertificate } from "../../emulator/tls/certificates.js";
import type { CertificateAuthority } from "../../emulator/tls/certificates.js";
import { TokenAuthority } from "../../emulator/identity/tokens.js";
import { closed, packet, preloginPayload, rawLogin, sqlBatchPayload, TDS_7_1, TDS_7_2, TDS_7_3A, TDS_7_3B, TDS_7_4 } from "../support/raw-tds.js";

// The TDS endpoint's framing against MS-TDS, byte by byte: where TCP cuts the stream must not matter (2.2.3 packets
// are reassembled from the stream, messages from packets by EOM), the TDS version follows the client (2.2.7.14
// LOGINACK), ALL_HEADERS only from 7.2 (2.2.5.3), and a connection that is not a TDS client is closed, never
// answered, without disturbing the others.
const fqdn = "mi-frame.0a1b2c3d4e5f.database.windows.net";
const user = { name: "dba", password: "test-only-Pa55", permissions: ["sysadmin" as const] };
let ca: CertificateAuthority;
let tds: RunningTds;
let impatient: RunningTds;

async function server(preLoginTimeoutMs?: number): Promise<RunningTds> {
  const engine = new ManagedInstanceEngine({ serverName: fqdn, state: { logins: [user] } });
  const cert = issueServerCertificate(ca, { commonName: "*.database.windows.net", dnsNames: ["*.database.windows.net", "*.0a1b2c3d4e5f.database.windows.net"] });
  return startTdsServer({
    resolveEngine: (name) => (name === fqdn ? engine : undefined),
    tls: { keyPem: cert.keyPem, certPem: cert.certPem },
    tokenAuthority: new TokenAuthority(),
    ...(preLoginTimeoutMs !== undefined ? { preLoginTimeoutMs } : {}),
  });
}

before(async () => {
  ca = createCertificateAuthority();
  tds = await server();
  impatient = await server(150);
});
after(async () => {
  await tds?.close();
  await impatient?.close();
});

const login = (over: Partial<Parameters<typeof rawLogin>[0]> = {}) =>
  rawLogin({ host: tds.host, port: tds.port, servername: fqdn, ca: ca.certPem, user: user.name, password: user.password, ...over });

/** The last token of a reply: DONE is 0xFD + status, curcmd and a row count of 4 bytes before TDS 7.2, 8 after (2.2.7.6). */
function lastDone(reply: Buffer, version: number): { status: number; rowCount: number } {
  const size = version >= TDS_7_2 ? 13 : 9;
  const done = reply.subarray(reply.length - size);
  assert.equal(done[0], 0xfd, `the reply ends with a ${size}-byte DONE`);
  return { status: done.readUInt16LE(1), rowCount: version >= TDS_7_2 ? Number(done.readBigUInt64LE(5)) : done.readUInt32LE(5) };
}

/** Opens a raw socket, writes `bytes`, and resolves once the server has closed it. */
async function closedAfter(target: RunningTds, ...writes: Buffer[]): Promise<void> {
  const socket = connect(target.port, target.host);
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  for (const w of writes) socket.write(w);
  await closed(socket);
}

describe("TDS framing", () => {
  it("LOGINACK acknowledges the TDS version the client asked for in LOGIN7, and the session's tokens follow it", async () => {
    for (const version of [TDS_7_1, TDS_7_2, TDS_7_3A, TDS_7_3B, TDS_7_4]) {
      const s = await login({ tdsVersion: version });
      try {
        assert.equal(s.ackedVersion.toString(16), version.toString(16));
        // A 7.1 batch has no ALL_HEADERS (2.2.5.3); raw-tds sends none then, so the batch must still run.
        const done = lastDone(await s.batch("SELECT 1 AS one"), version);
        assert.equal(done.rowCount, 1);
        assert.equal(done.status & 0x02, 0, "no error");
      } finally {
        s.close();
      }
    }
  });

  it("a request message spread over several packets runs once its EOM packet arrives", async () => {
    const s = await login();
    try {
      const payload = sqlBatchPayload("SELECT 1 AS a; SELECT 2 AS b; SELECT 3 AS c");
      const thirds = [payload.subarray(0, 20), payload.subarray(20, 50), payload.subarray(50)];
      const reply = await s.send(Buffer.concat(thirds.map((p, i) => packet(0x01, p, i === 2 ? 0x01 : 0x00))));
      assert.equal(lastDone(reply, TDS_7_4).rowCount, 1);
      assert.equal(reply.filter((b) => b === 0x81).length >= 3, true, "three result sets");
    } finally {
      s.close();
    }
  });

  it("a PRELOGIN, the TLS ClientHello inside PRELOGIN, and a LOGIN7 cut at every byte offset into two TCP writes all log in, while another client keeps being served", async () => {
    const p = new sql.ConnectionPool({ server: tds.host, port: tds.port, user: user.name, password: user.password, pool: { max: 1 }, options: { encrypt: true, serverName: fqdn, cryptoCredentialsDetails: { ca: [ca.certPem] } } });
    await p.connect();
    let served = 0;
    let stop = false;
    const other = (async () => {
      while (!stop) {
        assert.equal((await p.request().query<{ one: number }>("SELECT 1 AS one")).recordset[0]!.one, 1);
        served++;
      }
    })();
    try {
      const preloginLength = packet(0x12, preloginPayload()).length;
      const login7Length = 8 + 94 + 2 * ("raw-host" + user.name + user.password + "raw-tds-test" + fqdn + "raw-tds" + "master").length;
      // Node's ClientHello for TLS 1.2 is a few hundred bytes; cutting past its end writes it whole, which is fine.
      const cuts: Array<{ prelogin?: number; clientHello?: number; login7?: number }> = [
        ...Array.from({ length: preloginLength - 1 }, (_, i) => ({ prelogin: i + 1 })),
        ...Array.from({ length: 400 }, (_, i) => ({ clientHello: i + 1 })),
        ...Array.from({ length: login7Length - 1 }, (_, i) => ({ login7: i + 1 })),
      ];
      let logins = 0;
      const servedBefore = served;
      for (let i = 0; i < cuts.length; i += 8) {
        await Promise.all(
          cuts.slice(i, i + 8).map(async (split) => {
            const s = await login({ split });
            try {
              assert.equal(lastDone(await s.batch("SELECT 1 AS one"), TDS_7_4).rowCount, 1, JSON.stringify(split));
              logins++;
            } finally {
              s.close();
            }
          }),
        );
      }
      assert.equal(logins, cuts.length);
      assert.ok(served > servedBefore, "the pooled client was served during the split logins");
    } finally {
      stop = true;
      await other;
      await p.close();
    }
  });

  it("a connection that sends nothing, or stops inside PRELOGIN or before LOGIN7, is closed by the pre-login timeout", { timeout: 20_000 }, async () => {
    const prelogin = packet(0x12, preloginPayload());
    await closedAfter(impatient);
    await closedAfter(impatient, prelogin.subarray(0, 5));
    await closedAfter(impatient, prelogin.subarray(0, 20));
    // A whole PRELOGIN answered, then nothing: no TLS handshake, no LOGIN7.
    await closedAfter(impatient, prelogin);
  });

  it("ATTENTION, an empty PRELOGIN or a garbage one before login closes the connection unanswered; the server goes on serving", { timeout: 20_000 }, async () => {
    for (const bytes of [packet(0x06, Buffer.alloc(0)), packet(0x12, Buffer.alloc(0)), packet(0x12, Buffer.from("not a prelogin at all")), packet(0x12, Buffer.alloc(94)), Buffer.from("GET / HTTP/1.1\r\n\r\n")]) {
      const socket = connect(tds.port, tds.host);
      const received: Buffer[] = [];
      socket.on("data", (d: Buffer) => received.push(d));
      await new Promise<void>((resolve) => socket.once("connect", resolve));
      socket.write(bytes);
      await closed(socket);
      assert.equal(Buffer.concat(received).length, 0, `no answer to ${bytes.subarray(0, 12).toString("hex")}`);
    }
    const s = await login();
    assert.equal(lastDone(await s.batch("SELECT 1 AS one"), TDS_7_4).rowCount, 1);
    s.close();
  });

  it("a client that cannot encrypt (ENCRYPT_NOT_SUP) is told encryption is required and disconnected (2.2.6.5)", { timeout: 20_000 }, async () => {
    const socket = connect(tds.port, tds.host);
    const received: Buffer[] = [];
    socket.on("data", (d: Buffer) => received.push(d));
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    socket.write(packet(0x12, preloginPayload(0x02)));
    await closed(socket);
    const reply = Buffer.concat(received).subarray(8);
    // Option table: find ENCRYPTION (token 0x01) and read its byte.
    let i = 0;
    while (reply[i] !== 0xff && reply[i] !== 0x01) i += 5;
    assert.equal(reply[i], 0x01);
    assert.equal(reply[reply.readUInt16BE(i + 1)], 0x03, "ENCRYPT_REQ");
  });
});
