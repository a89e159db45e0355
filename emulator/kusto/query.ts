import { KqlError, tokenize } from "./lexer.js";
import type { Token } from "./lexer.js";

/**
 * Parser and evaluator for the KQL subset AuditGuard's queries and the emulator's tests use: a table, then
 * where / project / project-away / extend / summarize / order by / sort by / take / limit / top / count /
 * distinct. Anything else is refused with the service's error, never answered wrongly.
 */
export type Value = string | number | boolean | Date | null | Record<string, unknown> | unknown[];
export type Row = Record<string, Value>;
export type KustoType = "string" | "datetime" | "long" | "int" | "real" | "bool" | "guid" | "dynamic" | "timespan";
export interface Column {
  name: string;
  type: KustoType;
}
export interface Table {
  columns: Column[];
  rows: Row[];
}

type Expr =
  | { k: "lit"; v: Value; type?: KustoType }
  | { k: "col"; name: string; path: string[] }
  | { k: "call"; name: string; args: Expr[]; star?: boolean }
  | { k: "bin"; op: string; l: Expr; r: Expr }
  | { k: "not"; e: Expr }
  | { k: "neg"; e: Expr }
  | { k: "in"; e: Expr; list: Expr[]; negate: boolean; ci: boolean }
  | { k: "between"; e: Expr; lo: Expr; hi: Expr; negate: boolean };

type Op =
  | { op: "where"; e: Expr }
  | { op: "project"; items: Array<{ name: string; e: Expr }> }
  | { op: "project-away"; names: string[] }
  | { op: "extend"; items: Array<{ name: string; e: Expr }> }
  | { op: "summarize"; aggs: Array<{ name: string; e: Expr & { k: "call" } }>; by: Array<{ name: string; e: Expr }> }
  | { op: "sort"; keys: Array<{ e: Expr; desc: boolean }> }
  | { op: "take"; n: number }
  | { op: "top"; n: number; key: { e: Expr; desc: boolean } }
  | { op: "count" }
  | { op: "distinct"; items: Array<{ name: string; e: Expr }> };

export interface Query {
  table: string;
  ops: Op[];
}

