import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fails, ok, run, setup } from "../support/mi-engine-harness.js";

// The T-SQL everyday DBA and STIG-style queries use, each as its Microsoft Learn page documents it: "USE", "CASE",
// "CAST and CONVERT", "SELECT - GROUP BY", "EXISTS", "Table hints", "sys.databases", "sys.dm_audit_actions",
// "IS_SRVROLEMEMBER", "DB_ID", "DB_NAME", "@@SERVICENAME", "CREATE CREDENTIAL" / "sys.credentials", "SERVERPROPERTY".
const withAudits = {
  audits: [
    { name: "a1", target: "EXTERNAL_MONITOR" as const, enabled: true },
    { name: "a2", target: "EXTERNAL_MONITOR" as const, enabled: false },
    { name: "u1", target: { type: "URL" as const, path: "https://acct.blob.core.windows.net/c" }, enabled: true },
  ],
};

describe("MI T-SQL surface", () => {
  it("USE changes the session's database (DB_NAME, DB_ID follow); a missing one is 911 and changes nothing", async () => {
    const { session } = setup();
    const s = session();
    const out = await run(s, "USE sales");
    assert.deepEqual(out[0], { kind: "done", databaseChange: { from: "master", to: "sales" } });
    assert.deepEqual(await ok(s, "SELECT DB_NAME() AS db, DB_ID() AS id, DB_ID('master') AS m, DB_NAME(4) AS four, DB_ID('nope') AS none"), [{ db: "sales", id: 5, m: 1, four: "msdb", none: null }]);
    await fails(s, "USE [no such db]", 911, "Database 'no such db' does not exist. Make sure that the name is entered correctly.");
    assert.deepEqual(await ok(s, "SELECT DB_NAME() AS db"), [{ db: "sales" }]);
  });

  it("CASE (searched and simple), CAST and CONVERT", async () => {
    const { session } = setup(withAudits);
    const rows = await ok(
      session(),
      "SELECT name, CASE WHEN is_state_enabled = 1 THEN 'ON' ELSE 'OFF' END AS state, CASE type_desc WHEN 'URL' THEN 1 WHEN 'EXTERNAL_MONITOR' THEN 2 END AS kind, CONVERT(varchar(10), queue_delay) AS qd, CAST(audit_id AS bigint) AS id FROM sys.server_audits ORDER BY name",
    );
    assert.deepEqual(rows.map((r) => [r.name, r.state, r.kind, r.qd]), [["a1", "ON", 2, "1000"], ["a2", "OFF", 2, "1000"], ["u1", "ON", 1, "1000"]]);
  });

  it("GROUP BY with COUNT, MIN, MAX and HAVING; a column outside GROUP BY is 8120", async () => {
    const { session } = setup(withAudits);
    const s = session();
    assert.deepEqual(await ok(s, "SELECT type_desc, COUNT(*) AS n, MAX(name) AS last, SUM(is_state_enabled) AS enabled FROM sys.server_audits GROUP BY type_desc ORDER BY n DESC"), [
      { type_desc: "EXTERNAL_MONITOR", n: 2, last: "a2", enabled: 1 },
      { type_desc: "URL", n: 1, last: "u1", enabled: 1 },
    ]);
    assert.deepEqual(await ok(s, "SELECT type_desc FROM sys.server_audits GROUP BY type_desc HAVING COUNT(*) > 1"), [{ type_desc: "EXTERNAL_MONITOR" }]);
    assert.deepEqual(await ok(s, "SELECT COUNT(*) AS n, MIN(audit_id) AS lo FROM sys.server_audits WHERE name = 'none'"), [{ n: 0, lo: null }]);
    await fails(s, "SELECT name, COUNT(*) FROM sys.server_audits GROUP BY type_desc", 8120);
  });

  it("IF [NOT] EXISTS (SELECT …) and table hints WITH (NOLOCK)", async () => {
    const { session, engine } = setup(withAudits);
    const s = session();
    await ok(s, "IF NOT EXISTS (SELECT 1 FROM sys.server_audits WITH (NOLOCK) WHERE name = 'x') CREATE SERVER AUDIT x TO EXTERNAL_MONITOR");
    await ok(s, "IF NOT EXISTS (SELECT 1 FROM sys.server_audits WHERE name = 'x') CREATE SERVER AUDIT x TO EXTERNAL_MONITOR");
    assert.equal([...engine.audits.values()].filter((a) => a.name === "x").length, 1);
    assert.deepEqual(await ok(s, "IF EXISTS (SELECT * FROM sys.server_audits a WITH (NOLOCK, READUNCOMMITTED) WHERE a.name = 'a1') SELECT 1 AS yes ELSE SELECT 0 AS yes"), [{ yes: 1 }]);
    await fails(s, "SELECT name FROM sys.server_audits WITH (NOT_A_HINT)", 102);
  });

  it("sys.databases lists the system databases and the user ones with their documented columns", async () => {
    const { session } = setup();
    const rows = await ok(session("nobody"), "SELECT name, database_id, state_desc, recovery_model_desc FROM sys.databases ORDER BY database_id");
    assert.deepEqual(rows.map((r) => [r.name, r.database_id, r.state_desc]), [["master", 1, "ONLINE"], ["tempdb", 2, "ONLINE"], ["model", 3, "ONLINE"], ["msdb", 4, "ONLINE"], ["sales", 5, "ONLINE"]]);
    assert.equal(rows[4]!.recovery_model_desc, "FULL");
  });

  it("sys.dm_audit_actions: the groups (action_id NULL, as documented) and the actions AuditGuard reads, with their groups", async () => {
    const { session } = setup();
    const s = session("nobody");
    const out = await run(s, "SELECT * FROM sys.dm_audit_actions");
    assert.equal(out[0]!.kind, "rows");
    if (out[0]!.kind === "rows") {
      assert.deepEqual(out[0]!.resultSet.columns.map((c) => c.name), ["action_id", "action_in_log", "name", "class_desc", "parent_class_desc", "covering_parent_action_name", "configuration_level", "containing_group_name"]);
    }
    assert.deepEqual(await ok(s, "SELECT action_id, configuration_level FROM sys.dm_audit_actions WHERE name = 'BACKUP_RESTORE_GROUP'"), [{ action_id: null, configuration_level: "Group" }]);
    assert.deepEqual(await ok(s, "SELECT action_id, containing_group_name FROM sys.dm_audit_actions WHERE action_id IN ('BA', 'RS', 'AUSC') ORDER BY action_id"), [
      { action_id: "AUSC", containing_group_name: null },
      { action_id: "BA", containing_group_name: "BACKUP_RESTORE_GROUP" },
      { action_id: "RS", containing_group_name: "BACKUP_RESTORE_GROUP" },
    ]);
  });

  it("IS_SRVROLEMEMBER: 1, 0, or NULL for a role or login that is not valid; @@SERVICENAME", async () => {
    const { session } = setup();
    assert.deepEqual(await ok(session("dba"), "SELECT IS_SRVROLEMEMBER('sysadmin') AS sa, IS_SRVROLEMEMBER('public') AS pub, IS_SRVROLEMEMBER('sysadmin', 'reader') AS r, IS_SRVROLEMEMBER('nope') AS bad, IS_SRVROLEMEMBER('sysadmin', 'ghost') AS ghost, @@SERVICENAME AS svc"), [
      { sa: 1, pub: 1, r: 0, bad: null, ghost: null, svc: "MSSQLSERVER" },
    ]);
    assert.deepEqual(await ok(session("reader"), "SELECT IS_SRVROLEMEMBER('sysadmin') AS sa"), [{ sa: 0 }]);
  });

  it("CREATE CREDENTIAL keeps its SECRET to itself: sys.credentials shows the identity only; 15247 without the permission; DROP CREDENTIAL", async () => {
    const { session } = setup();
    const s = session();
    await ok(s, "CREATE CREDENTIAL [https://acct.blob.core.windows.net/c] WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET = 'sv=2022&sig=test-only-not-a-secret'");
    const rows = await ok(s, "SELECT * FROM sys.credentials");
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.name, "https://acct.blob.core.windows.net/c");
    assert.equal(rows[0]!.credential_identity, "SHARED ACCESS SIGNATURE");
    assert.ok(!JSON.stringify(rows).includes("test-only-not-a-secret"), "the secret is never shown");
    await fails(session("reader"), "CREATE CREDENTIAL c2 WITH IDENTITY = 'x', SECRET = 'y'", 15247);
    await ok(s, "DROP CREDENTIAL [https://acct.blob.core.windows.net/c]");
    assert.deepEqual(await ok(s, "SELECT name FROM sys.credentials"), []);
  });

  it("SERVERPROPERTY returns sql_variant whose base type is the property's", async () => {
    const { session } = setup();
    const out = await run(session(), "SELECT SERVERPROPERTY('EngineEdition') AS ee, SERVERPROPERTY('Edition') AS ed, SERVERPROPERTY('NoSuchProperty') AS none, CAST(SERVERPROPERTY('EngineEdition') AS int) AS n");
    assert.equal(out[0]!.kind, "rows");
    if (out[0]!.kind !== "rows") return;
    assert.deepEqual(out[0]!.resultSet.columns.map((c) => c.type.kind), ["sql_variant", "sql_variant", "sql_variant", "int"]);
    assert.deepEqual(out[0]!.resultSet.rows[0], [8, "SQL Azure", null, 8]);
  });
});
