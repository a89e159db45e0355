import type { SqlType, SqlValue } from "../sql/contracts.js";
import { errors } from "./errors.js";

/** A value with its SQL type: what expressions evaluate to, so result-set columns carry real types. */
export interface Typed {
  type: SqlType;
  value: SqlValue;
}

export const T = {
  int: { kind: "int" } as SqlType,
  bigint: { kind: "bigint" } as SqlType,
  smallint: { kind: "smallint" } as SqlType,
  tinyint: { kind: "tinyint" } as SqlType,
  bit: { kind: "bit" } as SqlType,
  float: { kind: "float" } as SqlType,
  datetime: { kind: "datetime" } as SqlType,
  datetime2: { kind: "datetime2", scale: 7 } as SqlType,
  guid: { kind: "uniqueidentifier" } as SqlType,
  sysname: { kind: "nvarchar", length: 128 } as SqlType,
  variant: { kind: "sql_variant" } as SqlType,
  nvarchar: (length: number | "max"): SqlType => ({ kind: "nvarchar", length }),
  char: (length: number): SqlType => ({ kind: "char", length }),
};

export function typeName(t: SqlType): string {
  switch (t.kind) {
    case "nvarchar":
    case "varchar":
    case "char":
    case "varbinary":
      return `${t.kind}(${t.length})`;
    case "datetime2":
      return `datetime2(${t.scale})`;
    default:
      return t.kind;
  }
}

export function isNumericType(t: SqlType): boolean {
  return ["int", "bigint", "smallint", "tinyint", "bit", "float"].includes(t.kind);
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** SQL Server's default style for datetime → string conversion (style 0 is locale-ish; we use ODBC canonical). */
function dateText(d: Date): string {
  return d.toISOString().replace("T", " ").replace("Z", "");
}

export function toText(v: SqlValue): string {
  if (v === null) return "";
  if (v instanceof Date) return dateText(v);
  if (typeof v === "boolean") return v ? "1" : "0";
  if (v instanceof Uint8Array) return "0x" + Buffer.from(v).toString("hex").toUpperCase();
  return String(v);
}

/** CAST/CONVERT and assignment conversion. Conversion failures raise the engine's 245 error. */
export function convert(v: Typed, to: SqlType): Typed {
  const value = v.value;
  if (value === null) return { type: to, value: null };
  switch (to.kind) {
    case "int":
    case "bigint":
    case "smallint":
    case "tinyint": {
      let n: number;
      if (typeof value === "number") n = Math.trunc(value);
      else if (typeof value === "boolean") n = value ? 1 : 0;
      else if (typeof value === "bigint") n = Number(value);
      else if (typeof value === "string" && /^\s*[-+]?\d+\s*$/.test(value)) n = Number(value);
      else throw errors.conversion(toText(value), to.kind);
      return { type: to, value: n };
    }
    case "bit":
      if (typeof value === "boolean") return { type: to, value };
      if (typeof value === "number") return { type: to, value: value !== 0 };
      if (typeof value === "string" && /^(true|false|\d+)$/i.test(value.trim())) {
        const s = value.trim().toLowerCase();
        return { type: to, value: s === "true" || (s !== "false" && Number(s) !== 0) };
      }
      throw errors.conversion(toText(value), "bit");
    case "float":
      if (typeof value === "number") return { type: to, value };
      if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) return { type: to, value: Number(value) };
      throw errors.conversion(toText(value), "float");
    case "nvarchar":
    case "varchar":
    case "char": {
      let s = toText(value);
      if (to.length !== "max" && s.length > to.length) s = s.slice(0, to.length);
      if (to.kind === "char" && s.length < to.length) s = s.padEnd(to.length, " ");
      return { type: to, value: s };
    }
    case "datetime":
    case "datetime2":
      if (value instanceof Date) return { type: to, value };
      if (typeof value === "string") {
        const d = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(value) ? value : value.replace(" ", "T") + "Z");
        if (!Number.isNaN(d.getTime())) return { type: to, value: d };
      }
      throw errors.conversion(toText(value), to.kind);
    case "uniqueidentifier":
      if (typeof value === "string" && GUID.test(value.trim())) return { type: to, value: value.trim().toUpperCase() };
      throw errors.conversion(toText(value), "uniqueidentifier");
    case "varbinary":
      if (value instanceof Uint8Array) return { type: to, value };
      return { type: to, value: Buffer.from(toText(value), "utf16le") };
    case "sql_variant":
      return { type: to, value };
  }
}

/** The type a client-supplied parameter carries (tedious sends typed parameters; we infer from the JS value). */
export function typeOfValue(v: SqlValue): SqlType {
  if (typeof v === "number") return Number.isInteger(v) ? T.int : T.float;
  if (typeof v === "bigint") return T.bigint;
  if (typeof v === "boolean") return T.bit;
  if (v instanceof Date) return T.datetime2;
  if (v instanceof Uint8Array) return { kind: "varbinary", length: "max" };
  return T.nvarchar(4000);
}

/** Three-valued comparison; strings compare case-insensitively (the default CI collation). null = unknown. */
export function compare(a: SqlValue, b: SqlValue): number | null {
  if (a === null || b === null) return null;
  if (a instanceof Date || b instanceof Date) {
    const x = a instanceof Date ? a.getTime() : new Date(String(a)).getTime();
    const y = b instanceof Date ? b.getTime() : new Date(String(b)).getTime();
    return x === y ? 0 : x < y ? -1 : 1;
  }
  const num = (v: SqlValue): number | undefined =>
    typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : typeof v === "boolean" ? (v ? 1 : 0) : undefined;
  const x = num(a);
  const y = num(b);
  if (x !== undefined || y !== undefined) {
    const xx = x ?? Number(a);
    const yy = y ?? Number(b);
    if (Number.isNaN(xx)) throw errors.conversion(toText(a), "int");
    if (Number.isNaN(yy)) throw errors.conversion(toText(b), "int");
    return xx === yy ? 0 : xx < yy ? -1 : 1;
  }
  // Trailing spaces are insignificant in SQL Server string comparison.
  const s = toText(a).replace(/ +$/, "").toLowerCase();
  const t = toText(b).replace(/ +$/, "").toLowerCase();
  return s === t ? 0 : s < t ? -1 : 1;
}

export function likeToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "%") re += ".*";
    else if (c === "_") re += ".";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        const body = pattern.slice(i + 1, end).replace(/\\/g, "\\\\");
        re += "[" + (body.startsWith("^") ? "^" + body.slice(1) : body) + "]";
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "is");
}