const STRING_OPS = new Set(["contains", "contains_cs", "has", "startswith", "endswith", "!contains", "!contains_cs", "!has", "!startswith", "!endswith", "matches"]);
const AGGREGATES = new Set(["count", "countif", "max", "min", "sum", "avg", "dcount", "make_set", "make_list", "arg_max", "arg_min", "any", "take_any"]);
const SCALARS = new Set(["ago", "now", "datetime", "todatetime", "tolower", "toupper", "strlen", "tostring", "toint", "tolong", "isempty", "isnotempty", "isnull", "isnotnull", "bin", "floor", "strcat", "iff", "iif", "coalesce", "trim", "extract", "timespan", "totimespan", "dynamic", "tobool", "todouble", "toreal"]);

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)]!;
  }
  private next(): Token {
    return this.tokens[this.i++]!;
  }
  private fail(token: Token = this.peek(), detail = ""): never {
    const near = token.kind === "eof" ? "end of query" : `'${token.text}'`;
    throw new KqlError("SyntaxError", `Query could not be parsed at ${near} on line [1,${token.pos}]${detail ? `: ${detail}` : ""}`, token.pos);
  }
  private isOp(text: string): boolean {
    const t = this.peek();
    return t.kind === "op" && t.text === text;
  }
  private isWord(text: string): boolean {
    const t = this.peek();
    return t.kind === "ident" && t.text.toLowerCase() === text;
  }
  private expectOp(text: string): void {
    if (!this.isOp(text)) this.fail(this.peek(), `expected '${text}'`);
    this.i++;
  }
  private expectWord(text: string): void {
    if (!this.isWord(text)) this.fail(this.peek(), `expected '${text}'`);
    this.i++;
  }
  private ident(): string {
    const t = this.next();
    if (t.kind !== "ident") this.fail(t, "expected a name");
    return t.text;
  }

  parse(): Query {
    if (this.isWord("let")) throw new KqlError("SemanticError", "'let' statements are not supported by this emulator", this.peek().pos);
    const table = this.ident();
    const ops: Op[] = [];
    while (this.isOp("|")) {
      this.i++;
      ops.push(this.operator());
    }
    if (this.isOp(";")) this.i++;
    if (this.peek().kind !== "eof") this.fail();
    return { table, ops };
  }

  private operator(): Op {
    const t = this.next();
    if (t.kind !== "ident") this.fail(t, "expected a tabular operator");
    switch (t.text.toLowerCase()) {
      case "where":
      case "filter":
        return { op: "where", e: this.expr() };
      case "project":
        return { op: "project", items: this.namedList(true) };
      case "project-away": {
        const names = [this.ident()];
        while (this.isOp(",")) {
          this.i++;
          names.push(this.ident());
        }
        return { op: "project-away", names };
      }
      case "extend":
        return { op: "extend", items: this.namedList(false) };
      case "summarize":
        return this.summarize();
      case "order":
      case "sort": {
        this.expectWord("by");
        const keys = [this.sortKey()];
        while (this.isOp(",")) {
          this.i++;
          keys.push(this.sortKey());
        }
        return { op: "sort", keys };
      }
      case "take":
      case "limit":
        return { op: "take", n: this.count() };
      case "top": {
        const n = this.count();
        this.expectWord("by");
        return { op: "top", n, key: this.sortKey() };
      }
      case "count":
        return { op: "count" };
      case "distinct":
        return { op: "distinct", items: this.namedList(true) };
      default:
        throw new KqlError("SyntaxError", `Query could not be parsed at '${t.text}' on line [1,${t.pos}]: '${t.text}' is not a supported tabular operator`, t.pos);
    }
  }

  private count(): number {
    const t = this.next();
    if (t.kind !== "number" || !Number.isInteger(t.value)) this.fail(t, "expected a row count");
    return t.value!;
  }

  private sortKey(): { e: Expr; desc: boolean } {
    const e = this.expr();
    let desc = true; // Kusto sorts descending unless told otherwise
    if (this.isWord("asc")) {
      desc = false;
      this.i++;
    } else if (this.isWord("desc")) this.i++;
    if (this.isWord("nulls")) {
      this.i++;
      if (this.isWord("first") || this.isWord("last")) this.i++;
      else this.fail();
    }
    return { e, desc };
  }

  private namedList(allowBare: boolean): Array<{ name: string; e: Expr }> {
    const items = [this.named(allowBare)];
    while (this.isOp(",")) {
      this.i++;
      items.push(this.named(allowBare));
    }
    return items;
  }

  private named(allowBare: boolean, fallbackName?: string): { name: string; e: Expr } {
    if (this.peek().kind === "ident" && this.peek(1).kind === "op" && this.peek(1).text === "=") {
      const name = this.ident();
      this.i++;
      return { name, e: this.expr() };
    }
    const e = this.expr();
    if (e.k === "col") return { name: e.path.length ? `${e.name}_${e.path.join("_")}` : e.name, e };
    if (fallbackName) return { name: fallbackName, e };
    if (!allowBare) this.fail(this.peek(), "expected 'name = expression'");
    return { name: `Column${Math.random().toString(36).slice(2, 6)}`, e };
  }

  private summarize(): Op {
    const aggs: Array<{ name: string; e: Expr & { k: "call" } }> = [];
    if (!this.isWord("by")) {
      do {
        if (aggs.length) this.i++;
        const start = this.peek();
        const item = this.named(true, "");
        if (item.e.k !== "call" || !AGGREGATES.has(item.e.name)) {
          throw new KqlError("SemanticError", `summarize operator: '${start.text}' is not a supported aggregation function`, start.pos);
        }
        const call = item.e;
        const name = item.name || (call.name === "count" ? "count_" : `${call.name}_${call.args[0]?.k === "col" ? call.args[0].name : ""}`);
        aggs.push({ name, e: call });
      } while (this.isOp(","));
    }
    const by: Array<{ name: string; e: Expr }> = [];
    if (this.isWord("by")) {
      this.i++;
      by.push(...this.namedList(true));
    }
    return { op: "summarize", aggs, by };
  }

  expr(): Expr {
    let left = this.and();
    while (this.isWord("or")) {
      this.i++;
      left = { k: "bin", op: "or", l: left, r: this.and() };
    }
    return left;
  }
  private and(): Expr {
    let left = this.comparison();
    while (this.isWord("and")) {
      this.i++;
      left = { k: "bin", op: "and", l: left, r: this.comparison() };
    }
    return left;
  }
  private comparison(): Expr {
    const left = this.additive();
    const t = this.peek();
    if (t.kind === "op" && ["==", "!=", "=~", "!~", "<", "<=", ">", ">="].includes(t.text)) {
      this.i++;
      return { k: "bin", op: t.text, l: left, r: this.additive() };
    }
    const word = t.kind === "ident" ? t.text.toLowerCase() : t.text;
    if ((t.kind === "ident" && STRING_OPS.has(word)) || (t.kind === "op" && STRING_OPS.has(t.text))) {
      this.i++;
      return { k: "bin", op: word, l: left, r: this.additive() };
    }
    if ((t.kind === "ident" && word === "in") || (t.kind === "op" && (t.text === "!in" || t.text === "!in~"))) {
      this.i++;
      let ci = t.text === "!in~";
      if (this.isOp("~")) {
        this.i++;
        ci = true;
      }
      this.expectOp("(");
      const list = [this.additive()];
      while (this.isOp(",")) {
        this.i++;
        list.push(this.additive());
      }
      this.expectOp(")");
      return { k: "in", e: left, list, negate: t.text.startsWith("!"), ci };
    }
    if (t.kind === "ident" && word === "between") {
      this.i++;
      this.expectOp("(");
      const lo = this.additive();
      this.expectOp("..");
      const hi = this.additive();
      this.expectOp(")");
      return { k: "between", e: left, lo, hi, negate: false };
    }
    return left;
  }
  private additive(): Expr {
    let left = this.multiplicative();
    while (this.isOp("+") || this.isOp("-")) {
      const op = this.next().text;
      left = { k: "bin", op, l: left, r: this.multiplicative() };
    }
    return left;
  }
  private multiplicative(): Expr {
    let left = this.unary();
    while (this.isOp("*") || this.isOp("/")) {
      const op = this.next().text;
      left = { k: "bin", op, l: left, r: this.unary() };
    }
    return left;
  }
  private unary(): Expr {
    if (this.isOp("-")) {
      this.i++;
      return { k: "neg", e: this.unary() };
    }
    return this.primary();
  }
  private primary(): Expr {
    const t = this.next();
    if (t.kind === "string") return { k: "lit", v: t.text, type: "string" };
    if (t.kind === "number") return { k: "lit", v: t.value!, type: Number.isInteger(t.value) && !t.text.includes(".") ? "long" : "real" };
    if (t.kind === "timespan") return { k: "lit", v: t.value!, type: "timespan" };
    if (t.kind === "op" && t.text === "(") {
      const e = this.expr();
      this.expectOp(")");
      return e;
    }
    if (t.kind !== "ident") this.fail(t);
    const lower = t.text.toLowerCase();
    if (lower === "true" || lower === "false") return { k: "lit", v: lower === "true", type: "bool" };
    if (lower === "null") return { k: "lit", v: null };
    if (lower === "not" && this.isOp("(")) {
      this.i++;
      const e = this.expr();
      this.expectOp(")");
      return { k: "not", e };
    }
    if (this.isOp("(")) {
      this.i++;
      if (!SCALARS.has(lower) && !AGGREGATES.has(lower)) throw new KqlError("SemanticError", `'${t.text}' is not a supported function`, t.pos);
      const args: Expr[] = [];
      let star = false;
      if (lower === "datetime" || lower === "timespan" || lower === "dynamic") {
        // datetime(2026-11-24T10:00:00Z) takes an unquoted literal: read raw text up to the closing parenthesis.
        let raw = "";
        while (!this.isOp(")")) {
          if (this.peek().kind === "eof") this.fail();
          const tok = this.next();
          raw += tok.kind === "string" ? tok.text : tok.text;
        }
        this.i++;
        if (lower === "dynamic") throw new KqlError("SemanticError", "dynamic() literals are not supported by this emulator", t.pos);
        if (lower === "timespan") {
          const ms = tokenize(raw)[0];
          if (!ms || ms.kind !== "timespan") this.fail(t, "invalid timespan literal");
          return { k: "lit", v: ms.value!, type: "timespan" };
        }
        const d = new Date(raw.trim());
        if (Number.isNaN(d.getTime())) throw new KqlError("SyntaxError", `invalid datetime literal '${raw}'`, t.pos);
        return { k: "lit", v: d, type: "datetime" };
      }
      if (!this.isOp(")")) {
        do {
          if (args.length || star) this.i++;
          if (this.isOp("*")) {
            this.i++;
            star = true;
          } else args.push(this.expr());
        } while (this.isOp(","));
      }
      this.expectOp(")");
      return { k: "call", name: lower, args, ...(star ? { star } : {}) };
    }
    const path: string[] = [];
    for (;;) {
      if (this.isOp(".") && this.peek(1).kind === "ident") {
        this.i++;
        path.push(this.ident());
      } else if (this.isOp("[") && this.peek(1).kind === "string") {
        this.i++;
        path.push(this.next().text);
        this.expectOp("]");
      } else break;
    }
    return { k: "col", name: t.text, path };
  }
}

