import { KqlError, tokenize } from "./lexer.js";
import type { Token } from "./lexer.js";
import type { Expr, Named, Op, Query, SortKey, Source, Union } from "./ast.js";

/**
 * KQL text to a syntax tree (emulator/kusto/ast.ts): a table, a parenthesised pipeline or a `union`, then
 * where / filter / project / project-away / extend / summarize / order by / sort by / take / limit / top / count /
 * distinct / union. Names are not resolved here (emulator/kusto/evaluator.ts does that against the schema);
 * anything the grammar does not know is a syntax error with its position, as the service reports it.
 */
const STRING_OPS = new Set([
  "contains", "contains_cs", "has", "has_cs", "startswith", "startswith_cs", "endswith", "endswith_cs", "matches",
  "!contains", "!contains_cs", "!has", "!has_cs", "!startswith", "!startswith_cs", "!endswith", "!endswith_cs",
]);
const COMPARISONS = ["==", "!=", "=~", "!~", "<", "<=", ">", ">="];

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
  private isOp(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === "op" && t.text === text;
  }
  private isWord(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === "ident" && t.text.toLowerCase() === text;
  }
  private acceptOp(text: string): boolean {
    if (!this.isOp(text)) return false;
    this.i++;
    return true;
  }
  private acceptWord(text: string): boolean {
    if (!this.isWord(text)) return false;
    this.i++;
    return true;
  }
  private expectOp(text: string): void {
    if (!this.acceptOp(text)) this.fail(this.peek(), `expected '${text}'`);
  }
  private expectWord(text: string): void {
    if (!this.acceptWord(text)) this.fail(this.peek(), `expected '${text}'`);
  }
  private ident(): string {
    const t = this.next();
    if (t.kind !== "ident") this.fail(t, "expected a name");
    return t.text;
  }

  parse(): Query {
    if (this.isWord("let")) throw new KqlError("SemanticError", "'let' statements are not supported by this emulator", this.peek().pos);
    const query = this.pipeline();
    this.acceptOp(";");
    if (this.peek().kind !== "eof") this.fail();
    return query;
  }

  private pipeline(): Query {
    const source = this.source();
    const ops: Op[] = [];
    while (this.acceptOp("|")) ops.push(this.operator());
    return { source, ops };
  }

  private source(): Source {
    if (this.acceptOp("(")) {
      const query = this.pipeline();
      this.expectOp(")");
      return { k: "pipeline", query };
    }
    if (this.isWord("union")) {
      this.i++;
      return { k: "union", union: this.union(true) };
    }
    const t = this.next();
    if (t.kind !== "ident") this.fail(t, "expected a table name");
    return { k: "table", name: t.text, pos: t.pos };
  }

  /** `union [kind=inner|outer] [withsource=Name] [isfuzzy=true|false] T1, (T2 | ...), ...` (the "union operator" page). */
  private union(leading: boolean): Union {
    const union: Union = { kind: "outer", isfuzzy: false, legs: [] };
    for (;;) {
      const t = this.peek();
      if (t.kind !== "ident" || !this.isOp("=", 1)) break;
      const option = t.text.toLowerCase();
      if (option !== "kind" && option !== "withsource" && option !== "isfuzzy") break;
      this.i += 2;
      const value = this.next();
      if (value.kind !== "ident") this.fail(value, `expected a value for '${option}'`);
      if (option === "kind") {
        const kind = value.text.toLowerCase();
        if (kind !== "inner" && kind !== "outer") this.fail(value, "kind is inner or outer");
        union.kind = kind;
      } else if (option === "isfuzzy") {
        const flag = value.text.toLowerCase();
        if (flag !== "true" && flag !== "false") this.fail(value, "isfuzzy is true or false");
        union.isfuzzy = flag === "true";
      } else union.withsource = value.text;
    }
    do {
      if (this.acceptOp("(")) {
        union.legs.push({ k: "pipeline", query: this.pipeline() });
        this.expectOp(")");
      } else {
        const t = this.next();
        if (t.kind !== "ident") this.fail(t, "expected a table name");
        union.legs.push({ k: "table", name: t.text, pos: t.pos });
      }
    } while (this.acceptOp(","));
    if (leading && union.legs.length === 0) this.fail();
    return union;
  }

  private operator(): Op {
    const t = this.next();
    if (t.kind !== "ident") this.fail(t, "expected a tabular operator");
    switch (t.text.toLowerCase()) {
      case "where":
      case "filter":
        return { op: "where", e: this.expr() };
      case "project":
        return { op: "project", items: this.namedList() };
      case "project-away": {
        const names = [this.pattern()];
        while (this.acceptOp(",")) names.push(this.pattern());
        return { op: "project-away", names };
      }
      case "extend":
        return { op: "extend", items: this.namedList() };
      case "summarize":
        return this.summarize();
      case "order":
      case "sort": {
        this.expectWord("by");
        const keys = [this.sortKey()];
        while (this.acceptOp(",")) keys.push(this.sortKey());
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
        return { op: "distinct", items: this.namedList() };
      case "union":
        return { op: "union", union: this.union(false) };
      default:
        throw new KqlError("SyntaxError", `Query could not be parsed at '${t.text}' on line [1,${t.pos}]: '${t.text}' is not a supported tabular operator`, t.pos);
    }
  }

  /** A column name or a wildcard pattern (`project-away a*`). */
  private pattern(): { pattern: string; pos: number } {
    const t = this.next();
    if (t.kind !== "ident") this.fail(t, "expected a column name");
    let pattern = t.text;
    while (this.isOp("*")) {
      this.i++;
      pattern += "*";
      if (this.peek().kind === "ident" && this.peek().pos === this.tokens[this.i - 1]!.pos + 1) pattern += this.next().text;
    }
    return { pattern, pos: t.pos };
  }

  private count(): number {
    const t = this.next();
    if (t.kind !== "number" || !Number.isInteger(t.value)) this.fail(t, "expected a row count");
    return t.value!;
  }

  private sortKey(): SortKey {
    const e = this.expr();
    let desc = true; // order by, sort by and top sort descending unless told otherwise
    if (this.acceptWord("asc")) desc = false;
    else this.acceptWord("desc");
    // Nulls come first in ascending order and last in descending order unless told otherwise.
    let nullsFirst = !desc;
    if (this.acceptWord("nulls")) {
      if (this.acceptWord("first")) nullsFirst = true;
      else if (this.acceptWord("last")) nullsFirst = false;
      else this.fail();
    }
    return { e, desc, nullsFirst };
  }

  private namedList(): Named[] {
    const items = [this.named()];
    while (this.acceptOp(",")) items.push(this.named());
    return items;
  }

  private named(): Named {
    if (this.peek().kind === "ident" && this.isOp("=", 1)) {
      const name = this.ident();
      this.i++;
      return { name, e: this.expr() };
    }
    return { e: this.expr() };
  }

  private summarize(): Op {
    const aggs: Named[] = [];
    if (!this.isWord("by")) aggs.push(...this.namedList());
    const by: Named[] = [];
    if (this.acceptWord("by")) by.push(...this.namedList());
    return { op: "summarize", aggs, by };
  }

  expr(): Expr {
    let left = this.and();
    while (this.isWord("or")) {
      const pos = this.next().pos;
      left = { k: "bin", op: "or", l: left, r: this.and(), pos };
    }
    return left;
  }
  private and(): Expr {
    let left = this.comparison();
    while (this.isWord("and")) {
      const pos = this.next().pos;
      left = { k: "bin", op: "and", l: left, r: this.comparison(), pos };
    }
    return left;
  }
  private comparison(): Expr {
    const left = this.additive();
    const t = this.peek();
    const word = t.kind === "ident" ? t.text.toLowerCase() : t.text;
    if (t.kind === "op" && COMPARISONS.includes(t.text)) {
      this.i++;
      return { k: "bin", op: t.text, l: left, r: this.additive(), pos: t.pos };
    }
    if ((t.kind === "ident" || t.kind === "op") && STRING_OPS.has(word)) {
      this.i++;
      if (word === "matches") this.expectWord("regex");
      return { k: "bin", op: word === "matches" ? "matches regex" : word, l: left, r: this.additive(), pos: t.pos };
    }
    if ((t.kind === "ident" && word === "in") || (t.kind === "op" && (t.text === "!in" || t.text === "!in~"))) {
      this.i++;
      let ci = t.text === "!in~";
      if (t.kind === "ident" && this.acceptOp("~")) ci = true;
      this.expectOp("(");
      const list = [this.additive()];
      while (this.acceptOp(",")) list.push(this.additive());
      this.expectOp(")");
      return { k: "in", e: left, list, negate: t.text.startsWith("!"), ci, pos: t.pos };
    }
    if ((t.kind === "ident" && word === "between") || (t.kind === "op" && t.text === "!between")) {
      this.i++;
      this.expectOp("(");
      const lo = this.additive();
      this.expectOp("..");
      const hi = this.additive();
      this.expectOp(")");
      return { k: "between", e: left, lo, hi, negate: t.kind === "op", pos: t.pos };
    }
    return left;
  }
  private additive(): Expr {
    let left = this.multiplicative();
    while (this.isOp("+") || this.isOp("-")) {
      const t = this.next();
      left = { k: "bin", op: t.text, l: left, r: this.multiplicative(), pos: t.pos };
    }
    return left;
  }
  private multiplicative(): Expr {
    let left = this.unary();
    while (this.isOp("*") || this.isOp("/") || this.isOp("%")) {
      const t = this.next();
      left = { k: "bin", op: t.text, l: left, r: this.unary(), pos: t.pos };
    }
    return left;
  }
  private unary(): Expr {
    if (this.isOp("-")) {
      const pos = this.next().pos;
      return { k: "neg", e: this.unary(), pos };
    }
    return this.primary();
  }
  private primary(): Expr {
    const t = this.next();
    if (t.kind === "string") return { k: "lit", v: t.text, type: "string", pos: t.pos };
    if (t.kind === "number") return { k: "lit", v: t.value!, type: Number.isInteger(t.value) && !/[.eE]/.test(t.text) ? "long" : "real", pos: t.pos };
    if (t.kind === "timespan") return { k: "lit", v: t.value!, type: "timespan", pos: t.pos };
    if (t.kind === "op" && t.text === "(") {
      const e = this.expr();
      this.expectOp(")");
      return e;
    }
    if (t.kind !== "ident") this.fail(t);
    const lower = t.text.toLowerCase();
    if (lower === "true" || lower === "false") return { k: "lit", v: lower === "true", type: "bool", pos: t.pos };
    if (lower === "not" && this.isOp("(")) {
      this.i++;
      const e = this.expr();
      this.expectOp(")");
      return { k: "not", e, pos: t.pos };
    }
    if (this.acceptOp("(")) {
      if (lower === "datetime" || lower === "timespan" || lower === "dynamic") return this.literal(t, lower);
      const args: Expr[] = [];
      let star = false;
      if (!this.isOp(")")) {
        do {
          if (this.acceptOp("*")) star = true;
          else args.push(this.expr());
        } while (this.acceptOp(","));
      }
      this.expectOp(")");
      return { k: "call", name: lower, args, star, pos: t.pos };
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
    return { k: "col", name: t.text, path, pos: t.pos };
  }

  /** `datetime(2026-11-24T10:00:00Z)`, `datetime(null)`, `timespan(1h)`: the lexer hands the literal over as one string. */
  private literal(t: Token, kind: "datetime" | "timespan" | "dynamic"): Expr {
    let raw = "";
    while (!this.isOp(")")) {
      if (this.peek().kind === "eof") this.fail();
      raw += this.next().text;
    }
    this.i++;
    if (kind === "dynamic") throw new KqlError("SemanticError", "dynamic() literals are not supported by this emulator", t.pos);
    if (raw.trim().toLowerCase() === "null") return { k: "lit", v: null, type: kind, pos: t.pos };
    if (kind === "timespan") {
      const ms = tokenize(raw)[0];
      if (!ms || ms.kind !== "timespan") this.fail(t, "invalid timespan literal");
      return { k: "lit", v: ms.value!, type: "timespan", pos: t.pos };
    }
    const text = raw.trim();
    const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) || !/T|\d:\d/.test(text) ? text : `${text}Z`);
    if (Number.isNaN(d.getTime())) throw new KqlError("SyntaxError", `invalid datetime literal '${raw}'`, t.pos);
    return { k: "lit", v: d, type: "datetime", pos: t.pos };
  }
}

export function parseQuery(text: string): Query {
  return new Parser(tokenize(text)).parse();
}
