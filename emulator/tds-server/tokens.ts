import type { ColumnDef, SqlMessage, SqlType, SqlValue } from "../sql/contracts.js";

/**
 * Server tokens as tedious 19 parses them ([MS-TDS] 2.2.7 Packet Data Token Stream Definition). Little-endian unless noted.
 */
export const COLLATION = Buffer.from([0x09, 0x04, 0xd0, 0x00, 0x34]); // SQL_Latin1_General_CP1_CI_AS
export const DONE_MORE = 0x0001;
export const DONE_ERROR = 0x0002;
export const DONE_INXACT = 0x0004;
export const DONE_COUNT = 0x0010;
export const DONE_ATTN = 0x0020;
export const CMD_SELECT = 0xc1;
export const CMD_EXECUTE = 0xe0;

/**
 * TDS versions as LOGIN7 and LOGINACK carry them ([MS-TDS] 2.2.6.4 LOGIN7 TDSVersion, 2.2.7.14 LOGINACK). The
 * server answers with the highest version it speaks that is not above the client's, and the session's tokens
 * follow that version: before 7.2 the DONE row count is 4 bytes (2.2.7.6), the INFO/ERROR line number 2 bytes
 * (2.2.7.10, 2.2.7.13) and the COLMETADATA user type 2 bytes (2.2.7.4), and there are no PLP (max) types
 * (2.2.5.2.3); before 7.3 there is no datetime2 (2.2.5.4.3), which SQL Server sends to such clients as nvarchar
 * ("datetime2 (Transact-SQL)", Backward compatibility for down-level clients).
 */
export const TDS_7_1 = 0x71000001;
export const TDS_7_2 = 0x72090002;
export const TDS_7_3A = 0x730a0003;
export const TDS_7_3B = 0x730b0003;
export const TDS_7_4 = 0x74000004;
const TDS_8 = 0x08000000;
const KNOWN_VERSIONS = [0x71000000, TDS_7_1, TDS_7_2, TDS_7_3A, TDS_7_3B, TDS_7_4];

/** The version to acknowledge for the one a client asks for; undefined below 7.1 (no collations: not served). */
export function negotiateVersion(client: number): number | undefined {
  // TDS 8 clients negotiate inside TLS and parse 7.4 tokens [unverified: which LOGIN7 value TDS 8 clients send].
  if (client === TDS_8 || client >= TDS_7_4) return TDS_7_4;
  return [...KNOWN_VERSIONS].reverse().find((v) => v <= client);
}

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

export function message(m: SqlMessage, serverName: string, version = TDS_7_4): Buffer {
  const line = version >= TDS_7_2 ? i32(m.lineNumber) : u16(Math.max(0, Math.min(m.lineNumber, 0xffff)));
  const body = Buffer.concat([i32(m.number), u8(m.state), u8(m.class), usVarchar(m.message), bVarchar(serverName.slice(0, 255)), bVarchar(m.procName ?? ""), line]);
  return withLength(m.class > 10 ? 0xaa : 0xab, body);
}

/** LOGINACK (2.2.7.14): the TDS version travels big-endian here, unlike LOGIN7's. */
export function loginAck(version = TDS_7_4): Buffer {
  const v = Buffer.alloc(4);
  v.writeUInt32BE(version);
  const body = Buffer.concat([u8(0x01), v, bVarchar("Microsoft SQL Server"), Buffer.from([0x0c, 0x00, 0x07, 0xd0])]);
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

export function done(kind: 0xfd | 0xfe | 0xff, status: number, curCmd: number, rowCount: number, version = TDS_7_4): Buffer {
  return Buffer.concat([u8(kind), u16(status), u16(curCmd), version >= TDS_7_2 ? u64(rowCount) : u32(Math.min(rowCount, 0xffffffff))]);
}

export function returnStatus(value: number): Buffer {
  return Buffer.concat([u8(0x79), i32(value)]);
}

// ---- result sets ----

/**
 * The type a column travels as in a session of `version`: SQL Server's own down-level mapping (max types as
 * ntext/image before 7.2, datetime2 as nvarchar before 7.3).
 */
type WireType = SqlType | { kind: "ntext" } | { kind: "image" } | { kind: "datetime2-text"; scale: number };

function wireType(type: SqlType, version: number): WireType {
  if (version < TDS_7_2 && type.kind === "nvarchar" && type.length === "max") return { kind: "ntext" };
  if (version < TDS_7_2 && type.kind === "varbinary" && type.length === "max") return { kind: "image" };
  if (version < TDS_7_3A && type.kind === "datetime2") return { kind: "datetime2-text", scale: type.scale };
  return type;
}

/** "datetime2 (Transact-SQL)": down-level clients get nvarchar(27), 'YYYY-MM-DD hh:mm:ss[.nnnnnnn]'. */
const DATETIME2_TEXT_CHARS = 27;

function typeInfo(type: WireType): Buffer {
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
    case "datetime2-text":
      return Buffer.concat([u8(0xe7), u16(DATETIME2_TEXT_CHARS * 2), COLLATION]);
    case "uniqueidentifier":
      return Buffer.from([0x24, 16]);
    case "varbinary":
      return Buffer.concat([u8(0xa5), u16(type.length === "max" ? 0xffff : Math.min(type.length, 8000))]);
    // 2.2.5.4.3 (TDS 7.1 form): LONGLEN max length, collation for ntext, then the table name as US_VARCHAR.
    case "ntext":
      return Buffer.concat([u8(0x63), u32(0x7ffffffe), COLLATION, u16(0)]);
    case "image":
      return Buffer.concat([u8(0x22), u32(0x7fffffff), u16(0)]);
    // 2.2.5.5.4 SSVARIANTTYPE: LONGLEN max length 8009.
    case "sql_variant":
      return Buffer.concat([u8(0x62), u32(8009)]);
  }
}