export function parseQuery(text: string): Query {
  return new Parser(tokenize(text)).parse();
}

// ---- evaluation ----

export interface EvalContext {
  now: Date;
}

function typeOf(v: Value): KustoType | undefined {
  if (v === null || v === undefined) return undefined;
  if (v instanceof Date) return "datetime";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "long" : "real";
  if (typeof v === "string") return "string";
  return "dynamic";
}

const str = (v: Value): string => (v === null || v === undefined ? "" : v instanceof Date ? v.toISOString() : typeof v === "object" ? JSON.stringify(v) : String(v));
const isEmpty = (v: Value) => v === null || v === undefined || v === "";

function hasTerm(haystack: string, term: string): boolean {
  if (!term) return true;
  const words = haystack.toLowerCase().split(/[^\p{L}\p{N}_]+/u);
  const t = term.toLowerCase();
  if (/^[\p{L}\p{N}_]+$/u.test(t)) return words.includes(t);
  return haystack.toLowerCase().includes(t);
}

function compare(a: Value, b: Value): number {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : -1;
  if (b === null || b === undefined) return 1;
  const x = a instanceof Date ? a.getTime() : a;
  const y = b instanceof Date ? b.getTime() : b;
  if (typeof x === "number" && typeof y === "number") return x - y;
  if (typeof x === "boolean" && typeof y === "boolean") return Number(x) - Number(y);
  return str(a) < str(b) ? -1 : str(a) > str(b) ? 1 : 0;
}

