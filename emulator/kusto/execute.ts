import { parseQuery, run } from "./query.js";
import type { Column, Row, Table, Value } from "./query.js";
import { KqlError } from "./lexer.js";
import { TABLE_COLUMNS } from "./tables.js";

/** Runs a query over named tables: declared columns first, extra columns from the rows, unknown tables refused. */
export function executeQuery(text: string, tables: ReadonlyMap<string, readonly Row[]>, now: Date): Table {
  const query = parseQuery(text);
  const name = [...tables.keys(), ...Object.keys(TABLE_COLUMNS)].find((t) => t === query.table);
  if (!name) throw new KqlError("SemanticError", `'${query.table}' is not a table in this scope (SEM0100: Failed to resolve table expression named '${query.table}')`);
  const rows = (tables.get(name) ?? []) as Row[];
  const declared = TABLE_COLUMNS[name] ?? [];
  const columns: Column[] = [...declared];
  for (const row of rows) {
    for (const [key, value] of Object.entries(row)) {
      if (!columns.some((c) => c.name === key)) columns.push({ name: key, type: inferType(value) });
    }
  }
  return run(query, { columns, rows }, { now });
}

function inferType(v: Value): Column["type"] {
  if (v instanceof Date) return "datetime";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "long" : "real";
  if (v !== null && typeof v === "object") return "dynamic";
  return "string";
}

/** A cell as the query APIs put it on the wire: datetimes ISO 8601, dynamic values as JSON text. */
export function wireValue(v: Value, type: Column["type"]): unknown {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  if (type === "dynamic") return typeof v === "string" ? v : JSON.stringify(v);
  if (typeof v === "object") return JSON.stringify(v);
  return v;
}
