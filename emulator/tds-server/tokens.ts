import type { ColumnDef, SqlMessage, SqlType, SqlValue } from "../sql/contracts.js";

/**
 * Server tokens as tedious 19 parses them (reference/tds-and-mi.md §1.5–1.8). Little-endian unless noted.
 */
export const COLLATION = Buffer.from([0x09, 0x04, 0xd0, 0x00, 0x34]); // SQL_Latin1_General_CP1_CI_AS
export const DONE_MORE = 0x0001;
export const DONE_ERROR = 0x0002;
export const DONE_INXACT = 0x0004;
export const DONE_COUNT = 0x0010;
export const DONE_ATTN = 0x0020;
export const CMD_SELECT = 0xc1;
export const CMD_EXECUTE = 0xe0;

const u8 = (n: number) => Buffer.from([n & 0xff]);
const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
};
const u64 = (n: number | bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const ucs2 = (s: string) => Buffer.from(s, "utf16le");
export const bVarchar = (s: string) => Buffer.concat([u8(s.length), ucs2(s)]);
const usVarchar = (s: string) => Buffer.concat([u16(s.length), ucs2(s)]);
const bVarbyte = (b: Buffer) => Buffer.concat([u8(b.length), b]);

function withLength(type: number, body: Buffer): Buffer {
  return Buffer.concat([u8(type), u16(body.length), body]);
}

export function envChangeString(kind: 1 | 2 | 4, value: string, old: string): Buffer {
  return withLength(0xe3, Buffer.concat([u8(kind), bVarchar(value), bVarchar(old)]));
}

export function envChangeBytes(kind: 7 | 8 | 9 | 10, value: Buffer, old: Buffer): Buffer {
  return withLength(0xe3, Buffer.concat([u8(kind), bVarbyte(value), bVarbyte(old)]));
}

export function message(m: SqlMessage, serverName: string): Buffer {
  const body = Buffer.concat([i32(m.number), u8(m.state), u8(m.class), usVarchar(m.message), bVarchar(serverName.slice(0, 255)), bVarchar(m.procName ?? ""), i32(m.lineNumber)]);
  return withLength(m.class > 10 ? 0xaa : 0xab, body);
}

export function loginAck(): Buffer {
  const body = Buffer.concat([u8(0x01), Buffer.from([0x74, 0x00, 0x00, 0x04]), bVarchar("Microsoft SQL Server"), Buffer.from([0x0c, 0x00, 0x07, 0xd0])]);
  return withLength(0xad, body);
}

export function featureExtAck(features: Array<[number, Buffer]>): Buffer {
  return Buffer.concat([u8(0xae), ...features.flatMap(([id, data]) => [u8(id), u32(data.length), data]), u8(0xff)]);
}

export function fedAuthInfo(stsUrl: string, spn: string): Buffer {
  const sts = ucs2(stsUrl);
  const spnBytes = ucs2(spn);
  // Offsets count from the CountOfInfoIDs field: 4 bytes of count plus 9 bytes per option come first.
  const dataStart = 4 + 2 * 9;
  const body = Buffer.concat([
    u32(2),
    u8(0x01), u32(sts.length), u32(dataStart),
    u8(0x02), u32(spnBytes.length), u32(dataStart + sts.length),
    sts,
    spnBytes,
  ]);
  return Buffer.concat([u8(0xee), u32(body.length), body]);
}

export function done(kind: 0xfd | 0xfe | 0xff, status: number, curCmd: number, rowCount: number): Buffer {
  return Buffer.concat([u8(kind), u16(status), u16(curCmd), u64(rowCount)]);
}

export function returnStatus(value: number): Buffer {
  return Buffer.concat([u8(0x79), i32(value)]);
}

// ---- result sets ----

function typeInfo(type: SqlType): Buffer {
  switch (type.kind) {
    case "int":
      return Buffer.from([0x26, 4]);
    case "bigint":
      return Buffer.from([0x26, 8]);
    case "smallint":
      return Buffer.from([0x26, 2]);
    case "tinyint":
      return Buffer.from([0x26, 1]);
    case "bit":
      return Buffer.from([0x68, 1]);
    case "float":
      return Buffer.from([0x6d, 8]);
    case "nvarchar":
      return Buffer.concat([u8(0xe7), u16(type.length === "max" ? 0xffff : Math.min(type.length * 2, 8000)), COLLATION]);
    case "varchar":
      return Buffer.concat([u8(0xa7), u16(Math.min(type.length, 8000)), COLLATION]);
    case "char":
      return Buffer.concat([u8(0xaf), u16(Math.min(type.length, 8000)), COLLATION]);
    case "datetime":
      return Buffer.from([0x6f, 8]);
    case "datetime2":
      return Buffer.from([0x2a, type.scale]);
    case "uniqueidentifier":
      return Buffer.from([0x24, 16]);
    case "varbinary":
      return Buffer.concat([u8(0xa5), u16(type.length === "max" ? 0xffff : Math.min(type.length, 8000))]);
  }
}

export function colMetadata(columns: readonly ColumnDef[]): Buffer {
  const parts: Buffer[] = [u8(0x81), u16(columns.length)];
  for (const c of columns) parts.push(u32(0), u16(c.nullable === false ? 0x0000 : 0x0001), typeInfo(c.type), bVarchar(c.name));
  return Buffer.concat(parts);
}

const DAY_MS = 86_400_000;
const EPOCH_1900 = Date.UTC(1900, 0, 1);
// Date.UTC maps years 0-99 to 1900-1999, so year 1 is set explicitly.
const EPOCH_0001 = (() => {
  const d = new Date(0);
  d.setUTCFullYear(1, 0, 1);
  return d.getTime();
})();

function guidBytes(text: string): Buffer {
  const hex = text.replace(/[{}-]/g, "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`not a GUID: ${text}`);
  const b = Buffer.from(hex, "hex");
  return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]);
}