function equal(a: Value, b: Value): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return false;
  if (a instanceof Date || b instanceof Date) {
    const x = a instanceof Date ? a.getTime() : new Date(str(a)).getTime();
    const y = b instanceof Date ? b.getTime() : new Date(str(b)).getTime();
    return x === y;
  }
  if (typeof a === "string" && typeof b === "string") return a === b;
  if (typeof a === "number" && typeof b === "number") return a === b;
  if (typeof a === "boolean" && typeof b === "boolean") return a === b;
  return str(a) === str(b);
}

function evaluate(e: Expr, row: Row, ctx: EvalContext, columns: ReadonlySet<string>): Value {
  switch (e.k) {
    case "lit":
      return e.v;
    case "col": {
      if (!columns.has(e.name)) throw new KqlError("SemanticError", `'${e.name}' is not a column of the table or a supported name (SEM0100: Failed to resolve scalar expression named '${e.name}')`);
      let v: unknown = row[e.name] ?? null;
      for (const key of e.path) v = v && typeof v === "object" && !(v instanceof Date) ? ((v as Record<string, unknown>)[key] ?? null) : null;
      return v as Value;
    }
    case "not":
      return !truthy(evaluate(e.e, row, ctx, columns));
    case "neg": {
      const v = evaluate(e.e, row, ctx, columns);
      return typeof v === "number" ? -v : null;
    }
    case "in": {
      const v = evaluate(e.e, row, ctx, columns);
      const found = e.list.some((item) => {
        const w = evaluate(item, row, ctx, columns);
        return e.ci ? str(v).toLowerCase() === str(w).toLowerCase() : equal(v, w);
      });
      return e.negate ? !found : found;
    }
    case "between": {
      const v = evaluate(e.e, row, ctx, columns);
      if (v === null) return false;
      return compare(v, evaluate(e.lo, row, ctx, columns)) >= 0 && compare(v, evaluate(e.hi, row, ctx, columns)) <= 0;
    }
    case "bin": {
      if (e.op === "and") return truthy(evaluate(e.l, row, ctx, columns)) && truthy(evaluate(e.r, row, ctx, columns));
      if (e.op === "or") return truthy(evaluate(e.l, row, ctx, columns)) || truthy(evaluate(e.r, row, ctx, columns));
      const l = evaluate(e.l, row, ctx, columns);
      const r = evaluate(e.r, row, ctx, columns);
      switch (e.op) {
        case "==":
          return equal(l, r);
        case "!=":
          return l !== null && r !== null && !equal(l, r);
        case "=~":
          return l !== null && str(l).toLowerCase() === str(r).toLowerCase();
        case "!~":
          return l !== null && str(l).toLowerCase() !== str(r).toLowerCase();
        case "<":
          return l !== null && r !== null && compare(l, r) < 0;
        case "<=":
          return l !== null && r !== null && compare(l, r) <= 0;
        case ">":
          return l !== null && r !== null && compare(l, r) > 0;
        case ">=":
          return l !== null && r !== null && compare(l, r) >= 0;
        case "contains":
          return str(l).toLowerCase().includes(str(r).toLowerCase());
        case "!contains":
          return !str(l).toLowerCase().includes(str(r).toLowerCase());
        case "contains_cs":
          return str(l).includes(str(r));
        case "!contains_cs":
          return !str(l).includes(str(r));
        case "has":
          return hasTerm(str(l), str(r));
        case "!has":
          return !hasTerm(str(l), str(r));
        case "startswith":
          return str(l).toLowerCase().startsWith(str(r).toLowerCase());
        case "!startswith":
          return !str(l).toLowerCase().startsWith(str(r).toLowerCase());
        case "endswith":
          return str(l).toLowerCase().endsWith(str(r).toLowerCase());
        case "!endswith":
          return !str(l).toLowerCase().endsWith(str(r).toLowerCase());
        case "matches":
          throw new KqlError("SemanticError", "'matches regex' is not supported by this emulator");
        case "+":
        case "-": {
          const sign = e.op === "+" ? 1 : -1;
          if (l instanceof Date && typeof r === "number") return new Date(l.getTime() + sign * r);
          if (l instanceof Date && r instanceof Date && sign === -1) return l.getTime() - r.getTime();
          if (typeof l === "number" && typeof r === "number") return l + sign * r;
          return null;
        }
        case "*":
          return typeof l === "number" && typeof r === "number" ? l * r : null;
        case "/":
          return typeof l === "number" && typeof r === "number" && r !== 0 ? l / r : null;
      }
      throw new KqlError("SemanticError", `operator '${e.op}' is not supported`);
    }
    case "call":
      return callScalar(e, row, ctx, columns);
  }
}

