import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManagedInstanceEngine } from "../../emulator/mi/engine.js";
import { ADMIN_OID, fails, ok, run, setup } from "../support/mi-engine-harness.js";
import { guardedStatement, READ_AUDIT_CATALOG, TAKE_REMEDIATION_LOCK } from "../../src/azure/sql-audit.js";

const SEED = [
  "CREATE SERVER AUDIT BackupRestoreAudit TO EXTERNAL_MONITOR;",
  "CREATE SERVER AUDIT SPECIFICATION BackupRestoreAuditSpec\nFOR SERVER AUDIT BackupRestoreAudit\nADD (BACKUP_RESTORE_GROUP),\nADD (AUDIT_CHANGE_GROUP)\nWITH (STATE=ON);",
  "ALTER SERVER AUDIT BackupRestoreAudit WITH (STATE=ON);",
];

describe("MI engine: logins", () => {
  it("SQL login with the right password, 18456 otherwise, never echoing the password", async () => {
    const { engine } = setup();
    const good = await engine.login({ kind: "sql", userName: "DBA", password: "test-only-pw-1", database: "", appName: "a", hostName: "h" }, { address: "1.2.3.4" });
    assert.ok(good.ok);
    assert.equal(good.principal.name, "dba");
    assert.equal(good.database, "master");
    const bad = await engine.login({ kind: "sql", userName: "dba", password: "wrong-secret", database: "", appName: "a", hostName: "h" }, { address: "1.2.3.4" });
    assert.ok(!bad.ok);
    assert.deepEqual(bad.error, { number: 18456, state: 1, class: 14, message: "Login failed for user 'dba'.", lineNumber: 1 });
    assert.ok(!JSON.stringify(bad).includes("wrong-secret"));
  });

  it("token login by oid; unknown principal refused with 18456", async () => {
    const { engine } = setup();
    const good = await engine.login({ kind: "token", claims: { oid: ADMIN_OID }, database: "sales", appName: "a", hostName: "h" }, { address: "x" });
    assert.ok(good.ok && good.principal.kind === "entra" && good.principal.name === "auditguard-scanner" && good.database === "sales");
    const bad = await engine.login({ kind: "token", claims: { oid: "99999999-2222-4333-8444-555555555555" }, database: "", appName: "a", hostName: "h" }, { address: "x" });
    assert.ok(!bad.ok && bad.error.number === 18456);
    const app = new ManagedInstanceEngine({
      serverName: "mi-app.x.database.windows.net",
      state: { logins: [{ kind: "entra", name: "deploy-app", appId: "22222222-3333-4444-8555-666666666666" }] },
    });
    const byApp = await app.login({ kind: "token", claims: { oid: "77777777-3333-4444-8555-666666666666", appid: "22222222-3333-4444-8555-666666666666" }, database: "", appName: "a", hostName: "h" }, { address: "x" });
    assert.ok(byApp.ok && byApp.principal.name === "deploy-app");
    const nodb = await engine.login({ kind: "token", claims: { oid: ADMIN_OID }, database: "nope", appName: "a", hostName: "h" }, { address: "x" });
    assert.ok(!nodb.ok && nodb.error.number === 4060);
  });
});

describe("MI engine: SELECT and the identity of the instance", () => {
  it("SELECT 1, SERVERPROPERTY, @@VERSION, @@SERVERNAME, functions and parameters", async () => {
    const { session } = setup();
    const s = session("auditguard-scanner");
    const out = await run(s, "SELECT 1");
    assert.equal(out[0]!.kind, "rows");
    if (out[0]!.kind === "rows") {
      assert.deepEqual(out[0]!.resultSet.rows, [[1]]);
      assert.deepEqual(out[0]!.resultSet.columns[0]!.type, { kind: "int" });
      assert.equal(out[0]!.resultSet.columns[0]!.name, "");
    }
    const [r] = await ok(
      s,
      "SELECT CAST(SERVERPROPERTY('EngineEdition') AS int) AS edition, SERVERPROPERTY('Edition') ed, @@VERSION AS v, @@SERVERNAME AS sn, " +
        "SUSER_SNAME() AS who, DB_NAME() AS db, HAS_PERMS_BY_NAME(NULL, NULL, 'ALTER ANY SERVER AUDIT') AS can, ISNULL(NULL, N'x') AS i, COALESCE(NULL, @p) AS c, @@SPID AS spid",
      { "@p": "param" },
    );
    assert.equal(r!.edition, 8);
    assert.equal(r!.ed, "SQL Azure");
    assert.match(String(r!.v), /^Microsoft SQL Azure \(RTM\) - 12\.0\.2000\.8/);
    assert.equal(r!.sn, "mi-test.abc123def456.database.windows.net");
    assert.equal(r!.who, "auditguard-scanner");
    assert.equal(r!.db, "master");
    assert.equal(r!.can, 1);
    assert.equal(r!.i, "x");
    assert.equal(r!.c, "param");
    assert.equal(r!.spid, s.id);
    const [n] = await ok(session("reader"), "SELECT HAS_PERMS_BY_NAME(NULL, NULL, 'ALTER ANY SERVER AUDIT') AS can");
    assert.equal(n!.can, 0);
  });

  it("engineEdition is data", async () => {
    const { session } = setup({ engineEdition: 5 });
    const [r] = await ok(session(), "SELECT CAST(SERVERPROPERTY('EngineEdition') AS int) AS e");
    assert.equal(r!.e, 5);
  });

  it("DECLARE / SET / variables; undeclared variable is 137", async () => {
    const { session } = setup();
    const [r] = await ok(session(), "DECLARE @a int = 2, @b nvarchar(10); SET @b = N'it''s'; SELECT @a + 3 AS s, @b AS b");
    assert.deepEqual(r, { s: 5, b: "it's" });
    await fails(session(), "SELECT @nope", 137, 'Must declare the scalar variable "@nope".');
  });

  it("syntax errors: 102 and 156, GO is not T-SQL, nothing of a bad batch runs", async () => {
    const { session, engine } = setup();
    const s = session();
    await fails(s, "CREATE SERVER AUDIT a TO EXTERNAL_MONITOR\nGO", 102, "Incorrect syntax near 'GO'.");
    assert.equal(engine.findAudit("a"), undefined);
    await fails(s, "SELECT FROM", 156, "Incorrect syntax near the keyword 'FROM'.");
    await fails(s, "UPDATE x SET a = 1", 156, "Incorrect syntax near the keyword 'UPDATE'.");
    await fails(s, "frobnicate", 102, "Incorrect syntax near 'frobnicate'.");
    await fails(s, "SELECT 'abc", 105);
    await fails(s, "SELECT * FROM sys.nope", 208, "Invalid object name 'sys.nope'.");
    await fails(s, "SELECT bogus FROM sys.server_audits", 207, "Invalid column name 'bogus'.");
    await fails(s, "EXEC sp_who", 2812);
  });
});

