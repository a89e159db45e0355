import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createContext, runInContext } from "node:vm";

/**
 * Microsoft's own Kusto parser and semantic analyser (@kusto/language-service-next, Kusto.Language compiled to
 * JavaScript with Bridge.NET), to hold KQL text to what the service accepts. The package is two scripts that
 * expect Bridge.NET's runtime as globals (`Bridge`, `System`) and define `Kusto` beside them: they are run here
 * in a vm context of their own, so nothing leaks into the test's globals, and loaded once per process.
 *
 *   const result = checkKql("AzureDiagnostics | summarize count() by Category", { AzureDiagnostics: { Category: "string" } });
 *   result.errors      // [] when the query is valid for those tables
 *   result.columns     // [{ name: "Category", type: "string" }, { name: "count_", type: "long" }]
 */
export interface KqlDiagnostic {
  code: string;
  severity: string;
  message: string;
  start: number;
}

export interface KqlCheck {
  /** Errors only (syntax, and semantic errors when tables are given). */
  errors: KqlDiagnostic[];
  warnings: KqlDiagnostic[];
  /** The result's columns as the analyser computes them (names and Kusto type names); empty for non-tabular results. */
  columns: Array<{ name: string; type: string }>;
}

/** Table name to column name to Kusto type name (string, long, datetime, bool, real, guid, dynamic, timespan, int). */
export type KqlSchema = Record<string, Record<string, string>>;

/* eslint-disable @typescript-eslint/no-explicit-any -- the Bridge.NET objects have no TypeScript types we can use here */
let kusto: any;

function load(): any {
  if (kusto) return kusto;
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve("@kusto/language-service-next/package.json"));
  const context = createContext({});
  // bridge.min.js is Bridge.NET's runtime; the second script is Kusto.Language itself.
  runInContext(readFileSync(join(dir, "bridge.min.js"), "utf8"), context, { filename: "bridge.min.js" });
  runInContext(readFileSync(join(dir, "Kusto.Language.Bridge.min.js"), "utf8"), context, { filename: "Kusto.Language.Bridge.min.js" });
  kusto = (context as { Kusto: any }).Kusto.Language;
  return kusto;
}

const globalsCache = new Map<string, any>();

function globalsFor(schema: KqlSchema | undefined): any {
  const K = load();
  if (!schema) return K.GlobalState.Default;
  const key = JSON.stringify(schema);
  let globals = globalsCache.get(key);
  if (!globals) {
    const tables = Object.entries(schema).map(
      ([name, columns]) => new K.Symbols.TableSymbol.$ctor7(name, `(${Object.entries(columns).map(([c, t]) => `['${c}']:${t}`).join(", ")})`, null),
    );
    globals = K.GlobalState.Default.WithDatabase(new K.Symbols.DatabaseSymbol.$ctor2("workspace", null, tables));
    globalsCache.set(key, globals);
  }
  return globals;
}

function list<T>(items: any, map: (item: any) => T): T[] {
  const out: T[] = [];
  if (!items) return out;
  for (let i = 0; i < items.Count; i++) out.push(map(items.getItem(i)));
  return out;
}

/**
 * Parses `query` (and, with `schema`, binds it to those tables): the errors and warnings Microsoft's analyser
 * reports and the result columns it computes. Without a schema only syntax is checked.
 */
export function checkKql(query: string, schema?: KqlSchema): KqlCheck {
  const K = load();
  const code = schema ? K.KustoCode.ParseAndAnalyze(query, globalsFor(schema)) : K.KustoCode.Parse(query);
  const diagnostics = list(code.GetDiagnostics(), (d) => ({ code: String(d.Code), severity: String(d.Severity), message: String(d.Message), start: Number(d.Start) }));
  const result = schema ? code.ResultType : undefined;
  const columns = result && result.Columns ? list(result.Columns, (c) => ({ name: String(c.Name), type: String(c.Type.Name) })) : [];
  return { errors: diagnostics.filter((d) => d.severity === "Error"), warnings: diagnostics.filter((d) => d.severity !== "Error"), columns };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * The Log Analytics tables the emulator serves, as a schema for checkKql (e.g. to hold the app's own queries to
 * Microsoft's parser): `checkKql(AZURE_DIAGNOSTICS_QUERY, logAnalyticsSchema())`.
 */
export async function logAnalyticsSchema(): Promise<KqlSchema> {
  const { TABLE_COLUMNS } = await import("../../emulator/kusto/tables.js");
  return Object.fromEntries(
    Object.entries(TABLE_COLUMNS)
      .filter(([table]) => table !== "Resources")
      .map(([table, columns]) => [table, Object.fromEntries(columns.map((c) => [c.name, c.type]))]),
  );
}