function truthy(v: Value): boolean {
  return v === true;
}

function callScalar(e: Expr & { k: "call" }, row: Row, ctx: EvalContext, columns: ReadonlySet<string>): Value {
  const args = e.args.map((a) => evaluate(a, row, ctx, columns));
  const [a, b, c] = args;
  switch (e.name) {
    case "ago":
      return typeof a === "number" ? new Date(ctx.now.getTime() - a) : null;
    case "now":
      return typeof a === "number" ? new Date(ctx.now.getTime() + a) : ctx.now;
    case "todatetime": {
      if (a instanceof Date) return a;
      const d = new Date(str(a));
      return a === null || Number.isNaN(d.getTime()) ? null : d;
    }
    case "tolower":
      return a === null ? null : str(a).toLowerCase();
    case "toupper":
      return a === null ? null : str(a).toUpperCase();
    case "strlen":
      return str(a).length;
    case "tostring":
      return a === null ? "" : str(a);
    case "toint":
    case "tolong": {
      const n = Number.parseInt(str(a), 10);
      return Number.isNaN(n) ? null : n;
    }
    case "todouble":
    case "toreal": {
      const n = Number(str(a));
      return a === null || Number.isNaN(n) ? null : n;
    }
    case "tobool":
      return a === null ? null : /^(true|1)$/i.test(str(a));
    case "isempty":
      return isEmpty(a ?? null);
    case "isnotempty":
      return !isEmpty(a ?? null);
    case "isnull":
      return a === null || a === undefined;
    case "isnotnull":
      return !(a === null || a === undefined);
    case "bin":
    case "floor":
      if (a instanceof Date && typeof b === "number") return new Date(Math.floor(a.getTime() / b) * b);
      if (typeof a === "number" && typeof b === "number") return Math.floor(a / b) * b;
      return null;
    case "strcat":
      return args.map(str).join("");
    case "iff":
    case "iif":
      return truthy(a ?? null) ? (b ?? null) : (c ?? null);
    case "coalesce":
      return args.find((v) => !isEmpty(v ?? null)) ?? null;
    case "trim":
      return str(b).replace(new RegExp(`^(${str(a)})+|(${str(a)})+$`, "g"), "");
    case "extract": {
      const m = new RegExp(str(a)).exec(str(c));
      return m ? (m[Number(b)] ?? null) : null;
    }
  }
  throw new KqlError("SemanticError", `'${e.name}' cannot be used here`);
}

