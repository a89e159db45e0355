import { INGESTION_TIME } from "./ast.js";
import type { Column, Expr, KustoType, Op, Query, Row, SortKey, Source, Table, Union, Value } from "./ast.js";
import { KqlError } from "./lexer.js";
import { aggregateFunction, scalarFunction } from "./functions.js";
import { coerce, compare, equal, isNumeric, toText } from "./values.js";

/**
 * Types and runs a parsed query (emulator/kusto/parser.ts). Every name is resolved against the schema of the
 * operator's input before any row is read, so a misspelt column is a semantic error whatever the number of
 * rows, and result columns have the types the service gives them (max() over no rows is still a datetime).
 * Each operator compiles to a schema and a function of rows.
 */
export interface EvalContext {
  now: Date;
}

/** The tables a query may name: their schema and rows. Absent tables are refused unless `union isfuzzy=true`. */
export interface TableSource {
  table(name: string): Table | undefined;
}

interface Compiled {
  type: KustoType;
  /** The column name the result gets when the query gives none (undefined: a generated ColumnN). */
  name?: string;
  fn: (row: Row) => Value;
}

interface Scope {
  columns: Column[];
  byName: Map<string, Column>;
  ctx: EvalContext;
}

const semantic = (message: string, pos?: number): never => {
  throw new KqlError("SemanticError", message, pos);
};

function scopeOf(columns: Column[], ctx: EvalContext): Scope {
  return { columns, byName: new Map(columns.map((c) => [c.name, c])), ctx };
}

function truthy(v: Value): boolean {
  return v === true;
}

const hasTerm = (haystack: string, term: string, cs: boolean): boolean => {
  if (!term) return true;
  const h = cs ? haystack : haystack.toLowerCase();
  const t = cs ? term : term.toLowerCase();
  // `has` matches whole terms: runs of alphanumeric characters ("String operators" page).
  if (/^[\p{L}\p{N}_]+$/u.test(t)) return h.split(/[^\p{L}\p{N}_]+/u).includes(t);
  return h.includes(t);
};

const STRING_PREDICATES: Record<string, (l: string, r: string) => boolean> = {
  contains: (l, r) => l.toLowerCase().includes(r.toLowerCase()),
  contains_cs: (l, r) => l.includes(r),
  has: (l, r) => hasTerm(l, r, false),
  has_cs: (l, r) => hasTerm(l, r, true),
  startswith: (l, r) => l.toLowerCase().startsWith(r.toLowerCase()),
  startswith_cs: (l, r) => l.startsWith(r),
  endswith: (l, r) => l.toLowerCase().endsWith(r.toLowerCase()),
  endswith_cs: (l, r) => l.endsWith(r),
};

const comparable = (a: KustoType, b: KustoType) => a === b || (isNumeric(a) && isNumeric(b)) || a === "dynamic" || b === "dynamic" || ((a === "guid" || a === "string") && (b === "guid" || b === "string"));