describe("MI engine: audit DDL and the catalog views", () => {
  it("CREATE SERVER AUDIT TO EXTERNAL_MONITOR: created disabled, view columns and types", async () => {
    const { session } = setup();
    const s = session();
    await ok(s, "CREATE SERVER AUDIT [auditguard] TO EXTERNAL_MONITOR WITH (QUEUE_DELAY = 1000, ON_FAILURE = CONTINUE)");
    const out = await run(s, "SELECT * FROM sys.server_audits");
    assert.ok(out[0]!.kind === "rows");
    const rs = out[0]!.resultSet;
    assert.deepEqual(
      rs.columns.map((c) => c.name),
      ["audit_id", "name", "audit_guid", "create_date", "modify_date", "principal_id", "type", "type_desc", "on_failure", "on_failure_desc", "is_state_enabled", "queue_delay", "predicate", "is_operator_audit"],
    );
    assert.deepEqual(rs.columns[2]!.type, { kind: "uniqueidentifier" });
    assert.deepEqual(rs.columns[3]!.type, { kind: "datetime" });
    assert.deepEqual(rs.columns[6]!.type, { kind: "char", length: 2 });
    assert.deepEqual(rs.columns[10]!.type, { kind: "tinyint" });
    assert.deepEqual(rs.columns[13]!.type, { kind: "bit" });
    const [a] = await ok(s, "SELECT name, type, type_desc, is_state_enabled, queue_delay, on_failure, on_failure_desc, predicate FROM sys.server_audits");
    assert.deepEqual(a, { name: "auditguard", type: "EM", type_desc: "EXTERNAL_MONITOR", is_state_enabled: 0, queue_delay: 1000, on_failure: 0, on_failure_desc: "CONTINUE", predicate: null });
    const [st] = await ok(s, "SELECT status, status_desc FROM sys.dm_server_audit_status WHERE name = 'auditguard'");
    assert.deepEqual(st, { status: 0, status_desc: "NOT_STARTED" });
    await fails(s, "CREATE SERVER AUDIT auditguard TO EXTERNAL_MONITOR", 15530, 'The server audit with name "auditguard" already exists.');
  });

  it("TO URL with RETENTION_DAYS inside URL(...) or in WITH; shows in sys.server_file_audits", async () => {
    const { session } = setup();
    const s = session();
    await ok(s, "CREATE SERVER AUDIT u1 TO URL (PATH = 'https://acct.blob.core.windows.net/audits', RETENTION_DAYS = 30)");
    await ok(s, "CREATE SERVER AUDIT u2 TO URL (PATH = N'https://acct.blob.core.windows.net/audits2') WITH (RETENTION_DAYS = 7, ON_FAILURE = FAIL_OPERATION, QUEUE_DELAY = 2000)");
    const rows = await ok(s, "SELECT name, type_desc, log_file_path, retention_days, on_failure FROM sys.server_file_audits ORDER BY name");
    assert.deepEqual(rows, [
      { name: "u1", type_desc: "URL", log_file_path: "https://acct.blob.core.windows.net/audits", retention_days: 30, on_failure: 0 },
      { name: "u2", type_desc: "URL", log_file_path: "https://acct.blob.core.windows.net/audits2", retention_days: 7, on_failure: 2 },
    ]);
  });

  it("MI refusals: TO FILE, SHUTDOWN, QUEUE_DELAY 0 and 1–999, unknown group", async () => {
    const { session, engine } = setup();
    const s = session();
    await fails(s, "CREATE SERVER AUDIT f TO FILE (FILEPATH = 'C:\\x')", 40517);
    await fails(s, "CREATE SERVER AUDIT f TO EXTERNAL_MONITOR WITH (ON_FAILURE = SHUTDOWN)", 33533);
    await fails(s, "CREATE SERVER AUDIT f TO EXTERNAL_MONITOR WITH (QUEUE_DELAY = 0)", 33227);
    await fails(s, "CREATE SERVER AUDIT f TO EXTERNAL_MONITOR WITH (QUEUE_DELAY = 999)", 33227);
    await fails(s, "CREATE SERVER AUDIT f TO EXTERNAL_MONITOR WITH (STATE = ON)", 102, "Incorrect syntax near 'STATE'.");
    assert.equal(engine.audits.size, 0);
    await ok(s, "CREATE SERVER AUDIT f TO EXTERNAL_MONITOR");
    await fails(s, "CREATE SERVER AUDIT SPECIFICATION sp FOR SERVER AUDIT f ADD (NOT_A_REAL_GROUP)", 102);
    assert.equal(engine.specs.size, 0);
  });

  it("ALTER rules: 15151, 33071 while enabled, 33223 STATE with others, MODIFY NAME, WHERE / REMOVE WHERE", async () => {
    const { session } = setup();
    const s = session();
    await fails(s, "ALTER SERVER AUDIT ghost WITH (STATE = ON)", 15151, "Cannot alter the server audit 'ghost', because it does not exist or you do not have permission.");
    await fails(s, "DROP SERVER AUDIT ghost", 15151, "Cannot drop the server audit 'ghost', because it does not exist or you do not have permission.");
    await ok(s, "CREATE SERVER AUDIT a TO EXTERNAL_MONITOR WHERE server_principal_name <> 'AzureSQLConnectivityChecker'");
    let [r] = await ok(s, "SELECT predicate FROM sys.server_audits");
    // Stored normalised, as SQL Server scripts it back (see emulator/mi/audit-filter.ts).
    assert.equal(r!.predicate, "([server_principal_name]<>'AzureSQLConnectivityChecker')");
    await ok(s, "ALTER SERVER AUDIT a REMOVE WHERE");
    [r] = await ok(s, "SELECT predicate FROM sys.server_audits");
    assert.equal(r!.predicate, null);
    await fails(s, "ALTER SERVER AUDIT a WITH (STATE = ON, QUEUE_DELAY = 2000)", 33223);
    await ok(s, "ALTER SERVER AUDIT a WITH (STATE = ON)");
    [r] = await ok(s, "SELECT a.is_state_enabled, s.status_desc FROM sys.server_audits AS a INNER JOIN sys.dm_server_audit_status s ON s.audit_id = a.audit_id");
    assert.deepEqual(r, { is_state_enabled: 1, status_desc: "STARTED" });
    await fails(s, "ALTER SERVER AUDIT a WITH (QUEUE_DELAY = 2000)", 33071, "This command requires audit to be disabled. Disable the audit and rerun this command.");
    await fails(s, "ALTER SERVER AUDIT a MODIFY NAME = b", 33071);
    await fails(s, "DROP SERVER AUDIT a", 33071);
    await ok(s, "ALTER SERVER AUDIT a WITH (STATE = OFF)");
    await ok(s, "ALTER SERVER AUDIT a TO URL (PATH = 'https://acct.blob.core.windows.net/c') WITH (QUEUE_DELAY = 3000)");
    await ok(s, "ALTER SERVER AUDIT a MODIFY NAME = [b b]");
    [r] = await ok(s, "SELECT name, type_desc, queue_delay FROM sys.server_audits");
    assert.deepEqual(r, { name: "b b", type_desc: "URL", queue_delay: 3000 });
    await ok(s, "DROP SERVER AUDIT [b b]");
    assert.deepEqual(await ok(s, "SELECT name FROM sys.server_audits"), []);
  });

  it("specifications: 33230, 33229, ADD/DROP, details view, LEFT JOIN with the audit", async () => {
    const { session } = setup();
    const s = session();
    await ok(s, "CREATE SERVER AUDIT a TO EXTERNAL_MONITOR");
    await fails(s, "CREATE SERVER AUDIT SPECIFICATION sp FOR SERVER AUDIT missing ADD (BACKUP_RESTORE_GROUP)", 33073);
    await ok(s, "CREATE SERVER AUDIT SPECIFICATION sp FOR SERVER AUDIT a ADD (BACKUP_RESTORE_GROUP)");
    await fails(s, "CREATE SERVER AUDIT SPECIFICATION sp2 FOR SERVER AUDIT a ADD (AUDIT_CHANGE_GROUP)", 33230, "An audit specification for audit 'a' already exists.");
    await fails(s, "CREATE SERVER AUDIT SPECIFICATION sp FOR SERVER AUDIT a", 15530);
    await ok(s, "ALTER SERVER AUDIT SPECIFICATION sp ADD (AUDIT_CHANGE_GROUP), ADD (FAILED_LOGIN_GROUP) WITH (STATE = ON)");
    await fails(s, "ALTER SERVER AUDIT SPECIFICATION sp DROP (FAILED_LOGIN_GROUP)", 33229);
    await ok(s, "ALTER SERVER AUDIT SPECIFICATION sp WITH (STATE = OFF)");
    await ok(s, "ALTER SERVER AUDIT SPECIFICATION sp DROP (FAILED_LOGIN_GROUP)");
    await fails(s, "ALTER SERVER AUDIT SPECIFICATION ghost WITH (STATE = ON)", 15151, "Cannot alter the server audit specification 'ghost', because it does not exist or you do not have permission.");
    await fails(s, "ALTER SERVER AUDIT SPECIFICATION sp MODIFY NAME = x", 102);
    const details = await ok(
      s,
      "SELECT sas.name AS spec, a.name AS audit, d.audit_action_name, sas.is_state_enabled FROM sys.server_audit_specifications sas " +
        "LEFT JOIN sys.server_audits a ON sas.audit_guid = a.audit_guid LEFT JOIN sys.server_audit_specification_details d ON d.server_specification_id = sas.server_specification_id " +
        "WHERE d.audit_action_name IN ('BACKUP_RESTORE_GROUP', 'AUDIT_CHANGE_GROUP') ORDER BY d.audit_action_name",
    );
    assert.deepEqual(details, [
      { spec: "sp", audit: "a", audit_action_name: "AUDIT_CHANGE_GROUP", is_state_enabled: 0 },
      { spec: "sp", audit: "a", audit_action_name: "BACKUP_RESTORE_GROUP", is_state_enabled: 0 },
    ]);
    await ok(s, "DROP SERVER AUDIT SPECIFICATION sp");
    await fails(s, "DROP SERVER AUDIT SPECIFICATION sp", 15151);
  });

  it("a login without ALTER ANY SERVER AUDIT reads the views but cannot change anything (15247)", async () => {
    const { session, engine } = setup({ audits: [{ name: "keep", target: "EXTERNAL_MONITOR", enabled: true }] });
    const r = session("reader");
    assert.deepEqual(await ok(r, "SELECT name FROM sys.server_audits"), [{ name: "keep" }]);
    await fails(r, "CREATE SERVER AUDIT x TO EXTERNAL_MONITOR", 15247, "User does not have permission to perform this action.");
    await fails(r, "ALTER SERVER AUDIT keep WITH (STATE = OFF)", 15247);
    await fails(r, "DROP SERVER AUDIT keep", 15247);
    await fails(r, "CREATE SERVER AUDIT SPECIFICATION s FOR SERVER AUDIT keep ADD (BACKUP_RESTORE_GROUP)", 15247);
    assert.equal(engine.findAudit("keep")!.enabled, true);
    // Without any metadata permission the views are empty, and the DMV is refused.
    assert.deepEqual(await ok(session("nobody"), "SELECT name FROM sys.server_audits"), []);
    await fails(session("nobody"), "SELECT * FROM sys.dm_server_audit_status", 300);
  });

  it("injection through names: quoted weird names are just names; unquoted garbage is a syntax error", async () => {
    const { session, engine } = setup({ audits: [{ name: "y", target: "EXTERNAL_MONITOR" }] });
    const s = session();
    await ok(s, "CREATE SERVER AUDIT [x]]; DROP SERVER AUDIT [y] TO EXTERNAL_MONITOR");
    assert.deepEqual(
      (await ok(s, "SELECT name FROM sys.server_audits ORDER BY audit_id")).map((r) => r.name),
      ["y", "x]; DROP SERVER AUDIT [y"],
    );
    await fails(s, "CREATE SERVER AUDIT x; DROP SERVER AUDIT y TO EXTERNAL_MONITOR", 102, "Incorrect syntax near ';'.");
    await fails(s, "CREATE SERVER AUDIT x' OR 1=1 -- TO EXTERNAL_MONITOR", 105);
    await ok(s, `CREATE SERVER AUDIT "q""uote" TO EXTERNAL_MONITOR`);
    assert.ok(engine.findAudit('q"uote'));
    assert.ok(engine.findAudit("y"));
    const [r] = await ok(s, "SELECT name FROM sys.server_audits WHERE name = @n", { "@n": "x]; DROP SERVER AUDIT [y" });
    assert.equal(r!.name, "x]; DROP SERVER AUDIT [y");
  });

  it("transactions: CREATE is rolled back with the transaction, state changes are refused inside one", async () => {
    const { session, engine } = setup();
    const s = session();
    const out = await run(s, "BEGIN TRAN; CREATE SERVER AUDIT t1 TO EXTERNAL_MONITOR; CREATE SERVER AUDIT SPECIFICATION ts FOR SERVER AUDIT t1 ADD (AUDIT_CHANGE_GROUP)");
    assert.equal(out[0]!.kind === "done" && out[0]!.transaction, "begin");
    assert.ok(s.inTransaction && engine.findAudit("t1") && engine.findSpec("ts"));
    await fails(s, "ALTER SERVER AUDIT t1 WITH (STATE = ON)", 574);
    const rb = await run(s, "ROLLBACK");
    assert.equal(rb[0]!.kind === "done" && rb[0]!.transaction, "rollback");
    assert.ok(!s.inTransaction);
    assert.equal(engine.findAudit("t1"), undefined);
    assert.equal(engine.findSpec("ts"), undefined);
    await ok(s, "BEGIN TRANSACTION; CREATE SERVER AUDIT t2 TO EXTERNAL_MONITOR; COMMIT");
    assert.ok(engine.findAudit("t2"));
    await s.beginTransaction();
    await ok(s, "DROP SERVER AUDIT t2");
    assert.equal(engine.findAudit("t2"), undefined);
    const r = await s.rollbackTransaction();
    assert.equal(r.kind === "done" && r.transaction, "rollback");
    assert.ok(engine.findAudit("t2"), "the drop was undone");
    await fails(s, "COMMIT", 3902);
    await s.beginTransaction();
    await ok(s, "CREATE SERVER AUDIT t3 TO EXTERNAL_MONITOR");
    s.close();
    assert.equal(engine.findAudit("t3"), undefined, "closing the session rolls back");
  });

  it("fleet status drift: RUNTIME_FAIL shows in the DMV and records nothing", async () => {
    const { session, records } = setup({
      audits: [{ name: "a", target: "EXTERNAL_MONITOR", enabled: true, status: "RUNTIME_FAIL" }],
      serverAuditSpecifications: [{ name: "s", audit: "a", enabled: true, actionGroups: ["BACKUP_RESTORE_GROUP"] }],
    });
    const s = session();
    const [r] = await ok(s, "SELECT status, status_desc, is_state_enabled FROM sys.dm_server_audit_status d JOIN sys.server_audits a ON a.audit_id = d.audit_id");
    assert.deepEqual(r, { status: 2, status_desc: "RUNTIME_FAIL", is_state_enabled: 1 });
    await ok(s, "BACKUP DATABASE [sales] TO URL = N'https://acct.blob.core.windows.net/c/f.bak' WITH COPY_ONLY");
    assert.equal(records.length, 0);
  });
});