function aggregate(call: Expr & { k: "call" }, rows: Row[], ctx: EvalContext, columns: ReadonlySet<string>): { value: Value; extra?: Row } {
  const values = () => rows.map((r) => evaluate(call.args[0]!, r, ctx, columns));
  switch (call.name) {
    case "count":
      return { value: rows.length };
    case "countif":
      return { value: rows.filter((r) => truthy(evaluate(call.args[0]!, r, ctx, columns))).length };
    case "sum":
      return { value: values().reduce<number>((s, v) => s + (typeof v === "number" ? v : 0), 0) };
    case "avg": {
      const nums = values().filter((v): v is number => typeof v === "number");
      return { value: nums.length ? nums.reduce((s, v) => s + v, 0) / nums.length : null };
    }
    case "max":
    case "min": {
      const vs = values().filter((v) => v !== null && v !== undefined);
      if (!vs.length) return { value: null };
      return { value: vs.reduce((best, v) => ((call.name === "max" ? compare(v, best) > 0 : compare(v, best) < 0) ? v : best)) };
    }
    case "dcount":
      return { value: new Set(values().map(str)).size };
    case "make_set":
      return { value: [...new Map(values().filter((v) => v !== null).map((v) => [str(v), v])).values()] as unknown[] };
    case "make_list":
      return { value: values().filter((v) => v !== null) as unknown[] };
    case "any":
    case "take_any":
      return { value: rows.length ? evaluate(call.args[0]!, rows[0]!, ctx, columns) : null };
    case "arg_max":
    case "arg_min": {
      let best: Row | undefined;
      let bestValue: Value = null;
      for (const r of rows) {
        const v = evaluate(call.args[0]!, r, ctx, columns);
        if (v === null) continue;
        if (!best || (call.name === "arg_max" ? compare(v, bestValue) > 0 : compare(v, bestValue) < 0)) {
          best = r;
          bestValue = v;
        }
      }
      return { value: bestValue, extra: best ?? {} };
    }
  }
  throw new KqlError("SemanticError", `'${call.name}' is not a supported aggregation`);
}

function columnType(name: string, rows: Row[], fallback?: Column[]): KustoType {
  for (const r of rows) {
    const t = typeOf(r[name] ?? null);
    if (t) return t;
  }
  return fallback?.find((c) => c.name === name)?.type ?? "string";
}