function compileExpr(e: Expr, scope: Scope): Compiled {
  switch (e.k) {
    case "lit":
      return { type: e.type, fn: () => e.v };
    case "col": {
      const column = scope.byName.get(e.name);
      if (!column) semantic(`'${e.name}' is not a column of the table or a supported name (SEM0100: Failed to resolve scalar expression named '${e.name}')`, e.pos);
      const { name, type } = column!;
      if (!e.path.length) return { type, name, fn: (row) => coerce(row[name], type) };
      if (type !== "dynamic") semantic(`'${name}' is a ${type} column; only dynamic columns have members`, e.pos);
      return {
        type: "dynamic",
        name: `${name}_${e.path.join("_")}`,
        fn: (row) => {
          let v: unknown = row[name] ?? null;
          for (const key of e.path) v = v && typeof v === "object" && !(v instanceof Date) ? ((v as Record<string, unknown>)[key] ?? null) : null;
          return v as Value;
        },
      };
    }
    case "not": {
      const inner = compileExpr(e.e, scope);
      if (inner.type !== "bool") semantic("not() expects a bool", e.pos);
      return { type: "bool", fn: (row) => !truthy(inner.fn(row)) };
    }
    case "neg": {
      const inner = compileExpr(e.e, scope);
      if (!isNumeric(inner.type) && inner.type !== "timespan") semantic(`the operator '-' is not defined for ${inner.type}`, e.pos);
      return { type: inner.type, fn: (row) => { const v = inner.fn(row); return typeof v === "number" ? -v : null; } };
    }
    case "in": {
      const value = compileExpr(e.e, scope);
      const list = e.list.map((item) => compileExpr(item, scope));
      return {
        type: "bool",
        fn: (row) => {
          const v = value.fn(row);
          const found = list.some((item) => {
            const w = item.fn(row);
            return e.ci ? toText(v).toLowerCase() === toText(w).toLowerCase() : equal(v, w);
          });
          return e.negate ? !found : found;
        },
      };
    }
    case "between": {
      const value = compileExpr(e.e, scope);
      const lo = compileExpr(e.lo, scope);
      const hi = compileExpr(e.hi, scope);
      // `datetime between (start .. timespan)` is the range [start, start + timespan] ("between operator" page).
      const relative = value.type === "datetime" && hi.type === "timespan";
      if (!relative && (!comparable(value.type, lo.type) || !comparable(value.type, hi.type))) semantic(`between: ${value.type} cannot be compared with ${lo.type} .. ${hi.type}`, e.pos);
      return {
        type: "bool",
        fn: (row) => {
          const v = value.fn(row);
          const l = lo.fn(row);
          let h = hi.fn(row);
          if (v === null || l === null || h === null) return false;
          if (relative && l instanceof Date && typeof h === "number") h = new Date(l.getTime() + h);
          const inside = compare(v, l) >= 0 && compare(v, h) <= 0;
          return e.negate ? !inside : inside;
        },
      };
    }
    case "bin":
      return compileBinary(e, scope);
    case "call":
      return compileCall(e, scope);
  }
}

function compileBinary(e: Expr & { k: "bin" }, scope: Scope): Compiled {
  const l = compileExpr(e.l, scope);
  const r = compileExpr(e.r, scope);
  const op = e.op;
  if (op === "and" || op === "or") {
    if (l.type !== "bool" || r.type !== "bool") semantic(`the operator '${op}' expects bool operands, not ${l.type} and ${r.type}`, e.pos);
    return op === "and" ? { type: "bool", fn: (row) => truthy(l.fn(row)) && truthy(r.fn(row)) } : { type: "bool", fn: (row) => truthy(l.fn(row)) || truthy(r.fn(row)) };
  }
  if (op === "==" || op === "!=") {
    return { type: "bool", fn: (row) => { const a = l.fn(row); const b = r.fn(row); return a !== null && b !== null && (op === "==" ? equal(a, b) : !equal(a, b)); } };
  }
  if (op === "=~" || op === "!~") {
    return { type: "bool", fn: (row) => { const a = l.fn(row); if (a === null) return false; const same = toText(a).toLowerCase() === toText(r.fn(row)).toLowerCase(); return op === "=~" ? same : !same; } };
  }
  if (op === "<" || op === "<=" || op === ">" || op === ">=") {
    // Ordering is defined only between values of one kind ("The operator '>' is not defined for the operand types datetime and string").
    if (!comparable(l.type, r.type) || l.type === "dynamic" || r.type === "dynamic") semantic(`The operator '${op}' is not defined for the operand types ${l.type} and ${r.type}.`, e.pos);
    const test = op === "<" ? (c: number) => c < 0 : op === "<=" ? (c: number) => c <= 0 : op === ">" ? (c: number) => c > 0 : (c: number) => c >= 0;
    return { type: "bool", fn: (row) => { const a = l.fn(row); const b = r.fn(row); return a !== null && b !== null && test(compare(a, b)); } };
  }
  if (op === "matches regex") semantic("'matches regex' is not supported by this emulator", e.pos);
  const negated = op.startsWith("!");
  const predicate = STRING_PREDICATES[negated ? op.slice(1) : op];
  if (predicate) {
    return { type: "bool", fn: (row) => { const hit = predicate(toText(l.fn(row), l.type), toText(r.fn(row), r.type)); return negated ? !hit : hit; } };
  }
  return compileArithmetic(op, l, r, e.pos);
}

