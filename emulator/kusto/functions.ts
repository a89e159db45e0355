import { INGESTION_TIME } from "./ast.js";
import type { KustoType, Row, Value } from "./ast.js";
import { KqlError } from "./lexer.js";
import { compare, datetimeText, isEmpty, isNumeric, toText } from "./values.js";

/**
 * The scalar and aggregation functions the emulator knows, each with its typing rule, its default result
 * column name and its evaluation, as the Kusto documentation defines them (the page of each function, e.g.
 * "ago()", "extract()", "summarize operator" for the aggregations' default names). The default names follow
 * Microsoft's own parser (@kusto/language-service-next, test/support/kusto-parser.ts), which the tests hold
 * the emulator to: `tostring(x)` and `bin(x, 1h)` keep the argument's name, `strlen(x)` is `strlen_x`, most
 * others get a generated `ColumnN`.
 */
export interface CallContext {
  now: Date;
  row: Row;
}

interface ScalarFunction {
  args: [number, number];
  type(args: KustoType[], fail: (message: string) => never): KustoType;
  naming?: "first" | "prefix";
  eval(args: Value[], ctx: CallContext, types: KustoType[]): Value;
}

const needs = (fail: (m: string) => never, ok: boolean, message: string) => {
  if (!ok) fail(message);
};

const toNumber = (v: Value): number | null => {
  if (v === null || v === undefined || v === "") return null;
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v instanceof Date) return v.getTime();
  const n = Number(v);
  return Number.isNaN(n) ? null : n;
};

function regex(pattern: Value, fail?: () => never): RegExp {
  try {
    // Kusto uses RE2 syntax; JavaScript's covers the subset used in practice ("RE2 syntax" page).
    return new RegExp(toText(pattern));
  } catch {
    if (fail) fail();
    throw new KqlError("SemanticError", `'${toText(pattern)}' is not a valid regular expression`);
  }
}

const conversion = (type: KustoType, convert: (v: Value, t: KustoType) => Value): ScalarFunction => ({
  args: [1, 1],
  type: () => type,
  naming: "first",
  eval: ([a], _ctx, [t]) => convert(a ?? null, t!),
});