describe("MI engine: physics (audit records)", () => {
  it("the seed's script as separate batches, then a COPY_ONLY backup produces a BA record", async () => {
    const { session, records } = setup();
    const s = session("auditguard-scanner");
    for (const batch of SEED) await ok(s, batch);
    const ausc = records.filter((r) => r.action_id === "AUSC");
    assert.equal(ausc.length, 1);
    assert.equal(ausc[0]!.audit_name, "BackupRestoreAudit");
    assert.equal(ausc[0]!.action_name, "AUDIT SESSION CHANGED");
    records.length = 0;
    const dba = session("dba");
    const sql = "BACKUP DATABASE [sales] TO URL = N'https://acct.blob.core.windows.net/c/f.bak' WITH COPY_ONLY, COMPRESSION, STATS = 10";
    await ok(dba, sql);
    assert.equal(records.length, 1);
    const r = records[0]!;
    assert.equal(r.action_id, "BA");
    assert.equal(r.action_name, "BACKUP");
    assert.equal(r.class_type, "DB");
    assert.equal(r.statement, sql);
    assert.ok(r.statement.includes("COPY_ONLY"));
    assert.equal(r.server_principal_name, "dba");
    assert.equal(r.database_name, "sales");
    assert.equal(r.client_ip, "10.0.0.7");
    assert.equal(r.application_name, "auditguard");
    assert.equal(r.session_id, dba.id);
    assert.equal(r.succeeded, true);
    assert.deepEqual(r.event_time, new Date("2026-11-24T12:00:00Z"));
    records.length = 0;
    await ok(dba, "RESTORE DATABASE [sales_copy] FROM URL = N'https://acct.blob.core.windows.net/c/f.bak'");
    assert.deepEqual(records.map((x) => [x.action_id, x.action_name, x.database_name]), [["RS", "RESTORE", "sales_copy"]]);
    await fails(dba, "RESTORE DATABASE [sales_copy] FROM URL = N'https://acct.blob.core.windows.net/c/f.bak'", 1801);
  });

  it("no record when the audit is off, the spec is off, or the group is missing", async () => {
    const base = (audit: boolean, spec: boolean, groups: string[]) =>
      setup({
        audits: [{ name: "a", target: "EXTERNAL_MONITOR", enabled: audit }],
        serverAuditSpecifications: [{ name: "s", audit: "a", enabled: spec, actionGroups: groups }],
      });
    for (const [audit, spec, groups, expected] of [
      [true, true, ["BACKUP_RESTORE_GROUP"], 1],
      [false, true, ["BACKUP_RESTORE_GROUP"], 0],
      [true, false, ["BACKUP_RESTORE_GROUP"], 0],
      [true, true, ["AUDIT_CHANGE_GROUP"], 0],
    ] as const) {
      const { session, records } = base(audit, spec, [...groups]);
      await ok(session(), "BACKUP DATABASE sales TO URL = 'https://acct.blob.core.windows.net/c/x.bak' WITH COPY_ONLY");
      assert.equal(records.length, expected, JSON.stringify({ audit, spec, groups }));
    }
  });

  it("AUDIT_CHANGE_GROUP records CR/AL/DR with class A and SA; an audit switched off records its own stop", async () => {
    const { session, records } = setup({
      audits: [{ name: "main", target: "EXTERNAL_MONITOR", enabled: true }],
      serverAuditSpecifications: [{ name: "mainspec", audit: "main", enabled: true, actionGroups: ["AUDIT_CHANGE_GROUP"] }],
    });
    const s = session();
    await ok(s, "CREATE SERVER AUDIT other TO EXTERNAL_MONITOR");
    await ok(s, "CREATE SERVER AUDIT SPECIFICATION otherspec FOR SERVER AUDIT other ADD (BACKUP_RESTORE_GROUP)");
    await ok(s, "DROP SERVER AUDIT SPECIFICATION otherspec");
    await ok(s, "ALTER SERVER AUDIT other WITH (QUEUE_DELAY = 5000)");
    await ok(s, "DROP SERVER AUDIT other");
    assert.deepEqual(
      records.map((r) => [r.action_id, r.class_type, r.object_name, r.audit_name]),
      [
        ["CR", "A", "other", "main"],
        ["CR", "SA", "otherspec", "main"],
        ["DR", "SA", "otherspec", "main"],
        ["AL", "A", "other", "main"],
        ["DR", "A", "other", "main"],
      ],
    );
    records.length = 0;
    // Tampering: switching the spec off is still recorded by its audit; then nothing more is.
    await ok(s, "ALTER SERVER AUDIT SPECIFICATION mainspec WITH (STATE = OFF)");
    assert.deepEqual(records.map((r) => [r.action_id, r.class_type]), [["AL", "SA"]]);
    await ok(s, "ALTER SERVER AUDIT SPECIFICATION mainspec WITH (STATE = ON)");
    records.length = 0;
    await ok(s, "ALTER SERVER AUDIT main WITH (STATE = OFF)");
    assert.deepEqual(records.map((r) => [r.action_id, r.action_name, r.audit_name]), [["AUSC", "AUDIT SESSION CHANGED", "main"]]);
    records.length = 0;
    await ok(s, "CREATE SERVER AUDIT silent TO EXTERNAL_MONITOR");
    assert.equal(records.length, 0);
  });

  it("BACKUP refusals: TO DISK, LOG, CREDENTIAL, missing database, missing permission", async () => {
    const { session, records } = setup();
    await fails(session(), "BACKUP DATABASE sales TO DISK = 'C:\\b.bak'", 40517);
    await fails(session(), "BACKUP LOG sales TO URL = 'https://a.blob.core.windows.net/c/l.trn'", 40517);
    await fails(session(), "BACKUP DATABASE sales TO URL = 'https://a.blob.core.windows.net/c/l.bak' WITH CREDENTIAL = 'x'", 40517);
    await fails(session(), "BACKUP DATABASE nope TO URL = 'https://a.blob.core.windows.net/c/l.bak'", 911);
    assert.equal(records.length, 0);
  });

  it("refused attempts are recorded with succeeded = false: BACKUP without permission, audit DDL without permission", async () => {
    const { session, records } = setup({
      audits: [{ name: "main", target: "EXTERNAL_MONITOR", enabled: true }],
      serverAuditSpecifications: [{ name: "spec", audit: "main", enabled: true, actionGroups: ["AUDIT_CHANGE_GROUP", "BACKUP_RESTORE_GROUP"] }],
    });
    await fails(session("reader"), "BACKUP DATABASE sales TO URL = 'https://a.blob.core.windows.net/c/l.bak' WITH COPY_ONLY", 262);
    await fails(session("reader"), "ALTER SERVER AUDIT SPECIFICATION spec WITH (STATE = OFF)", 15247);
    assert.deepEqual(
      records.map((r) => [r.action_id, r.class_type, r.succeeded, r.server_principal_name]),
      [
        ["BA", "DB", false, "reader"],
        ["AL", "SA", false, "reader"],
      ],
    );
  });
});