function compileArithmetic(op: string, l: Compiled, r: Compiled, pos: number): Compiled {
  const undefinedFor = (): never => semantic(`The operator '${op}' is not defined for the operand types ${l.type} and ${r.type}.`, pos);
  const num = (type: KustoType, f: (a: number, b: number) => number | null): Compiled => ({
    type,
    fn: (row) => { const a = l.fn(row); const b = r.fn(row); return typeof a === "number" && typeof b === "number" ? f(a, b) : null; },
  });
  const integral = (t: KustoType) => t === "long" || t === "int";
  if (isNumeric(l.type) && isNumeric(r.type)) {
    const type: KustoType = integral(l.type) && integral(r.type) ? "long" : "real";
    switch (op) {
      case "+": return num(type, (a, b) => a + b);
      case "-": return num(type, (a, b) => a - b);
      case "*": return num(type, (a, b) => a * b);
      // Integer division truncates; division by zero is null for integers ("Numerical operators" page).
      case "/": return num(type, (a, b) => (type === "long" ? (b === 0 ? null : Math.trunc(a / b)) : a / b));
      case "%": return num(type, (a, b) => (b === 0 ? null : a % b));
    }
  }
  if (l.type === "datetime" && r.type === "timespan" && (op === "+" || op === "-")) {
    const sign = op === "+" ? 1 : -1;
    return { type: "datetime", fn: (row) => { const a = l.fn(row); const b = r.fn(row); return a instanceof Date && typeof b === "number" ? new Date(a.getTime() + sign * b) : null; } };
  }
  if (l.type === "timespan" && r.type === "datetime" && op === "+") {
    return { type: "datetime", fn: (row) => { const a = l.fn(row); const b = r.fn(row); return b instanceof Date && typeof a === "number" ? new Date(b.getTime() + a) : null; } };
  }
  if (l.type === "datetime" && r.type === "datetime" && op === "-") {
    return { type: "timespan", fn: (row) => { const a = l.fn(row); const b = r.fn(row); return a instanceof Date && b instanceof Date ? a.getTime() - b.getTime() : null; } };
  }
  if (l.type === "timespan" && r.type === "timespan") {
    if (op === "+") return num("timespan", (a, b) => a + b);
    if (op === "-") return num("timespan", (a, b) => a - b);
    if (op === "/") return num("real", (a, b) => (b === 0 ? null : a / b));
  }
  if (l.type === "timespan" && isNumeric(r.type) && (op === "*" || op === "/")) return num("timespan", (a, b) => (op === "*" ? a * b : b === 0 ? null : a / b));
  if (isNumeric(l.type) && r.type === "timespan" && op === "*") return num("timespan", (a, b) => a * b);
  return undefinedFor();
}

function compileCall(e: Expr & { k: "call" }, scope: Scope): Compiled {
  if (aggregateFunction(e.name)) semantic(`'${e.name}' is an aggregation function and can be used only in summarize`, e.pos);
  const fn = scalarFunction(e.name);
  if (!fn) semantic(`'${e.name}' is not a supported function (SEM0219: Unknown function '${e.name}')`, e.pos);
  if (e.star) semantic(`'${e.name}' does not take '*'`, e.pos);
  const [min, max] = fn!.args;
  if (e.args.length < min || e.args.length > max) semantic(`${e.name}(): expects ${min === max ? min : `${min} to ${max}`} arguments, got ${e.args.length}`, e.pos);
  const args = e.args.map((a) => compileExpr(a, scope));
  const types = args.map((a) => a.type);
  const type = fn!.type(types, (message) => semantic(message, e.pos));
  const first = args[0]?.name;
  const name = fn!.naming === "first" ? first : fn!.naming === "prefix" && first ? `${e.name}_${first}` : undefined;
  const ctx = scope.ctx;
  return {
    type,
    ...(name ? { name } : {}),
    fn: (row) => fn!.eval(args.map((a) => a.fn(row)), { now: ctx.now, row }, types),
  };
}