function plp(data: Buffer): Buffer {
  return Buffer.concat([u64(data.length), ...(data.length ? [u32(data.length), data] : []), u32(0)]);
}

function textOf(value: SqlValue): string {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("hex");
  return String(value);
}

export function encodeValue(type: SqlType, value: SqlValue): Buffer {
  const isNull = value === null || value === undefined;
  switch (type.kind) {
    case "int":
    case "bigint":
    case "smallint":
    case "tinyint": {
      const size = { int: 4, bigint: 8, smallint: 2, tinyint: 1 }[type.kind];
      if (isNull) return u8(0);
      const b = Buffer.alloc(size);
      const n = typeof value === "boolean" ? Number(value) : value;
      if (size === 8) b.writeBigInt64LE(BigInt(n as number | bigint));
      else if (size === 4) b.writeInt32LE(Number(n));
      else if (size === 2) b.writeInt16LE(Number(n));
      else b.writeUInt8(Number(n));
      return Buffer.concat([u8(size), b]);
    }
    case "bit":
      return isNull ? u8(0) : Buffer.from([1, value ? 1 : 0]);
    case "float": {
      if (isNull) return u8(0);
      const b = Buffer.alloc(8);
      b.writeDoubleLE(Number(value));
      return Buffer.concat([u8(8), b]);
    }
    case "nvarchar": {
      if (type.length === "max") return isNull ? Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) : plp(ucs2(textOf(value)));
      if (isNull) return u16(0xffff);
      const data = ucs2(textOf(value));
      return Buffer.concat([u16(data.length), data]);
    }
    case "varchar":
    case "char": {
      if (isNull) return u16(0xffff);
      const data = Buffer.from(textOf(value), "latin1");
      return Buffer.concat([u16(data.length), data]);
    }
    case "datetime": {
      if (isNull) return u8(0);
      const d = value instanceof Date ? value : new Date(String(value));
      const days = Math.floor((d.getTime() - EPOCH_1900) / DAY_MS);
      const msOfDay = d.getTime() - EPOCH_1900 - days * DAY_MS;
      return Buffer.concat([u8(8), i32(days), u32(Math.round((msOfDay * 300) / 1000))]);
    }
    case "datetime2": {
      if (isNull) return u8(0);
      const d = value instanceof Date ? value : new Date(String(value));
      const scale = type.scale;
      const timeBytes = scale <= 2 ? 3 : scale <= 4 ? 4 : 5;
      const days = Math.floor((d.getTime() - EPOCH_0001) / DAY_MS);
      const msOfDay = d.getTime() - EPOCH_0001 - days * DAY_MS;
      // Time is counted in units of 10^-scale seconds since midnight.
      const time = Buffer.alloc(8);
      time.writeBigUInt64LE((BigInt(msOfDay) * 10n ** BigInt(scale)) / 1000n);
      const date = Buffer.alloc(4);
      date.writeUInt32LE(days);
      return Buffer.concat([u8(timeBytes + 3), time.subarray(0, timeBytes), date.subarray(0, 3)]);
    }
    case "uniqueidentifier":
      return isNull ? u8(0) : Buffer.concat([u8(16), guidBytes(String(value))]);
    case "varbinary": {
      const data = isNull ? undefined : Buffer.from(value as Uint8Array);
      if (type.length === "max") return data ? plp(data) : Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
      return data ? Buffer.concat([u16(data.length), data]) : u16(0xffff);
    }
  }
}

export function row(columns: readonly ColumnDef[], values: readonly SqlValue[]): Buffer {
  return Buffer.concat([u8(0xd1), ...columns.map((c, i) => encodeValue(c.type, values[i] ?? null))]);
}
