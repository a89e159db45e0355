import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { miFleet } from "../support/mi-fleet.js";
import { createCertificateAuthority } from "../../emulator/tls/certificates.js";

/**
 * The emulated Managed Instance held to clients we did not write: FreeTDS (through pyodbc and tdsodbc), python-tds,
 * pymssql (FreeTDS's db-lib) and jTDS. Each runs as one process doing many checks (probes/) and reports what it
 * saw; the expectations are here, from the documentation: the seed's T-SQL (seeds/mi-backup-restore-auditing.md),
 * the catalog views' documented columns and types ("sys.server_audits", "sys.server_file_audits",
 * "sys.dm_server_audit_status" …) and the database engine error list.
 *
 * Every client connects by the instance's DNS name to the emulator's one TDS port, with TLS required and the
 * emulator's CA trusted, so the emulator routes it by TLS SNI / LOGIN7 server name as Azure's gateway does. The name
 * resolves to 127.0.0.1 through a hosts file mounted in a private mount namespace (util-linux `unshare -m`), and
 * through -Djdk.net.hosts.file for Java.
 *
 * TDS 8 ("strict"): none of these clients can speak it — FreeTDS 1.3.17 has no strict encryption setting (its
 * library has no such option; FreeTDS added it later), python-tds 1.8 and jTDS 1.3.1 only encrypt inside PRELOGIN —
 * so TDS 8 is held to tedious only (test/emulator/tds-protocol.test.ts). A missing client fails its test with the
 * package to install: CI installs them all (.ci/run).
 */
const exec = promisify(execFile);
const ZONE = "5e4d3c2b1a0f";
const dba = { name: "dba", password: "test-only-Pa55", permissions: ["sysadmin"] };
const fqdn = (mi: string) => `${mi}.${ZONE}.database.windows.net`;
const clients = ["pyodbc", "pytds", "pymssql", "jtds"] as const;
const PYTHON = "/usr/bin/python3";
const JTDS = "/usr/share/java/jtds.jar";
const probes = fileURLToPath(new URL("../../../test/independent-clients/probes/", import.meta.url));

// The seed, statement by statement, and the errors its DDL documents once it has run.
const SEED = [
  "CREATE SERVER AUDIT BackupRestoreAudit TO EXTERNAL_MONITOR;",
  "CREATE SERVER AUDIT SPECIFICATION BackupRestoreAuditSpec\nFOR SERVER AUDIT BackupRestoreAudit\nADD (BACKUP_RESTORE_GROUP),\nADD (AUDIT_CHANGE_GROUP)\nWITH (STATE=ON);",
  "ALTER SERVER AUDIT BackupRestoreAudit WITH (STATE=ON);",
];
const ERRORS: Record<string, { sql: string; number: number }> = {
  // 15530 "The %S_MSG with name "%.*ls" already exists."
  duplicate: { sql: SEED[0]!, number: 15530 },
  // "DROP SERVER AUDIT": MSG_NEED_AUDIT_DISABLED, 33071.
  dropEnabled: { sql: "DROP SERVER AUDIT BackupRestoreAudit", number: 33071 },
  // 33229 "Changes to an audit specification must be done while the audit specification is disabled."
  alterEnabledSpec: { sql: "ALTER SERVER AUDIT SPECIFICATION BackupRestoreAuditSpec ADD (FAILED_LOGIN_GROUP)", number: 33229 },
  // 33227 "The specified value for QUEUE_DELAY is not valid."
  queueDelay: { sql: "CREATE SERVER AUDIT q TO EXTERNAL_MONITOR WITH (QUEUE_DELAY = 500)", number: 33227 },
  // "DROP SERVER AUDIT SPECIFICATION": must be OFF first (33229, see emulator/mi/errors.ts).
  dropEnabledSpec: { sql: "DROP SERVER AUDIT SPECIFICATION BackupRestoreAuditSpec", number: 33229 },
};

let emu: RunningEmulator;
let dir: string;
let conf: string;