// ---- naming -----------------------------------------------------------------------------------------------------

/** Unique column names for one operator's output: explicit names win, then default names, then Column1, Column2... */
class Names {
  private readonly taken = new Set<string>();
  private generated = 0;
  constructor(reserved: Iterable<string> = []) {
    for (const n of reserved) this.taken.add(n);
  }
  claim(name: string | undefined): string {
    if (name === undefined) {
      let candidate: string;
      do candidate = `Column${++this.generated}`;
      while (this.taken.has(candidate));
      this.taken.add(candidate);
      return candidate;
    }
    let candidate = name;
    for (let n = 1; this.taken.has(candidate); n++) candidate = `${name}${n}`;
    this.taken.add(candidate);
    return candidate;
  }
}

// ---- operators ------------------------------------------------------------------------------------------------

interface Stage {
  columns: Column[];
  rows: Row[];
}

/** Operators that keep the input's rows (so their ingestion time) carry the hidden column along. */
function carryIngestion(from: Row, to: Row): Row {
  if (from[INGESTION_TIME] !== undefined) to[INGESTION_TIME] = from[INGESTION_TIME];
  return to;
}

function sortRows(rows: Row[], keys: Array<{ fn: (row: Row) => Value; key: SortKey }>): Row[] {
  return [...rows].sort((x, y) => {
    for (const { fn, key } of keys) {
      const a = fn(x);
      const b = fn(y);
      const an = a === null || a === undefined;
      const bn = b === null || b === undefined;
      if (an || bn) {
        if (an && bn) continue;
        return (an ? -1 : 1) * (key.nullsFirst ? 1 : -1);
      }
      const c = compare(a, b);
      if (c !== 0) return key.desc ? -c : c;
    }
    return 0;
  });
}

function applyOp(op: Op, input: Stage, ctx: EvalContext, tables: TableSource): Stage {
  const scope = scopeOf(input.columns, ctx);
  switch (op.op) {
    case "where": {
      const predicate = compileExpr(op.e, scope);
      if (predicate.type !== "bool") semantic(`where: the predicate is a ${predicate.type}, not a bool`);
      return { columns: input.columns, rows: input.rows.filter((r) => truthy(predicate.fn(r))) };
    }
    case "extend": {
      const compiled = op.items.map((item) => ({ item, c: compileExpr(item.e, scope) }));
      const names = new Names();
      const columns = [...input.columns];
      const assignments: Array<{ name: string; fn: (row: Row) => Value }> = [];
      for (const { item, c } of compiled) {
        // A name already in the input is replaced in place; a new one is added at the end.
        const name = item.name ?? c.name ?? names.claim(undefined);
        const at = columns.findIndex((col) => col.name === name);
        if (at >= 0) columns[at] = { name, type: c.type };
        else columns.push({ name, type: c.type });
        assignments.push({ name, fn: c.fn });
      }
      return {
        columns,
        rows: input.rows.map((r) => {
          const out: Row = { ...r };
          for (const a of assignments) out[a.name] = a.fn(r);
          return out;
        }),
      };
    }
    case "project":
    case "distinct": {
      const names = new Names();
      const compiled = op.items.map((item) => {
        const c = compileExpr(item.e, scope);
        return { name: names.claim(item.name ?? c.name), c };
      });
      const columns = compiled.map(({ name, c }) => ({ name, type: c.type }));
      const project = (r: Row): Row => Object.fromEntries(compiled.map(({ name, c }) => [name, c.fn(r)]));
      if (op.op === "project") return { columns, rows: input.rows.map((r) => carryIngestion(r, project(r))) };
      const seen = new Map<string, Row>();
      for (const r of input.rows) {
        const out = project(r);
        const key = JSON.stringify(columns.map((c) => toText(out[c.name] ?? null, c.type)));
        if (!seen.has(key)) seen.set(key, out);
      }
      return { columns, rows: [...seen.values()] };
    }
    case "project-away": {
      const patterns = op.names.map(({ pattern, pos }) => {
        const regex = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
        if (!pattern.includes("*") && !scope.byName.has(pattern)) semantic(`project-away: '${pattern}' is not a column (SEM0100: Failed to resolve column '${pattern}')`, pos);
        return regex;
      });
      const dropped = new Set(input.columns.filter((c) => patterns.some((p) => p.test(c.name))).map((c) => c.name));
      return {
        columns: input.columns.filter((c) => !dropped.has(c.name)),
        rows: input.rows.map((r): Row => Object.fromEntries(Object.entries(r).filter(([k]) => !dropped.has(k)))),
      };
    }
    case "summarize":
      return summarize(op, input, scope);
    case "sort": {
      const keys = op.keys.map((key) => ({ fn: compileExpr(key.e, scope).fn, key }));
      return { columns: input.columns, rows: sortRows(input.rows, keys) };
    }
    case "take":
      return { columns: input.columns, rows: input.rows.slice(0, op.n) };
    case "top": {
      const fn = compileExpr(op.key.e, scope).fn;
      return { columns: input.columns, rows: sortRows(input.rows, [{ fn, key: op.key }]).slice(0, op.n) };
    }
    case "count":
      return { columns: [{ name: "Count", type: "long" }], rows: [{ Count: input.rows.length }] };
    case "union":
      return unionStages([input, ...legs(op.union, ctx, tables)], op.union);
  }
}