export function run(query: Query, source: Table, ctx: EvalContext): Table {
  let columns = [...source.columns];
  let rows = source.rows;
  const names = () => new Set(columns.map((c) => c.name));
  for (const op of query.ops) {
    const known = names();
    switch (op.op) {
      case "where":
        rows = rows.filter((r) => truthy(evaluate(op.e, r, ctx, known)));
        if (!rows.length) evaluate(op.e, Object.fromEntries(columns.map((c) => [c.name, null])), ctx, known); // still resolve names
        break;
      case "project":
      case "extend": {
        const items = op.items;
        const probe: Row = Object.fromEntries(columns.map((c) => [c.name, null]));
        for (const item of items) evaluate(item.e, probe, ctx, known);
        const next = rows.map((r) => {
          const out: Row = op.op === "extend" ? { ...r } : {};
          for (const item of items) out[item.name] = evaluate(item.e, r, ctx, known);
          return out;
        });
        const computed = items.map((item) => ({ name: item.name, type: item.e.k === "col" && !item.e.path.length ? columnType(item.e.name, rows, columns) : item.e.k === "lit" && item.e.type ? item.e.type : columnType(item.name, next, columns) }));
        columns = op.op === "extend" ? [...columns.filter((c) => !items.some((i) => i.name === c.name)), ...computed] : computed;
        rows = next;
        break;
      }
      case "project-away":
        for (const n of op.names) if (!known.has(n)) throw new KqlError("SemanticError", `project-away: '${n}' is not a column`);
        columns = columns.filter((c) => !op.names.includes(c.name));
        rows = rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !op.names.includes(k))) as Row);
        break;
      case "summarize": {
        const probe: Row = Object.fromEntries(columns.map((c) => [c.name, null]));
        for (const k of op.by) evaluate(k.e, probe, ctx, known);
        for (const a of op.aggs) for (const arg of a.e.args) evaluate(arg, probe, ctx, known);
        const groups = new Map<string, { key: Row; rows: Row[] }>();
        for (const r of rows) {
          const key: Row = Object.fromEntries(op.by.map((k) => [k.name, evaluate(k.e, r, ctx, known)]));
          const id = JSON.stringify(Object.values(key).map(str));
          const g = groups.get(id) ?? { key, rows: [] };
          g.rows.push(r);
          groups.set(id, g);
        }
        if (!op.by.length && !groups.size) groups.set("", { key: {}, rows: [] });
        const out: Row[] = [];
        const extraColumns: Column[] = [];
        for (const g of groups.values()) {
          const row: Row = { ...g.key };
          for (const a of op.aggs) {
            const { value, extra } = aggregate(a.e, g.rows, ctx, known);
            row[a.name] = value;
            if (extra && (a.e.name === "arg_max" || a.e.name === "arg_min")) {
              const wanted = a.e.star ? columns.map((c) => c.name) : a.e.args.slice(1).map((x) => (x.k === "col" ? x.name : ""));
              for (const w of wanted) if (w && !(w in row)) row[w] = (extra[w] ?? null) as Value;
            }
          }
          out.push(row);
        }
        const aggColumns = op.aggs.map((a) => ({ name: a.name, type: (a.e.name.startsWith("count") || a.e.name === "dcount" ? "long" : a.e.name.startsWith("make_") ? "dynamic" : columnType(a.name, out, columns)) as KustoType }));
        for (const a of op.aggs) {
          if (a.e.name !== "arg_max" && a.e.name !== "arg_min") continue;
          const wanted = a.e.star ? columns.map((c) => c.name) : a.e.args.slice(1).map((x) => (x.k === "col" ? x.name : ""));
          for (const w of wanted) if (w && !extraColumns.some((c) => c.name === w) && !op.by.some((b) => b.name === w) && w !== a.name) extraColumns.push({ name: w, type: columns.find((c) => c.name === w)?.type ?? "string" });
        }
        columns = [...op.by.map((k) => ({ name: k.name, type: k.e.k === "col" ? columnType(k.e.name, rows, columns) : columnType(k.name, out, columns) })), ...aggColumns, ...extraColumns];
        rows = out;
        break;
      }
      case "sort":
        rows = [...rows].sort((x, y) => {
          for (const key of op.keys) {
            const c = compare(evaluate(key.e, x, ctx, known), evaluate(key.e, y, ctx, known));
            if (c !== 0) return key.desc ? -c : c;
          }
          return 0;
        });
        break;
      case "take":
        rows = rows.slice(0, op.n);
        break;
      case "top":
        rows = [...rows].sort((x, y) => {
          const c = compare(evaluate(op.key.e, x, ctx, known), evaluate(op.key.e, y, ctx, known));
          return op.key.desc ? -c : c;
        }).slice(0, op.n);
        break;
      case "count":
        rows = [{ Count: rows.length }];
        columns = [{ name: "Count", type: "long" }];
        break;
      case "distinct": {
        const seen = new Map<string, Row>();
        for (const r of rows) {
          const out: Row = Object.fromEntries(op.items.map((i) => [i.name, evaluate(i.e, r, ctx, known)]));
          seen.set(JSON.stringify(Object.values(out).map(str)), out);
        }
        columns = op.items.map((i) => ({ name: i.name, type: i.e.k === "col" ? columnType(i.e.name, rows, columns) : "string" }));
        rows = [...seen.values()];
        break;
      }
    }
  }
  return { columns, rows };
}
