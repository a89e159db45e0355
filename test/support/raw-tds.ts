import { connect as netConnect } from "node:net";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import { connect as tlsConnect } from "node:tls";
import type { TLSSocket } from "node:tls";

/**
 * A deliberately small TDS client written from MS-TDS for protocol tests that need control over bytes and their
 * split into TCP writes (no real client lets a test choose where a packet is cut). Message layouts: 2.2.6.5
 * PRELOGIN, 2.2.6.4 LOGIN7, 2.2.6.7 SQLBatch, 2.2.5.3 ALL_HEADERS, 2.2.3.1.1 packet header.
 */
export const TDS_7_1 = 0x71000001;
export const TDS_7_2 = 0x72090002;
export const TDS_7_3A = 0x730a0003;
export const TDS_7_3B = 0x730b0003;
export const TDS_7_4 = 0x74000004;

export function packet(type: number, payload: Buffer, status = 0x01): Buffer {
  const header = Buffer.alloc(8);
  header[0] = type;
  header[1] = status;
  header.writeUInt16BE(payload.length + 8, 2);
  header[6] = 1;
  return Buffer.concat([header, payload]);
}

/** A client PRELOGIN: VERSION, ENCRYPTION, INSTOPT, THREADID, MARS, terminator. */
export function preloginPayload(encryption = 0x01): Buffer {
  const options: Array<[number, Buffer]> = [
    [0x00, Buffer.from([0x0f, 0x00, 0x07, 0xd0, 0x00, 0x00])],
    [0x01, Buffer.from([encryption])],
    [0x02, Buffer.from([0x00])],
    [0x03, Buffer.alloc(4)],
    [0x04, Buffer.from([0x00])],
  ];
  const table = Buffer.alloc(options.length * 5 + 1);
  let offset = table.length;
  options.forEach(([token, data], i) => {
    table[i * 5] = token;
    table.writeUInt16BE(offset, i * 5 + 1);
    table.writeUInt16BE(data.length, i * 5 + 3);
    offset += data.length;
  });
  table[table.length - 1] = 0xff;
  return Buffer.concat([table, ...options.map(([, d]) => d)]);
}

/** LOGIN7 for a SQL login: fixed 94-byte part, then the UCS-2 strings it points at; the password scrambled. */
export function login7Payload(o: { user: string; password: string; server: string; database?: string; tdsVersion?: number }): Buffer {
  const strings: Array<[number, string]> = [
    [36, "raw-host"],
    [40, o.user],
    [44, o.password],
    [48, "raw-tds-test"],
    [52, o.server],
    [60, "raw-tds"],
    [64, ""],
    [68, o.database ?? "master"],
  ];
  const fixed = Buffer.alloc(94);
  const data: Buffer[] = [];
  let offset = 94;
  for (const [at, text] of strings) {
    let bytes = Buffer.from(text, "utf16le");
    if (at === 44) bytes = Buffer.from(bytes.map((b) => (((b << 4) & 0xf0) | (b >> 4)) ^ 0xa5));
    fixed.writeUInt16LE(offset, at);
    fixed.writeUInt16LE(text.length, at + 2);
    data.push(bytes);
    offset += bytes.length;
  }
  fixed.writeUInt32LE(offset, 0);
  fixed.writeUInt32LE(o.tdsVersion ?? TDS_7_4, 4);
  fixed.writeUInt32LE(4096, 8);
  fixed[24] = 0xe0;
  fixed.writeUInt32LE(0x0409, 32);
  return Buffer.concat([fixed, ...data]);
}

/** SQLBatch: ALL_HEADERS (transaction descriptor 0, one outstanding request) from TDS 7.2 on, then UCS-2 text. */
export function sqlBatchPayload(sql: string, tdsVersion = TDS_7_4): Buffer {
  const text = Buffer.from(sql, "utf16le");
  if (tdsVersion < TDS_7_2) return text;
  const headers = Buffer.alloc(22);
  headers.writeUInt32LE(22, 0);
  headers.writeUInt32LE(18, 4);
  headers.writeUInt16LE(2, 8);
  headers.writeUInt32LE(1, 18);
  return Buffer.concat([headers, text]);
}

/** Reads TDS messages (joined by EOM) from a stream of bytes. */
class Inbox {
  private buffer = Buffer.alloc(0);
  private parts: Buffer[] = [];
  private readonly messages: Buffer[] = [];
  private waiter: (() => void) | undefined;
  closed = false;

  push(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 8 && this.buffer.length >= this.buffer.readUInt16BE(2)) {
      const length = this.buffer.readUInt16BE(2);
      this.parts.push(this.buffer.subarray(8, length));
      const eom = (this.buffer[1]! & 0x01) === 1;
      this.buffer = this.buffer.subarray(length);
      if (eom) {
        this.messages.push(Buffer.concat(this.parts));
        this.parts = [];
      }
    }
    this.waiter?.();
  }

  close(): void {
    this.closed = true;
    this.waiter?.();
  }

  async next(): Promise<Buffer> {
    while (!this.messages.length) {
      if (this.closed) throw new Error("connection closed");
      await new Promise<void>((resolve) => (this.waiter = resolve));
      this.waiter = undefined;
    }
    return this.messages.shift()!;
  }
}