function summarize(op: Op & { op: "summarize" }, input: Stage, scope: Scope): Stage {
  const names = new Names();
  const by = op.by.map((item) => {
    const c = compileExpr(item.e, scope);
    return { name: names.claim(item.name ?? c.name), c };
  });
  const byNames = new Set(by.map((b) => b.name));
  const aggs = op.aggs.map((item) => {
    const e = item.e;
    if (e.k !== "call" || !aggregateFunction(e.name)) {
      return semantic(`summarize: '${e.k === "call" ? e.name : e.k === "col" ? e.name : "expression"}' is not a supported aggregation function`, e.pos);
    }
    const fn = aggregateFunction(e.name)!;
    if (e.star && !fn.star) semantic(`${e.name}() does not take '*'`, e.pos);
    const [min, max] = fn.args;
    if (e.args.length < min || e.args.length > max) semantic(`${e.name}(): expects ${min === max ? min : `${min} to ${max}`} arguments, got ${e.args.length}`, e.pos);
    const args = e.args.map((a) => compileExpr(a, scope));
    const type = fn.type(args.map((a) => a.type), (message) => semantic(message, e.pos));
    const name = names.claim(item.name ?? fn.name(args[0]?.name));
    // arg_max(X, a, b) / arg_max(X, *) also return the other columns of the row that holds the extreme
    // ("arg_max() (aggregation function)"); * means every input column not already a group key.
    const extra = !fn.star
      ? []
      : [
          ...args.slice(1).map((a) => ({ name: names.claim(a.name), c: a })),
          ...(e.star
            ? input.columns
                .filter((col) => !byNames.has(col.name) && col.name !== args[0]?.name && !args.slice(1).some((a) => a.name === col.name))
                .map((col) => ({ name: names.claim(col.name), c: compileExpr({ k: "col", name: col.name, path: [], pos: e.pos }, scope) }))
            : []),
        ];
    return { name, type, fn, args, extra };
  });

  const groups = new Map<string, { key: Row; rows: Row[] }>();
  for (const r of input.rows) {
    const key: Row = Object.fromEntries(by.map((b) => [b.name, b.c.fn(r)]));
    const id = JSON.stringify(by.map((b) => toText(key[b.name] ?? null, b.c.type)));
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { key, rows: [] }));
    group.rows.push(r);
  }
  // Without group keys there is always one row, also over no rows (count() is 0, max() is null).
  if (!by.length && !groups.size) groups.set("", { key: {}, rows: [] });
  const rows: Row[] = [];
  for (const g of groups.values()) {
    const row: Row = { ...g.key };
    for (const a of aggs) {
      const { value, row: holder } = a.fn.eval(g.rows, a.args.map((x) => x.fn));
      row[a.name] = value;
      for (const x of a.extra) row[x.name] = holder ? x.c.fn(holder) : null;
    }
    rows.push(row);
  }
  const columns: Column[] = [
    ...by.map((b) => ({ name: b.name, type: b.c.type })),
    ...aggs.flatMap((a) => [{ name: a.name, type: a.type }, ...a.extra.map((x) => ({ name: x.name, type: x.c.type }))]),
  ];
  return { columns, rows };
}

