import { parseQuery } from "./parser.js";
import { evaluate } from "./evaluator.js";
import type { Column, Row, Table } from "./ast.js";
import { inferType } from "./values.js";
import { TABLE_COLUMNS } from "./tables.js";

/**
 * Runs a query over named tables: each table's schema is its declared columns (emulator/kusto/tables.ts) plus
 * the extra columns its rows carry; a table the service declares exists even without rows, any other only
 * with them. Hidden columns (the ingestion time) are never part of a schema.
 */
export function executeQuery(text: string, tables: ReadonlyMap<string, readonly Row[]>, now: Date): Table {
  const query = parseQuery(text);
  const cache = new Map<string, Table | undefined>();
  const source = {
    table(name: string): Table | undefined {
      if (cache.has(name)) return cache.get(name);
      const rows = tables.get(name);
      const declared = TABLE_COLUMNS[name];
      const table = !rows && !declared ? undefined : { columns: schemaOf(declared ?? [], rows ?? []), rows: [...(rows ?? [])] };
      cache.set(name, table);
      return table;
    },
  };
  return evaluate(query, source, { now });
}

function schemaOf(declared: readonly Column[], rows: readonly Row[]): Column[] {
  const columns: Column[] = [...declared];
  const known = new Set(columns.map((c) => c.name));
  for (const row of rows) {
    for (const [key, value] of Object.entries(row)) {
      if (known.has(key) || key.startsWith("$")) continue; // hidden columns (ingestion time, seed marker)
      known.add(key);
      columns.push({ name: key, type: inferType(value) });
    }
  }
  return columns;
}