before(async () => {
  emu = await startEmulator({
    fleet: miFleet(
      clients.map((c) => ({
        name: `mi-${c}`,
        dnsZone: ZONE,
        sql: { logins: [dba], databases: [{ name: "sales" }], audits: [{ name: "blob", target: { type: "URL", path: "https://acct.blob.core.windows.net/sqldbauditlogs" } }] },
      })),
      "independent clients",
    ),
  });
  dir = mkdtempSync(join(tmpdir(), "auditguard-clients-"));
  writeFileSync(join(dir, "ca.pem"), emu.caPem);
  writeFileSync(join(dir, "other-ca.pem"), createCertificateAuthority("Not the emulator's CA").certPem);
  writeFileSync(join(dir, "hosts"), `127.0.0.1 localhost\n${clients.map((c) => `127.0.0.1 ${fqdn(`mi-${c}`)}`).join("\n")}\n`);
  // FreeTDS's own configuration: the section is the instance's name; TLS required, the emulator's CA trusted.
  // pymssql connects by host and port, so [global] carries the TLS settings too.
  const freetds = (ca: string) =>
    `[global]\n\tencryption = require\n\tca file = ${join(dir, ca)}\n` +
    clients.map((c) => `[${fqdn(`mi-${c}`)}]\n\thost = ${fqdn(`mi-${c}`)}\n\tport = ${emu.tds!.port}\n\tencryption = require\n\tca file = ${join(dir, ca)}\n`).join("");
  conf = join(dir, "freetds.conf");
  writeFileSync(conf, freetds("ca.pem"));
  writeFileSync(join(dir, "untrusted.conf"), freetds("other-ca.pem"));
});
after(async () => {
  await emu?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs a client with the instance names resolving to the emulator (a private mount of the hosts file). */
async function inNamespace(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const script = 'mount --bind "$0" /etc/hosts && exec "$@"';
  const { stdout } = await exec("unshare", ["-m", "sh", "-c", script, join(dir, "hosts"), cmd, ...args], { env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 4 << 20 });
  return stdout;
}

function need(path: string, pkg: string): void {
  assert.ok(existsSync(path), `${path} is missing: install the Debian package ${pkg} (CI installs it in .ci/run)`);
}

interface Observed {
  missing?: string;
  versions: Record<string, { columns: [string, unknown][]; rows: unknown[][] } | { error: string }>;
  wrong_password: unknown;
  catalog: Record<string, [string, unknown][]>;
  file_audits: unknown[][];
  seed_errors: unknown[];
  seed_state: unknown[][];
  seed_groups: unknown[][];
  documented_errors: Record<string, unknown>;
  backup: unknown;
  untrusted: string;
  database_param: unknown[][];
}

async function probePython(client: "pyodbc" | "pytds" | "pymssql", versions: string[]): Promise<Observed> {
  need(PYTHON, "python3");
  const config = join(dir, `${client}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      server: fqdn(`mi-${client}`),
      port: emu.tds!.port,
      user: dba.name,
      password: dba.password,
      ca: join(dir, "ca.pem"),
      untrusted_ca: join(dir, "other-ca.pem"),
      conf,
      untrusted_conf: join(dir, "untrusted.conf"),
      versions,
      seed: SEED,
      errors: Object.fromEntries(Object.entries(ERRORS).map(([k, v]) => [k, v.sql])),
    }),
  );
  const observed = JSON.parse(await inNamespace(PYTHON, [join(probes, "py_probe.py"), client, config], { FREETDSCONF: conf })) as Observed;
  assert.equal(observed.missing, undefined, `${client}: ${observed.missing ?? ""} (CI installs it in .ci/run)`);
  return observed;
}

/** What every client must have seen, whatever its type names. */
function assertCommon(o: Observed, client: string, instance: string, variantValue: (v: unknown) => number = Number): void {
  for (const [version, r] of Object.entries(o.versions)) {
    assert.ok(!("error" in r), `${client} over TDS ${version}: ${"error" in r ? r.error : ""}`);
    if ("error" in r) continue;
    assert.equal(r.rows[0]![0], fqdn(instance), `${client} ${version}: routed to its instance by name`);
    // SERVERPROPERTY('EngineEdition') is 8 on Managed Instance ("SERVERPROPERTY (Transact-SQL)"), as variant and as int.
    assert.equal(variantValue(r.rows[0]![1]), 8, `${client} ${version}: the sql_variant decodes to its base value`);
    assert.equal(Number(r.rows[0]![2]), 8);
  }
  assert.equal(o.wrong_password, 18456, `${client}: a wrong password is 18456`);
  assert.equal(o.untrusted, "refused", `${client}: a CA that did not issue the certificate is refused`);
  // "sys.server_audits (Transact-SQL)" columns, in order; is_operator_audit follows on SQL Server 2022 / MI [unverified].
  assert.deepEqual(o.catalog["sys.server_audits"]!.map((c) => c[0]).slice(0, 13), ["audit_id", "name", "audit_guid", "create_date", "modify_date", "principal_id", "type", "type_desc", "on_failure", "on_failure_desc", "is_state_enabled", "queue_delay", "predicate"]);
  assert.deepEqual(o.catalog["sys.server_audit_specifications"]!.map((c) => c[0]), ["name", "server_specification_id", "create_date", "modify_date", "audit_guid", "is_state_enabled"]);
  assert.deepEqual(o.catalog["sys.dm_server_audit_status"]!.map((c) => c[0]), ["audit_id", "name", "status", "status_desc", "status_time", "event_session_address", "audit_file_path", "audit_file_size"]);
  assert.deepEqual(o.catalog["sys.server_file_audits"]!.map((c) => c[0]).slice(-7), ["max_file_size", "max_rollover_files", "max_files", "reserved_disk_space", "log_file_path", "log_file_name", "retention_days"]);
  assert.deepEqual(o.file_audits, [["blob", "https://acct.blob.core.windows.net/sqldbauditlogs"]]);
  // The seed runs as written and leaves the audit started with both groups bound and enabled.
  assert.deepEqual(o.seed_errors, [null, null, null], `${client}: the seed's statements run`);
  assert.deepEqual(o.seed_state.map((r) => r.map(String)), [["BackupRestoreAudit", "EXTERNAL_MONITOR", "1", "STARTED"]]);
  assert.deepEqual(o.seed_groups.map((r) => r[0]), ["AUDIT_CHANGE_GROUP", "BACKUP_RESTORE_GROUP"]);
  for (const [name, e] of Object.entries(ERRORS)) assert.equal(o.documented_errors[name], e.number, `${client}: ${name} is ${e.number}`);
  assert.equal(o.backup, null, `${client}: BACKUP … TO URL WITH COPY_ONLY runs`);
  assert.deepEqual(o.database_param, [["sales"]], `${client}: the requested database is the session's`);
}

/** The client's type for each documented column type of sys.server_audits and sys.dm_server_audit_status. */
function typesOf(o: Observed, view: string): Record<string, unknown> {
  return Object.fromEntries(o.catalog[view]!.map(([n, t]) => [n, t]));
}

describe("independent clients against the emulated Managed Instance", { concurrency: 4 }, () => {
  it("FreeTDS (pyodbc + tdsodbc) over TDS 7.1, 7.2, 7.3 and 7.4", async () => {
    const o = await probePython("pyodbc", ["7.1", "7.2", "7.3", "7.4"]);
    assertCommon(o, "FreeTDS/pyodbc", "mi-pyodbc");
    // pyodbc reports Python types: int for int/tinyint/smallint, str for nvarchar/char, datetime for datetime(2).
    const t = typesOf(o, "sys.server_audits");
    assert.deepEqual([t.audit_id, t.name, t.create_date, t.type, t.on_failure, t.is_state_enabled], ["int", "str", "datetime", "str", "int", "int"]);
    assert.equal(typesOf(o, "sys.dm_server_audit_status").status_time, "datetime");
    // SERVERPROPERTY travels as sql_variant: the ODBC driver names it SQL_SS_VARIANT (-150), which pyodbc cannot fetch.
    assert.match(String((o as unknown as { variant_error: string }).variant_error), /-150/);
  });

  it("python-tds over TDS 7.1, 7.2, 7.3 and 7.4", async () => {
    const o = await probePython("pytds", ["7.1", "7.2", "7.3", "7.4"]);
    assertCommon(o, "python-tds", "mi-pytds");
    // python-tds reports TDS type codes (names from pytds.tds_base): the documented SQL types on the wire. It reads
    // char through its varchar serializer, so char(2) reports as XSYBVARCHAR (pytds/tds_types.py).
    const t = typesOf(o, "sys.server_audits");
    assert.deepEqual([t.audit_id, t.name, t.audit_guid, t.create_date, t.type, t.on_failure, t.is_state_enabled], ["SYBINT4", "XSYBNVARCHAR", "SYBUNIQUE", "SYBDATETIME", "XSYBVARCHAR", "SYBINT1", "SYBINT1"]);
    const s = typesOf(o, "sys.dm_server_audit_status");
    assert.deepEqual([s.status, s.status_time, s.event_session_address, s.audit_file_size], ["SYBINT2", "SYBMSDATETIME2", "XSYBVARBINARY", "SYBINT8"]);
  });

  // pymssql 2.2.2 accepts tds_version up to "7.3" ("unrecognized tds version: 7.4").
  it("pymssql (FreeTDS db-lib) over TDS 7.1, 7.2 and 7.3", async () => {
    const o = await probePython("pymssql", ["7.1", "7.2", "7.3"]);
    // db-lib hands a sql_variant over as its base value's bytes: int 8, little-endian.
    assertCommon(o, "pymssql", "mi-pymssql", (v) => (v === String.raw`b'\x08\x00\x00\x00'` ? 8 : NaN));
    const t = typesOf(o, "sys.server_audits");
    assert.deepEqual([t.audit_id, t.name, t.create_date], ["NUMBER", "STRING", "DATETIME"]);
  });

  it("jTDS (TDS 7.1, its protocol for sqlserver) with ssl=authenticate", async () => {
    need(JTDS, "libjtds-java");
    need("/usr/bin/javac", "openjdk-17-jdk-headless");
    const classes = join(dir, "classes");
    await exec("/usr/bin/javac", ["-d", classes, "-cp", JTDS, join(probes, "JtdsProbe.java")], { timeout: 120_000 });
    const java = (args: string[]) => inNamespace("/usr/bin/java", [`-Djdk.net.hosts.file=${join(dir, "hosts")}`, "-cp", `${JTDS}:${classes}`, "JtdsProbe", ...args]);
    const [main, untrusted] = await Promise.all([
      java([join(dir, "ca.pem"), fqdn("mi-jtds"), String(emu.tds!.port), dba.name, dba.password, "-", ...SEED, "--errors", ...Object.entries(ERRORS).map(([k, v]) => `${k}=${v.sql}`)]),
      java(["--untrusted", join(dir, "other-ca.pem"), fqdn("mi-jtds"), String(emu.tds!.port), dba.name, dba.password]),
    ]);
    const o = { ...(JSON.parse(main) as Observed), ...(JSON.parse(untrusted) as { untrusted: string }) };
    assertCommon(o, "jTDS", "mi-jtds");
    // getColumnTypeName: the documented types; datetime2 reaches a TDS 7.1 client as nvarchar ("datetime2", down-level clients).
    const t = typesOf(o, "sys.server_audits");
    assert.deepEqual([t.audit_id, t.name, t.audit_guid, t.create_date, t.type, t.on_failure, t.is_state_enabled, t.predicate], ["int", "nvarchar", "uniqueidentifier", "datetime", "char", "tinyint", "tinyint", "nvarchar"]);
    const s = typesOf(o, "sys.dm_server_audit_status");
    assert.deepEqual([s.status, s.status_time, s.audit_file_size], ["smallint", "nvarchar", "bigint"]);
  });
});