const SCALARS: Record<string, ScalarFunction> = {
  ago: {
    args: [1, 1],
    type: ([t], fail) => (needs(fail, t === "timespan", "ago() expects a timespan"), "datetime"),
    eval: ([a], ctx) => (typeof a === "number" ? new Date(ctx.now.getTime() - a) : null),
  },
  now: {
    args: [0, 1],
    type: ([t], fail) => (needs(fail, t === undefined || t === "timespan", "now() expects a timespan"), "datetime"),
    eval: ([a], ctx) => (typeof a === "number" ? new Date(ctx.now.getTime() + a) : ctx.now),
  },
  ingestion_time: {
    args: [0, 0],
    type: () => "datetime",
    // Null where the rows are no longer the table's own (after summarize, distinct, count) ("ingestion_time()" page).
    eval: (_args, ctx) => (ctx.row[INGESTION_TIME] instanceof Date ? ctx.row[INGESTION_TIME] : null),
  },
  todatetime: conversion("datetime", (v) => {
    if (v instanceof Date || v === null) return v;
    if (typeof v !== "string" || !v.trim()) return null;
    const d = new Date(/T.*(?:[zZ]|[+-]\d\d:?\d\d)$|^\d{4}-\d\d-\d\d$/.test(v.trim()) ? v.trim() : `${v.trim()}Z`);
    return Number.isNaN(d.getTime()) ? null : d;
  }),
  tostring: conversion("string", (v, t) => toText(v, t)),
  toint: conversion("int", (v) => {
    const n = toNumber(v);
    return n === null ? null : Math.trunc(n);
  }),
  tolong: conversion("long", (v) => {
    const n = toNumber(v);
    return n === null ? null : Math.trunc(n);
  }),
  toreal: conversion("real", toNumber),
  todouble: conversion("real", toNumber),
  tobool: conversion("bool", (v) => {
    if (typeof v === "boolean" || v === null) return v;
    if (typeof v === "number") return v !== 0;
    const s = toText(v).toLowerCase();
    return s === "true" ? true : s === "false" ? false : null;
  }),
  tolower: { args: [1, 1], type: () => "string", eval: ([a]) => toText(a ?? null).toLowerCase() },
  toupper: { args: [1, 1], type: () => "string", eval: ([a]) => toText(a ?? null).toUpperCase() },
  strlen: { args: [1, 1], type: () => "long", naming: "prefix", eval: ([a]) => [...toText(a ?? null)].length },
  isempty: { args: [1, 1], type: () => "bool", eval: ([a]) => isEmpty(a ?? null) },
  isnotempty: { args: [1, 1], type: () => "bool", eval: ([a]) => !isEmpty(a ?? null) },
  isnull: { args: [1, 1], type: () => "bool", eval: ([a]) => a === null || a === undefined },
  isnotnull: { args: [1, 1], type: () => "bool", eval: ([a]) => !(a === null || a === undefined) },
  strcat: { args: [1, 64], type: () => "string", eval: (args, _ctx, types) => args.map((a, i) => toText(a, types[i])).join("") },
  iff: {
    args: [3, 3],
    type: ([c, a, b], fail) => {
      needs(fail, c === "bool", "iff() expects a bool condition");
      needs(fail, a === b || (isNumeric(a!) && isNumeric(b!)) || a === "dynamic" || b === "dynamic", `iff(): the types ${a} and ${b} differ`);
      return a!;
    },
    eval: ([c, a, b]) => (c === true ? (a ?? null) : (b ?? null)),
  },
  coalesce: {
    args: [2, 64],
    type: (types, fail) => {
      needs(fail, types.every((t) => t === types[0] || (isNumeric(t) && isNumeric(types[0]!))), "coalesce(): the arguments must share one type");
      return types[0]!;
    },
    eval: (args) => args.find((v) => !isEmpty(v ?? null)) ?? null,
  },
  trim: {
    args: [2, 2],
    type: () => "string",
    eval: ([pattern, text]) => {
      const p = regex(pattern ?? "").source;
      return toText(text ?? null).replace(new RegExp(`^(?:${p})+|(?:${p})+$`, "g"), "");
    },
  },
  trim_start: { args: [2, 2], type: () => "string", eval: ([p, text]) => toText(text ?? null).replace(new RegExp(`^(?:${regex(p ?? "").source})+`), "") },
  trim_end: { args: [2, 2], type: () => "string", eval: ([p, text]) => toText(text ?? null).replace(new RegExp(`(?:${regex(p ?? "").source})+$`), "") },
  extract: {
    args: [3, 3],
    type: ([p, g], fail) => (needs(fail, p === "string" && (g === "long" || g === "int"), "extract(regex, captureGroup, source) expects a string and a number"), "string"),
    // No match: an empty string (the string type's null) ("extract()" page).
    eval: ([p, group, text]) => {
      const m = regex(p ?? "").exec(toText(text ?? null));
      return m ? (m[Number(group)] ?? "") : "";
    },
  },
  bin: {
    args: [2, 2],
    type: ([v, size], fail) => {
      needs(fail, (v === "datetime" && size === "timespan") || (v === "timespan" && size === "timespan") || (isNumeric(v!) && isNumeric(size!)), "bin(): the value and the bin size do not fit");
      return v!;
    },
    naming: "first",
    eval: ([v, size]) => {
      if (v instanceof Date && typeof size === "number" && size > 0) return new Date(Math.floor(v.getTime() / size) * size);
      if (typeof v === "number" && typeof size === "number" && size > 0) return Math.floor(v / size) * size;
      return null;
    },
  },
};
SCALARS.iif = SCALARS.iff!;
SCALARS.floor = SCALARS.bin!;

export function scalarFunction(name: string): ScalarFunction | undefined {
  return Object.hasOwn(SCALARS, name) ? SCALARS[name] : undefined;
}

// ---- aggregations ---------------------------------------------------------------------------------------------

export interface AggregateFunction {
  args: [number, number];
  /** Whether `*` may stand for the remaining columns (arg_max / arg_min). */
  star?: boolean;
  type(args: KustoType[], fail: (message: string) => never): KustoType;
  /** The default column name from the first argument's name ("summarize operator": count_, max_X, set_X...). */
  name(first: string | undefined): string;
  /** Reduces one group: `values[i]` evaluates argument i on a row. */
  eval(rows: readonly Row[], values: Array<(row: Row) => Value>): { value: Value; row?: Row };
}