export function colMetadata(columns: readonly ColumnDef[], version = TDS_7_4): Buffer {
  const parts: Buffer[] = [u8(0x81), u16(columns.length)];
  for (const c of columns) {
    parts.push(version >= TDS_7_2 ? u32(0) : u16(0), u16(c.nullable === false ? 0x0000 : 0x0001), typeInfo(wireType(c.type, version)), bVarchar(c.name));
  }
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

function datetime2Text(d: Date, scale: number): string {
  const base = d.toISOString().replace("T", " ").slice(0, 19);
  if (scale === 0) return base;
  const fraction = (d.toISOString().slice(20, 23) + "0000000").slice(0, scale);
  return `${base}.${fraction}`;
}

/** A text pointer and timestamp precede ntext/image data (2.2.4.2.1.3); their values are opaque to clients. */
const TEXT_POINTER = Buffer.concat([u8(16), Buffer.alloc(16, 0x01), Buffer.alloc(8)]);

/**
 * sql_variant (2.2.5.5.4): LONGLEN total, then BaseType, PropBytes, the base type's properties and the data. The
 * base type follows the JavaScript value: integers are int (bigint beyond), text nvarchar, booleans bit, dates
 * datetime, binaries varbinary, GUID-shaped strings stay nvarchar.
 */
function encodeVariant(value: SqlValue): Buffer {
  if (value === null || value === undefined) return u32(0);
  let body: Buffer;
  if (typeof value === "number" && Number.isInteger(value) && Math.abs(value) < 2 ** 31) body = Buffer.concat([u8(0x38), u8(0), i32(value)]);
  else if (typeof value === "number") {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(value);
    body = Buffer.concat([u8(0x3e), u8(0), b]);
  } else if (typeof value === "bigint") body = Buffer.concat([u8(0x7f), u8(0), u64(value)]);
  else if (typeof value === "boolean") body = Buffer.concat([u8(0x32), u8(0), u8(value ? 1 : 0)]);
  else if (value instanceof Date) body = Buffer.concat([u8(0x3d), u8(0), encodeValue({ kind: "datetime" }, value).subarray(1)]);
  else if (value instanceof Uint8Array) body = Buffer.concat([u8(0xa5), u8(2), u16(8000), Buffer.from(value)]);
  else {
    const data = ucs2(String(value));
    body = Buffer.concat([u8(0xe7), u8(7), COLLATION, u16(Math.max(data.length, 2)), data]);
  }
  return Buffer.concat([u32(body.length), body]);
}

export function encodeValue(type: WireType, value: SqlValue): Buffer {
  const isNull = value === null || value === undefined;
  switch (type.kind) {
    case "sql_variant":
      return encodeVariant(value);
    case "datetime2-text": {
      if (isNull) return u16(0xffff);
      const data = ucs2(datetime2Text(value instanceof Date ? value : new Date(String(value)), type.scale));
      return Buffer.concat([u16(data.length), data]);
    }
    case "ntext":
    case "image": {
      if (isNull) return u8(0);
      const data = type.kind === "ntext" ? ucs2(textOf(value)) : Buffer.from(value as Uint8Array);
      return Buffer.concat([TEXT_POINTER, u32(data.length), data]);
    }
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

export function row(columns: readonly ColumnDef[], values: readonly SqlValue[], version = TDS_7_4): Buffer {
  return Buffer.concat([u8(0xd1), ...columns.map((c, i) => encodeValue(wireType(c.type, version), values[i] ?? null))]);
}
