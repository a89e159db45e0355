import type { KustoType, Value } from "./ast.js";

/**
 * Value semantics shared by the evaluator and the scalar functions: Kusto's string conversion, ordering,
 * equality and emptiness, and a cell's wire form. Datetimes are Dates, timespans milliseconds (their static
 * type tells them from numbers), strings are never null (an absent string is "").
 */
export const isNumeric = (t: KustoType) => t === "int" || t === "long" || t === "real" || t === "decimal";

/** Kusto prints datetimes as ISO 8601 with seven fractional digits when there is a fraction ("tostring()" page). */
export function datetimeText(d: Date): string {
  const iso = d.toISOString();
  const ms = d.getUTCMilliseconds();
  return ms === 0 ? iso.replace(/\.000Z$/, "Z") : iso.replace(/\.(\d{3})Z$/, ".$10000Z");
}

/** [-][d.]hh:mm:ss[.fffffff], the timespan's text form. */
export function timespanText(ms: number): string {
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(ms);
  const days = Math.floor(rest / 86_400_000);
  rest -= days * 86_400_000;
  const pad = (n: number) => String(n).padStart(2, "0");
  const h = Math.floor(rest / 3_600_000);
  const m = Math.floor((rest % 3_600_000) / 60_000);
  const s = Math.floor((rest % 60_000) / 1000);
  const frac = rest % 1000;
  return `${sign}${days ? `${days}.` : ""}${pad(h)}:${pad(m)}:${pad(s)}${frac ? `.${String(Math.round(frac * 10_000)).padStart(7, "0")}` : ""}`;
}

export function toText(v: Value, type?: KustoType): string {
  if (v === null || v === undefined) return "";
  if (v instanceof Date) return datetimeText(v);
  if (type === "timespan" && typeof v === "number") return timespanText(v);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export const isEmpty = (v: Value) => v === null || v === undefined || v === "";

/** Orders two values of one type; null sorts before everything (the caller places nulls first or last). */
export function compare(a: Value, b: Value): number {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : -1;
  if (b === null || b === undefined) return 1;
  const x = a instanceof Date ? a.getTime() : a;
  const y = b instanceof Date ? b.getTime() : b;
  if (typeof x === "number" && typeof y === "number") return x - y;
  if (typeof x === "boolean" && typeof y === "boolean") return Number(x) - Number(y);
  const s = toText(a);
  const t = toText(b);
  return s < t ? -1 : s > t ? 1 : 0;
}

export function equal(a: Value, b: Value): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return false;
  if (a instanceof Date || b instanceof Date) {
    const x = a instanceof Date ? a.getTime() : new Date(toText(a)).getTime();
    const y = b instanceof Date ? b.getTime() : new Date(toText(b)).getTime();
    return x === y;
  }
  if (typeof a === typeof b && typeof a !== "object") return a === b;
  return toText(a) === toText(b);
}

/** A stored cell read as its column's declared type (seed rows come from YAML and may be loosely typed). */
export function coerce(v: unknown, type: KustoType): Value {
  if (v === undefined || v === null) return type === "string" ? "" : null;
  switch (type) {
    case "string":
    case "guid":
      return typeof v === "string" ? v : toText(v as Value);
    case "datetime": {
      if (v instanceof Date) return v;
      const d = new Date(String(v));
      return Number.isNaN(d.getTime()) ? null : d;
    }
    case "long":
    case "int":
    case "real":
    case "decimal":
    case "timespan": {
      if (typeof v === "number") return v;
      const n = Number(v);
      return typeof v === "string" && v.trim() !== "" && !Number.isNaN(n) ? n : null;
    }
    case "bool":
      return typeof v === "boolean" ? v : typeof v === "string" ? (/^true$/i.test(v) ? true : /^false$/i.test(v) ? false : null) : null;
    case "dynamic":
      return v as Value;
  }
}

/** A cell as the query APIs put it on the wire: datetimes ISO 8601, timespans as text, dynamic values as JSON text. */
export function wireValue(v: Value, type: KustoType): unknown {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  if (type === "timespan" && typeof v === "number") return timespanText(v);
  if (type === "dynamic") return typeof v === "string" ? v : JSON.stringify(v);
  if (typeof v === "object") return JSON.stringify(v);
  return v;
}

/** The type of a value seen in a row whose table declares no type for it. */
export function inferType(v: Value): KustoType {
  if (v instanceof Date) return "datetime";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "long" : "real";
  if (v !== null && typeof v === "object") return "dynamic";
  return "string";
}