const prefixed = (prefix: string) => (first: string | undefined) => `${prefix}_${first ?? ""}`;

function extreme(max: boolean) {
  return (rows: readonly Row[], [value]: Array<(row: Row) => Value>) => {
    let best: Value = null;
    let bestRow: Row | undefined;
    for (const r of rows) {
      const v = value!(r);
      if (v === null || v === undefined) continue;
      if (bestRow === undefined || (max ? compare(v, best) > 0 : compare(v, best) < 0)) {
        best = v;
        bestRow = r;
      }
    }
    return { value: best, ...(bestRow ? { row: bestRow } : {}) };
  };
}

const AGGREGATES: Record<string, AggregateFunction> = {
  count: { args: [0, 0], type: () => "long", name: () => "count_", eval: (rows) => ({ value: rows.length }) },
  countif: {
    args: [1, 1],
    type: ([t], fail) => (needs(fail, t === "bool", "countif() expects a bool predicate"), "long"),
    name: () => "countif_",
    eval: (rows, [p]) => ({ value: rows.filter((r) => p!(r) === true).length }),
  },
  dcount: {
    args: [1, 2],
    type: () => "long",
    name: prefixed("dcount"),
    eval: (rows, [v]) => ({ value: new Set(rows.map((r) => v!(r)).filter((x) => x !== null && x !== "").map((x) => toText(x))).size }),
  },
  sum: {
    args: [1, 1],
    type: ([t], fail) => (needs(fail, isNumeric(t!) || t === "timespan", "sum() expects a number"), t === "int" ? "long" : t!),
    name: prefixed("sum"),
    eval: (rows, [v]) => ({ value: rows.reduce<number>((s, r) => s + (typeof v!(r) === "number" ? (v!(r) as number) : 0), 0) }),
  },
  avg: {
    args: [1, 1],
    type: ([t], fail) => (needs(fail, isNumeric(t!), "avg() expects a number"), "real"),
    name: prefixed("avg"),
    eval: (rows, [v]) => {
      const nums = rows.map((r) => v!(r)).filter((x): x is number => typeof x === "number");
      return { value: nums.length ? nums.reduce((s, x) => s + x, 0) / nums.length : null };
    },
  },
  // Over no rows max() and min() are null of their argument's type ("max() (aggregation function)").
  max: { args: [1, 1], type: ([t]) => t!, name: prefixed("max"), eval: extreme(true) },
  min: { args: [1, 1], type: ([t]) => t!, name: prefixed("min"), eval: extreme(false) },
  arg_max: { args: [1, 64], star: true, type: ([t]) => t!, name: (first) => first ?? "max_", eval: extreme(true) },
  arg_min: { args: [1, 64], star: true, type: ([t]) => t!, name: (first) => first ?? "min_", eval: extreme(false) },
  any: { args: [1, 1], type: ([t]) => t!, name: prefixed("any"), eval: (rows, [v]) => ({ value: rows.length ? v!(rows[0]!) : null }) },
  take_any: { args: [1, 1], type: ([t]) => t!, name: (first) => first ?? "any_", eval: (rows, [v]) => ({ value: rows.length ? v!(rows[0]!) : null }) },
  make_set: {
    args: [1, 2],
    type: () => "dynamic",
    name: prefixed("set"),
    eval: (rows, [v]) => ({ value: [...new Map(rows.map((r) => v!(r)).filter((x) => x !== null).map((x) => [toText(x), x instanceof Date ? datetimeText(x) : x])).values()] as unknown[] }),
  },
  make_list: {
    args: [1, 2],
    type: () => "dynamic",
    name: prefixed("list"),
    eval: (rows, [v]) => ({ value: rows.map((r) => v!(r)).filter((x) => x !== null).map((x) => (x instanceof Date ? datetimeText(x) : x)) }),
  },
};

export function aggregateFunction(name: string): AggregateFunction | undefined {
  return Object.hasOwn(AGGREGATES, name) ? AGGREGATES[name] : undefined;
}