/**
 * Writes `bytes` as two TCP writes cut at `at` (none when at is 0 or past the end). Between them the event loop passes
 * through a poll phase (two setImmediate turns), so a server in this process reads the first part before the second
 * is written: the cut reaches the server as two chunks without waiting on a clock.
 */
async function writeSplit(w: { write(b: Buffer): unknown }, bytes: Buffer, at?: number): Promise<void> {
  if (at === undefined || at <= 0 || at >= bytes.length) {
    w.write(bytes);
    return;
  }
  w.write(bytes.subarray(0, at));
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  w.write(bytes.subarray(at));
}

export interface RawSession {
  socket: Socket;
  tls: TLSSocket;
  /** The LOGINACK's TDS version (2.2.7.14: big-endian). */
  ackedVersion: number;
  /** Sends a SQL batch and returns the reply's token bytes. */
  batch(sql: string): Promise<Buffer>;
  /** Writes raw bytes inside TLS (e.g. a message cut into several packets) and returns the next reply message. */
  send(bytes: Buffer): Promise<Buffer>;
  close(): void;
}

export interface RawLoginOptions {
  host: string;
  port: number;
  servername: string;
  ca: string;
  user: string;
  password: string;
  tdsVersion?: number;
  /** Where to cut the clear-text PRELOGIN packet, the first TLS-carrying PRELOGIN packet, and the LOGIN7 packet. */
  split?: { prelogin?: number; clientHello?: number; login7?: number };
}

/** TDS 7.x login with TLS inside PRELOGIN (2.2.6.5), the way tedious, FreeTDS, pytds and jTDS do it. */
export async function rawLogin(o: RawLoginOptions): Promise<RawSession> {
  const socket = netConnect(o.port, o.host);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const inbox = new Inbox();
  let raw = false;
  // eslint-disable-next-line prefer-const -- assigned after the listeners that use it
  let tlsIn: Duplex | undefined;
  socket.on("data", (chunk: Buffer) => (raw ? tlsIn!.push(chunk) : inbox.push(chunk)));
  socket.on("close", () => inbox.close());
  socket.on("error", () => inbox.close());
  await writeSplit(socket, packet(0x12, preloginPayload()), o.split?.prelogin);
  await inbox.next();

  let wrapped = 0;
  const pendingWrites: Promise<void>[] = [];
  tlsIn = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      if (raw) socket.write(chunk);
      else pendingWrites.push(writeSplit(socket, packet(0x12, chunk), wrapped++ === 0 ? o.split?.clientHello : undefined));
      callback();
    },
  });
  const tls = tlsConnect({ socket: tlsIn, servername: o.servername, ca: [o.ca], maxVersion: "TLSv1.2" });
  const secure = new Promise<void>((resolve, reject) => tls.once("secureConnect", resolve).once("error", reject));
  // During the handshake every server reply is one PRELOGIN message whose payload is TLS bytes.
  const pump = (async () => {
    while (!raw) {
      const m = await inbox.next().catch(() => undefined);
      if (!m) return;
      tlsIn.push(m);
    }
  })();
  await secure;
  await Promise.all(pendingWrites);
  raw = true;
  void pump;
  const replies = new Inbox();
  tls.on("data", (chunk: Buffer) => replies.push(chunk));
  tls.on("close", () => replies.close());
  tls.on("error", () => replies.close());
  const version = o.tdsVersion ?? TDS_7_4;
  await writeSplit(tls, packet(0x10, login7Payload({ user: o.user, password: o.password, server: o.servername, tdsVersion: version })), o.split?.login7);
  const ack = await replies.next();
  const at = loginAckOffset(ack);
  if (at === undefined) throw new Error(`login refused: ${ack.toString("utf16le")}`);
  const ackedVersion = ack.readUInt32BE(at + 4);
  return {
    socket,
    tls,
    ackedVersion,
    async batch(sql: string) {
      tls.write(packet(0x01, sqlBatchPayload(sql, ackedVersion)));
      return replies.next();
    },
    async send(bytes: Buffer) {
      tls.write(bytes);
      return replies.next();
    },
    close: () => {
      tls.destroy();
      socket.destroy();
    },
  };
}

/** Walks the login reply's length-prefixed tokens (ENVCHANGE, INFO, ERROR: 2.2.7) to the LOGINACK (0xAD). */
function loginAckOffset(tokens: Buffer): number | undefined {
  let i = 0;
  while (i + 3 <= tokens.length) {
    const type = tokens[i]!;
    if (type === 0xad) return i;
    if (type !== 0xe3 && type !== 0xab && type !== 0xaa) return undefined;
    i += 3 + tokens.readUInt16LE(i + 1);
  }
  return undefined;
}

/** Resolves when the server closes `socket`. */
export function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.once("close", () => resolve());
    // Unread data would hold back the end of the stream, and with it 'close'.
    if (socket.listenerCount("data") === 0) socket.resume();
    socket.on("error", () => undefined);
  });
}