describe("MI engine: state schema", () => {
  it("the README's fleet sql: example is valid and builds an engine with its views", async () => {
    const { readFileSync } = await import("node:fs");
    const { parse } = await import("yaml");
    const { miStateSchema } = await import("../../emulator/mi/state-schema.js");
    const { existsSync } = await import("node:fs");
    // Runs from test/ under tsx and from dist/test/ after the build; the README is only in the source tree.
    const candidates = ["../../emulator/mi/README.md", "../../../emulator/mi/README.md"].map((p) => new URL(p, import.meta.url));
    const readme = readFileSync(candidates.find((u) => existsSync(u))!, "utf8");
    const block = /```yaml\n([\s\S]*?)```/.exec(readme)![1]!;
    const sql = (parse(block) as { sql: unknown }).sql;
    const state = miStateSchema.parse(sql);
    assert.equal(state.audits[1]!.target !== "EXTERNAL_MONITOR" && state.audits[1]!.target.retentionDays, 30);
    const engine = new ManagedInstanceEngine({ serverName: "mi.x.database.windows.net", state });
    const admin = await engine.login({ kind: "token", claims: { oid: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d" }, database: "", appName: "a", hostName: "h" }, { address: "x" });
    assert.ok(admin.ok && admin.principal.name === "sql-admins");
    assert.ok(engine.hasPermission(admin.principal, "ALTER ANY SERVER AUDIT"));
    const s = engine.openSession({ kind: "sql", name: "dba" }, "master", { address: "a", appName: "b", hostName: "c" });
    const rows = await ok(s, "SELECT a.name, a.type, d.status_desc FROM sys.server_audits a JOIN sys.dm_server_audit_status d ON d.audit_id = a.audit_id ORDER BY a.name DESC");
    assert.deepEqual(rows, [
      { name: "to-blob", type: "UL", status_desc: "RUNTIME_FAIL" },
      { name: "auditguard", type: "EM", status_desc: "STARTED" },
    ]);
  });

  it("refuses inconsistent state: duplicate names, a spec bound to a missing audit, two specs for one audit", () => {
    return import("../../emulator/mi/state-schema.js").then(({ miStateSchema }) => {
      const bad = miStateSchema.safeParse({
        audits: [{ name: "a", target: "EXTERNAL_MONITOR" }, { name: "A", target: "EXTERNAL_MONITOR" }],
        serverAuditSpecifications: [
          { name: "s1", audit: "a" },
          { name: "s2", audit: "a" },
          { name: "s3", audit: "missing" },
        ],
        logins: [{ kind: "entra", name: "no-ids" }],
      });
      assert.ok(!bad.success);
      const messages = bad.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
      assert.ok(messages.some((m) => m.startsWith("audits.1.name: duplicate")), messages.join("\n"));
      assert.ok(messages.some((m) => m.startsWith("serverAuditSpecifications.1.audit") && m.includes("33230")), messages.join("\n"));
      assert.ok(messages.some((m) => m.startsWith("serverAuditSpecifications.2.audit: no server audit")), messages.join("\n"));
    });
  });
});

describe("MI engine: SELECT details", () => {
  it("WHERE with OR / IS NULL / IN / LIKE, aliases, TOP, qualified star, empty results keep column types", async () => {
    const { session } = setup({
      audits: [
        { name: "alpha", target: "EXTERNAL_MONITOR", enabled: true, predicate: "succeeded = 1" },
        { name: "beta", target: { type: "URL", path: "https://a.blob.core.windows.net/c" } },
        { name: "gamma", target: "EXTERNAL_MONITOR" },
      ],
    });
    const s = session();
    const names = async (where: string) => (await ok(s, `SELECT name FROM sys.server_audits WHERE ${where} ORDER BY name`)).map((r) => r.name);
    assert.deepEqual(await names("predicate IS NULL"), ["beta", "gamma"]);
    assert.deepEqual(await names("predicate IS NOT NULL OR name = 'GAMMA'"), ["alpha", "gamma"]);
    assert.deepEqual(await names("name IN ('beta', 'zeta') AND is_state_enabled = 0"), ["beta"]);
    assert.deepEqual(await names("name LIKE '%a' AND NOT name LIKE 'g%'"), ["alpha", "beta"]);
    assert.deepEqual(await names("type_desc <> 'URL'"), ["alpha", "gamma"]);
    const top = await ok(s, "SELECT TOP 1 x.name AS n FROM sys.server_audits AS x ORDER BY x.name DESC");
    assert.deepEqual(top, [{ n: "gamma" }]);
    const out = await run(s, "SELECT sas.* FROM sys.server_audit_specifications sas WHERE 1 = 0");
    assert.ok(out[0]!.kind === "rows");
    const rs = out[0]!.resultSet;
    assert.equal(rs.rows.length, 0);
    assert.deepEqual(rs.columns.map((c) => [c.name, c.type.kind]), [
      ["name", "nvarchar"],
      ["server_specification_id", "int"],
      ["create_date", "datetime"],
      ["modify_date", "datetime"],
      ["audit_guid", "uniqueidentifier"],
      ["is_state_enabled", "tinyint"],
    ]);
    await fails(s, "SELECT name FROM sys.server_audits a JOIN sys.dm_server_audit_status d ON d.audit_id = a.audit_id", 209);
  });
});

describe("MI engine: session SET options", () => {
  it("accepts tedious's post-login SET batch verbatim", async () => {
    const { session } = setup();
    const batch =
      "set ansi_nulls on\nset ansi_null_dflt_on on\nset ansi_padding on\nset ansi_warnings on\nset arithabort on\nset concat_null_yields_null on\nset datefirst 7\nset dateformat mdy\nset implicit_transactions off\nset language us_english\nset numeric_roundabort off\nset quoted_identifier on\nset textsize 2147483647\nset transaction isolation level read committed\nset xact_abort off";
    const out = await run(session(), batch);
    assert.equal(out.length, 15);
    assert.ok(out.every((o) => o.kind === "done"));
    await fails(session(), "SET NOT_AN_OPTION ON", 102);
  });

  it("SET LOCK_TIMEOUT sets @@LOCK_TIMEOUT; SET XACT_ABORT ON rolls back on error", async () => {
    const { session, engine } = setup();
    const s = session();
    assert.deepEqual(await ok(s, "SET NOCOUNT ON; SET LOCK_TIMEOUT 0; SELECT @@LOCK_TIMEOUT AS t"), [{ t: 0 }]);
    const out = await run(s, "SET XACT_ABORT ON; BEGIN TRAN; CREATE SERVER AUDIT xa TO EXTERNAL_MONITOR; DROP SERVER AUDIT ghost; SELECT 1");
    const last = out.at(-1)!;
    assert.ok(last.kind === "error" && last.error.number === 15151 && last.transaction === "rollback");
    assert.ok(!s.inTransaction);
    assert.equal(engine.findAudit("xa"), undefined);
  });
});

describe("MI engine: COUNT and ordinals", () => {
  it("COUNT(*) and COUNT(column) over a filtered view; ORDER BY ordinal", async () => {
    const { session } = setup({
      audits: [
        { name: "a1", target: "EXTERNAL_MONITOR", enabled: true, predicate: "succeeded = 1" },
        { name: "a2", target: "EXTERNAL_MONITOR" },
      ],
    });
    const s = session();
    assert.deepEqual(await ok(s, "SELECT COUNT(*) AS n, COUNT(predicate) AS p FROM sys.server_audits"), [{ n: 2, p: 1 }]);
    assert.deepEqual(await ok(s, "SELECT COUNT(*) AS n FROM sys.server_audits WHERE name = 'zz'"), [{ n: 0 }]);
    assert.deepEqual((await ok(s, "SELECT audit_id, name FROM sys.server_audits ORDER BY 2 DESC")).map((r) => r.name), ["a2", "a1"]);
    await fails(s, "SELECT name, COUNT(*) FROM sys.server_audits", 8120);
  });
});

describe("MI engine: the scanner adapter's batches", () => {
  it("catalog read in one batch, lock with parameters, IF @@SPID guard with THROW, plan statements in order", async () => {
    const { session, engine, records } = setup({ audits: [], serverAuditSpecifications: [] });
    const s = session("auditguard-scanner");
    // The scanner's own batches (src/azure/sql-audit.ts), as it sends them.
    const read = await run(s, READ_AUDIT_CATALOG);
    assert.deepEqual(read.map((o) => o.kind), ["rows", "rows", "rows", "rows", "rows"], "one result set per SELECT of the catalog read");
    const lock = await ok(s, TAKE_REMEDIATION_LOCK, { "@resource": "auditguard:server-audit", "@timeout": 30000 });
    assert.deepEqual(lock, [{ result: 0, spid: s.id }]);
    const plan = [
      "CREATE SERVER AUDIT [auditguard] TO EXTERNAL_MONITOR WITH (QUEUE_DELAY = 1000, ON_FAILURE = CONTINUE);",
      "CREATE SERVER AUDIT SPECIFICATION [auditguard-spec] FOR SERVER AUDIT [auditguard] ADD (BACKUP_RESTORE_GROUP), ADD (AUDIT_CHANGE_GROUP) WITH (STATE = OFF);",
      "ALTER SERVER AUDIT SPECIFICATION [auditguard-spec] WITH (STATE = ON);",
      "ALTER SERVER AUDIT [auditguard] WITH (STATE = ON);",
    ];
    for (const statement of plan) await ok(s, guardedStatement(s.id, statement));
    const [row] = await ok(s, "SELECT s.status_desc FROM sys.dm_server_audit_status s WHERE s.name = N'auditguard'");
    assert.equal(row!.status_desc, "STARTED");
    assert.deepEqual(records.map((r) => r.action_id), ["AUSC"]);
    // Another session's guard fails with the THROW, and the statement after it does not run.
    const other = session("auditguard-scanner");
    const out = await run(other, `IF @@SPID <> ${s.id} THROW 51000, N'lost session', 1;\nDROP SERVER AUDIT SPECIFICATION [auditguard-spec];`);
    assert.equal(out.length, 1);
    assert.ok(out[0]!.kind === "error" && out[0]!.error.number === 51000 && out[0]!.error.message === "lost session" && out[0]!.error.class === 16);
    assert.ok(engine.findSpec("auditguard-spec"));
    assert.deepEqual(await ok(other, "IF 1 = 0 SELECT 1 AS a ELSE SELECT 2 AS a"), [{ a: 2 }]);
    assert.deepEqual(await ok(other, "IF 1 = 1 BEGIN SELECT 1 AS a; SELECT 3 AS a END ELSE SELECT 2 AS a"), [{ a: 3 }]);
    await fails(other, "IF 1 = 1 BEGIN END", 156);
  });
});

describe("MI engine: logins, permissions and dynamic SQL (the grant script's statements)", () => {
  const APP = { displayName: "func-auditguard-abc", objectId: "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b", appId: "8f9a0b1c-2d3e-4f4a-9b5c-6d7e8f9a0b1c" };
  const client = { address: "a", appName: "b", hostName: "c" };
  const build = (directory = [APP]) => {
    const engine = new ManagedInstanceEngine({
      serverName: "mi-grant.abc123def456.database.windows.net",
      state: {
        entraAdmin: { name: "sql-admins", objectId: ADMIN_OID },
        logins: [
          { name: "dba", password: "test-only-pw-1", permissions: ["sysadmin"] },
          { name: "reader", password: "test-only-pw-2", permissions: ["VIEW ANY DEFINITION"] },
        ],
      },
      directory,
    });
    const admin = engine.openSession({ kind: "entra", name: "sql-admins", objectId: ADMIN_OID }, "master", client);
    return { engine, admin };
  };
  const appToken = { kind: "token" as const, claims: { oid: APP.objectId, appid: APP.appId }, database: "", appName: "a", hostName: "h" };

  it("CREATE LOGIN FROM EXTERNAL PROVIDER resolves the display name in the directory; the identity's token then logs in", async () => {
    const { engine, admin } = build();
    assert.equal((await engine.login(appToken, { address: "x" })).ok, false);
    await ok(admin, `CREATE LOGIN [${APP.displayName}] FROM EXTERNAL PROVIDER;`);
    const login = await engine.login(appToken, { address: "x" });
    assert.ok(login.ok && login.principal.name === APP.displayName);
    assert.deepEqual(await ok(admin, `SELECT type, type_desc FROM sys.server_principals WHERE name = N'${APP.displayName}'`), [{ type: "E", type_desc: "EXTERNAL_LOGIN" }]);
    await fails(admin, `CREATE LOGIN [${APP.displayName}] FROM EXTERNAL PROVIDER;`, 15025);
    await fails(admin, "CREATE LOGIN [nobody-knows-me] FROM EXTERNAL PROVIDER;", 33130);
  });

  it("refuses what Azure refuses: a SQL-authenticated creator, a duplicate display name, a caller without ALTER ANY LOGIN", async () => {
    const { engine } = build([APP, { ...APP, objectId: "9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", appId: "0b1c2d3e-4f5a-4b6c-9d7e-8f9a0b1c2d3e" }]);
    const sqlDba = engine.openSession({ kind: "sql", name: "dba" }, "master", client);
    await fails(sqlDba, `CREATE LOGIN [${APP.displayName}] FROM EXTERNAL PROVIDER;`, 33159);
    const admin = engine.openSession({ kind: "entra", name: "sql-admins", objectId: ADMIN_OID }, "master", client);
    await fails(admin, `CREATE LOGIN [${APP.displayName}] FROM EXTERNAL PROVIDER;`, 33131);
    // WITH OBJECT_ID picks one of the two, under a name of the caller's choosing.
    await ok(admin, `CREATE LOGIN [${APP.displayName}-1] FROM EXTERNAL PROVIDER WITH OBJECT_ID = '${APP.objectId}';`);
    const reader = engine.openSession({ kind: "sql", name: "reader" }, "master", client);
    await fails(reader, "CREATE LOGIN [x] WITH PASSWORD = 'test-only-pw-9';", 15247);
  });

  it("GRANT and REVOKE server permissions: idempotent, checked, visible in sys.server_permissions, undone by ROLLBACK", async () => {
    const { engine, admin } = build();
    await ok(admin, `CREATE LOGIN [${APP.displayName}] FROM EXTERNAL PROVIDER;`);
    await ok(admin, `GRANT VIEW ANY DEFINITION, VIEW SERVER STATE TO [${APP.displayName}]; GRANT VIEW SERVER STATE TO [${APP.displayName}];`);
    const perms = `SELECT p.permission_name FROM sys.server_permissions p JOIN sys.server_principals sp ON sp.principal_id = p.grantee_principal_id WHERE sp.name = N'${APP.displayName}' ORDER BY p.permission_name`;
    assert.deepEqual((await ok(admin, perms)).map((r) => r.permission_name), ["CONNECT SQL", "VIEW ANY DEFINITION", "VIEW SERVER STATE"]);
    await ok(admin, `BEGIN TRAN; GRANT ALTER ANY SERVER AUDIT TO [${APP.displayName}]; ROLLBACK;`);
    assert.ok(!(await ok(admin, perms)).some((r) => r.permission_name === "ALTER ANY SERVER AUDIT"));
    await ok(admin, `REVOKE VIEW SERVER STATE FROM [${APP.displayName}]; REVOKE ALTER ANY SERVER AUDIT FROM [${APP.displayName}];`);
    assert.deepEqual((await ok(admin, perms)).map((r) => r.permission_name), ["CONNECT SQL", "VIEW ANY DEFINITION"]);
    await fails(admin, "GRANT VIEW ANY DEFINITION TO [ghost];", 15151);
    await fails(admin, `GRANT SELECT ON sys.server_audits TO [${APP.displayName}];`, 156);
    const reader = engine.openSession({ kind: "sql", name: "reader" }, "master", client);
    await fails(reader, `GRANT VIEW SERVER STATE TO [${APP.displayName}];`, 4613);
    // A login without VIEW ANY DEFINITION sees only itself.
    const app = engine.openSession({ kind: "entra", name: APP.displayName, objectId: APP.objectId }, "master", client);
    await ok(admin, `REVOKE VIEW ANY DEFINITION FROM [${APP.displayName}];`);
    assert.deepEqual((await ok(app, "SELECT name FROM sys.server_principals")).map((r) => r.name), [APP.displayName]);
  });

  it("a ROLLBACK undoes only its own GRANT, and login ids stay put when a CREATE LOGIN is rolled back", async () => {
    const { engine, admin } = build();
    const other = engine.openSession({ kind: "sql", name: "dba" }, "master", client);
    await ok(admin, `CREATE LOGIN [${APP.displayName}] FROM EXTERNAL PROVIDER;`);
    await ok(admin, `BEGIN TRAN; GRANT VIEW SERVER STATE TO [${APP.displayName}];`);
    await ok(other, `GRANT ALTER ANY SERVER AUDIT TO [${APP.displayName}];`);
    await ok(admin, "ROLLBACK;");
    const perms = await ok(admin, `SELECT p.permission_name FROM sys.server_permissions p JOIN sys.server_principals sp ON sp.principal_id = p.grantee_principal_id WHERE sp.name = N'${APP.displayName}' ORDER BY p.permission_name`);
    assert.deepEqual(perms.map((r) => r.permission_name), ["ALTER ANY SERVER AUDIT", "CONNECT SQL"], "the other session's committed grant survives");
    const idOf = async (name: string) => (await ok(admin, `SELECT SUSER_ID(N'${name}') AS id`))[0]!.id;
    const appId = await idOf(APP.displayName);
    await ok(admin, "BEGIN TRAN; CREATE LOGIN [temp-login] WITH PASSWORD = 'test-only-pw-7'; ROLLBACK;");
    assert.equal(await idOf("temp-login"), null);
    assert.equal(await idOf(APP.displayName), appId);
  });

  it("dynamic SQL nests; a THROW inside it ends the outer batch too; blocks nested too deep are error 191", async () => {
    const { admin } = build();
    // Each level doubles the quotes, so five levels is as deep as a test string stays small.
    let nested = "SELECT 7 AS a";
    for (let i = 0; i < 5; i++) nested = `EXEC (N'${nested.replaceAll("'", "''")}')`;
    assert.deepEqual(await ok(admin, nested), [{ a: 7 }]);
    const out = await run(admin, "EXEC (N'THROW 50010, N''inner'', 1;'); SELECT 2 AS after_throw;");
    assert.ok(out[0]!.kind === "error" && out[0]!.error.number === 50010);
    assert.equal(out.length, 1, "the statement after the EXEC did not run");
    await fails(admin, `${"IF 1 = 1 BEGIN ".repeat(20000)}SELECT 1${" END".repeat(20000)}`, 191);
  });

  it("EXEC (@sql) runs the string as its own batch; QUOTENAME quotes a name so it cannot break out of the statement", async () => {
    const { admin } = build();
    const evil = "DECLARE @n sysname = N'evil]; DROP SERVER AUDIT x; --'; ";
    const rows = await ok(admin, evil + "DECLARE @sql nvarchar(max) = N'SELECT ' + QUOTENAME(@n, '''') + N' AS q'; EXEC (@sql);");
    assert.deepEqual(rows, [{ q: "evil]; DROP SERVER AUDIT x; --" }]);
    assert.deepEqual(await ok(admin, `${evil}SELECT QUOTENAME(@n) AS b, QUOTENAME(N'${"x".repeat(129)}') AS too_long`), [{ b: "[evil]]; DROP SERVER AUDIT x; --]", too_long: null }]);
    const out = await run(admin, "EXEC (N'SELEC 1'); SELECT 2 AS after_error;");
    assert.ok(out[0]!.kind === "error" && out[0]!.error.number === 102);
    assert.ok(out[1]!.kind === "rows");
    assert.deepEqual(await ok(admin, "SELECT SUSER_ID(N'dba') AS id, SUSER_ID(N'ghost') AS none"), [{ id: 259, none: null }]);
  });
});
