import type { SqlValue } from "../sql/contracts.js";

/**
 * Client requests (reference §1.9): ALL_HEADERS with the transaction descriptor, SQL_BATCH text, RPC calls
 * (sp_executesql by id, or a procedure by name) with typed parameters, TRANSACTION_MANAGER requests.
 */
export class RequestError extends Error {}

export function skipAllHeaders(payload: Buffer): { descriptor: Buffer; rest: Buffer } {
  if (payload.length < 4) throw new RequestError("truncated ALL_HEADERS");
  const total = payload.readUInt32LE(0);
  if (total < 4 || total > payload.length) throw new RequestError("ALL_HEADERS length outside the payload");
  let descriptor = Buffer.alloc(8);
  let i = 4;
  while (i + 6 <= total) {
    const length = payload.readUInt32LE(i);
    const type = payload.readUInt16LE(i + 4);
    if (length < 6 || i + length > total) throw new RequestError("bad ALL_HEADERS entry");
    if (type === 0x0002) descriptor = Buffer.from(payload.subarray(i + 6, i + 14));
    i += length;
  }
  return { descriptor, rest: payload.subarray(total) };
}

/** The request after its ALL_HEADERS, which TDS 7.2+ requests carry and 7.1 requests do not (2.2.5.3). */
function body(payload: Buffer, hasAllHeaders: boolean): Buffer {
  return hasAllHeaders ? skipAllHeaders(payload).rest : payload;
}

export function parseSqlBatch(payload: Buffer, hasAllHeaders = true): string {
  return body(payload, hasAllHeaders).toString("utf16le");
}

export interface RpcCall {
  procId?: number;
  procName?: string;
  params: Array<{ name: string; output: boolean; value: SqlValue }>;
}

class Cursor {
  i = 0;
  constructor(readonly b: Buffer) {}
  need(n: number) {
    if (this.i + n > this.b.length) throw new RequestError("RPC payload ends early");
  }
  u8() {
    this.need(1);
    return this.b[this.i++]!;
  }
  u16() {
    this.need(2);
    const v = this.b.readUInt16LE(this.i);
    this.i += 2;
    return v;
  }
  u32() {
    this.need(4);
    const v = this.b.readUInt32LE(this.i);
    this.i += 4;
    return v;
  }
  bytes(n: number) {
    this.need(n);
    const v = this.b.subarray(this.i, this.i + n);
    this.i += n;
    return v;
  }
}

function readPlp(c: Cursor): Buffer | null {
  c.need(8);
  const low = c.b.readUInt32LE(c.i);
  const high = c.b.readUInt32LE(c.i + 4);
  c.i += 8;
  if (low === 0xffffffff && high === 0xffffffff) return null;
  const chunks: Buffer[] = [];
  for (;;) {
    const length = c.u32();
    if (length === 0) break;
    chunks.push(c.bytes(length));
  }
  return Buffer.concat(chunks);
}

const DAY_MS = 86_400_000;

function readValue(c: Cursor): SqlValue {
  const type = c.u8();
  switch (type) {
    case 0xe7: // NVARCHAR
    case 0xa7: // VARCHAR
    case 0xef: // NCHAR
    case 0xaf: { // CHAR
      const max = c.u16();
      c.bytes(5); // collation
      const encoding = type === 0xe7 || type === 0xef ? "utf16le" : "latin1";
      if (max === 0xffff) {
        const data = readPlp(c);
        return data === null ? null : data.toString(encoding);
      }
      const length = c.u16();
      return length === 0xffff ? null : c.bytes(length).toString(encoding);
    }
    case 0xa5: // VARBINARY
    case 0xad: { // BINARY
      const max = c.u16();
      if (max === 0xffff) return readPlp(c);
      const length = c.u16();
      return length === 0xffff ? null : Buffer.from(c.bytes(length));
    }
    case 0x26: { // INTN
      c.u8();
      const length = c.u8();
      if (length === 0) return null;
      const data = c.bytes(length);
      if (length === 1) return data.readUInt8(0);
      if (length === 2) return data.readInt16LE(0);
      if (length === 4) return data.readInt32LE(0);
      const big = data.readBigInt64LE(0);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
    }
    case 0x68: { // BITN
      c.u8();
      const length = c.u8();
      return length === 0 ? null : c.u8() !== 0;
    }
    case 0x6d: { // FLTN
      c.u8();
      const length = c.u8();
      if (length === 0) return null;
      const data = c.bytes(length);
      return length === 4 ? data.readFloatLE(0) : data.readDoubleLE(0);
    }
    case 0x24: { // GUID
      c.u8();
      const length = c.u8();
      if (length === 0) return null;
      const b = c.bytes(16);
      const hex = Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]).toString("hex").toUpperCase();
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
    case 0x6f: { // DATETIMN
      c.u8();
      const length = c.u8();
      if (length === 0) return null;
      const days = c.b.readInt32LE(c.i);
      const ticks = c.b.readUInt32LE(c.i + 4);
      c.i += 8;
      return new Date(Date.UTC(1900, 0, 1) + days * DAY_MS + Math.round((ticks * 1000) / 300));
    }
    case 0x2a: { // DATETIME2N
      const scale = c.u8();
      const length = c.u8();
      if (length === 0) return null;
      const data = c.bytes(length);
      const timeLength = length - 3;
      let units = 0n;
      for (let i = timeLength - 1; i >= 0; i--) units = (units << 8n) | BigInt(data[i]!);
      const days = data.readUIntLE(timeLength, 3);
      const base = new Date(0);
      base.setUTCFullYear(1, 0, 1);
      base.setUTCHours(0, 0, 0, 0);
      const ms = Number((units * 1000n) / 10n ** BigInt(scale));
      return new Date(base.getTime() + days * DAY_MS + ms);
    }
    default:
      throw new RequestError(`parameter type 0x${type.toString(16)} is not supported by this emulator`);
  }
}

export function parseRpc(payload: Buffer, hasAllHeaders = true): RpcCall {
  const c = new Cursor(body(payload, hasAllHeaders));
  const call: RpcCall = { params: [] };
  const nameLength = c.u16();
  if (nameLength === 0xffff) call.procId = c.u16();
  else call.procName = c.bytes(nameLength * 2).toString("utf16le");
  c.u16(); // option flags
  while (c.i < c.b.length) {
    const nameChars = c.u8();
    const name = c.bytes(nameChars * 2).toString("utf16le");
    const status = c.u8();
    call.params.push({ name, output: (status & 0x01) === 1, value: readValue(c) });
  }
  return call;
}

export type TransactionRequest = { kind: "begin" } | { kind: "commit" } | { kind: "rollback" };

export function parseTransactionManager(payload: Buffer, hasAllHeaders = true): TransactionRequest {
  const c = new Cursor(body(payload, hasAllHeaders));
  const type = c.u16();
  if (type === 5) return { kind: "begin" };
  if (type === 7) return { kind: "commit" };
  if (type === 8) return { kind: "rollback" };
  throw new RequestError(`transaction manager request ${type} is not supported`);
}
