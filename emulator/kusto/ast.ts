/**
 * The syntax tree of the KQL subset the emulator evaluates (emulator/kusto/parser.ts builds it,
 * emulator/kusto/evaluator.ts types and runs it), and the values and schemas it works on.
 */
export type Value = string | number | boolean | Date | null | Record<string, unknown> | unknown[];
export type Row = Record<string, Value>;
export type KustoType = "string" | "datetime" | "long" | "int" | "real" | "decimal" | "bool" | "guid" | "dynamic" | "timespan";
export interface Column {
  name: string;
  type: KustoType;
}
export interface Table {
  columns: Column[];
  rows: Row[];
}

export { INGESTION_TIME } from "../data-contracts.js";

export type Expr =
  | { k: "lit"; v: Value; type: KustoType; pos: number }
  | { k: "col"; name: string; path: string[]; pos: number }
  | { k: "call"; name: string; args: Expr[]; star: boolean; pos: number }
  | { k: "bin"; op: string; l: Expr; r: Expr; pos: number }
  | { k: "not"; e: Expr; pos: number }
  | { k: "neg"; e: Expr; pos: number }
  | { k: "in"; e: Expr; list: Expr[]; negate: boolean; ci: boolean; pos: number }
  | { k: "between"; e: Expr; lo: Expr; hi: Expr; negate: boolean; pos: number };

export interface Named {
  /** The name the query gave (`name = expr`), if any. */
  name?: string;
  e: Expr;
}

export interface SortKey {
  e: Expr;
  desc: boolean;
  nullsFirst: boolean;
}

export type Op =
  | { op: "where"; e: Expr }
  | { op: "project"; items: Named[] }
  | { op: "project-away"; names: Array<{ pattern: string; pos: number }> }
  | { op: "extend"; items: Named[] }
  | { op: "summarize"; aggs: Named[]; by: Named[] }
  | { op: "sort"; keys: SortKey[] }
  | { op: "take"; n: number }
  | { op: "top"; n: number; key: SortKey }
  | { op: "count" }
  | { op: "distinct"; items: Named[] }
  | { op: "union"; union: Union };

export interface Union {
  kind: "outer" | "inner";
  isfuzzy: boolean;
  withsource?: string;
  legs: Source[];
}

/** Where a pipeline's rows come from: a table, a parenthesised pipeline, or a union. */
export type Source =
  | { k: "table"; name: string; pos: number }
  | { k: "pipeline"; query: Query }
  | { k: "union"; union: Union };

export interface Query {
  source: Source;
  ops: Op[];
}