// ---- sources and union ----------------------------------------------------------------------------------------

function legs(union: Union, ctx: EvalContext, tables: TableSource): Stage[] {
  const out: Stage[] = [];
  for (const leg of union.legs) {
    if (leg.k === "table" && !tables.table(leg.name)) {
      // isfuzzy=true ignores tables that do not resolve ("union operator" page); otherwise the query fails.
      if (union.isfuzzy) continue;
      unknownTable(leg.name, leg.pos);
    }
    out.push({ ...runSource(leg, ctx, tables), ...(leg.k === "table" ? { table: leg.name } : {}) });
  }
  if (!out.length) semantic("union: none of the tables exists");
  return out;
}

function unknownTable(name: string, pos?: number): never {
  return semantic(`'${name}' is not a table in this scope (SEM0100: Failed to resolve table expression named '${name}')`, pos);
}

/**
 * The outer union's schema: every leg's columns in order of first appearance; a name that comes with different
 * types becomes one column per type, named `<name>_<type>` (what Microsoft's parser computes for `union T, U`).
 */
function unionStages(stages: Array<Stage & { table?: string }>, union: Union): Stage {
  const order: string[] = [];
  const typesByName = new Map<string, KustoType[]>();
  const present = stages.map((s) => new Set(s.columns.map((c) => c.name)));
  for (const stage of stages) {
    for (const c of stage.columns) {
      const types = typesByName.get(c.name);
      if (!types) {
        order.push(c.name);
        typesByName.set(c.name, [c.type]);
      } else if (!types.includes(c.type)) types.push(c.type);
    }
  }
  const names = union.kind === "inner" ? order.filter((n) => present.every((p) => p.has(n))) : order;
  const columns: Column[] = [];
  for (const name of names) {
    const types = typesByName.get(name)!;
    if (types.length === 1) columns.push({ name, type: types[0]! });
    else for (const type of types) columns.push({ name: `${name}_${type}`, type });
  }
  if (union.withsource) columns.unshift({ name: union.withsource, type: "string" });
  const rows: Row[] = [];
  for (const stage of stages) {
    const typeOf = new Map(stage.columns.map((c) => [c.name, c.type]));
    for (const r of stage.rows) {
      const out: Row = {};
      if (union.withsource) out[union.withsource] = stage.table ?? "";
      for (const name of names) {
        const t = typeOf.get(name);
        if (t === undefined) continue;
        out[typesByName.get(name)!.length === 1 ? name : `${name}_${t}`] = r[name] ?? null;
      }
      rows.push(carryIngestion(r, out));
    }
  }
  return { columns, rows };
}

function runSource(source: Source, ctx: EvalContext, tables: TableSource): Stage {
  switch (source.k) {
    case "table": {
      const table = tables.table(source.name);
      if (!table) return unknownTable(source.name, source.pos);
      return { columns: table.columns, rows: table.rows };
    }
    case "pipeline":
      return runPipeline(source.query, ctx, tables);
    case "union":
      return unionStages(legs(source.union, ctx, tables), source.union);
  }
}

function runPipeline(query: Query, ctx: EvalContext, tables: TableSource): Stage {
  let stage = runSource(query.source, ctx, tables);
  for (const op of query.ops) stage = applyOp(op, stage, ctx, tables);
  return stage;
}

export function evaluate(query: Query, tables: TableSource, ctx: EvalContext): Table {
  const { columns, rows } = runPipeline(query, ctx, tables);
  return { columns, rows };
}
