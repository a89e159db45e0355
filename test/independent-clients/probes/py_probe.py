"""One independent Python client against the emulated Managed Instance: reports what it sees as JSON on stdout.

Usage: py_probe.py <pyodbc|pytds|pymssql> <config.json>. Expectations live in the Node test that runs this; this
script only observes. Every connection goes to the instance by its DNS name (resolved to the emulator by the hosts
file the test mounts) with the emulator's CA trusted and TLS required.
"""
import json
import re
import sys

client, config_path = sys.argv[1], sys.argv[2]
cfg = json.load(open(config_path))
FQDN, PORT, USER, PASSWORD = cfg["server"], int(cfg["port"]), cfg["user"], cfg["password"]
out = {"client": client}


def fail(reason):
    out["missing"] = reason
    print(json.dumps(out))
    sys.exit(0)


if client == "pyodbc":
    try:
        import pyodbc
    except ImportError as e:
        fail(f"python3-pyodbc is not installed ({e})")
    if "FreeTDS" not in pyodbc.drivers():
        fail("the FreeTDS ODBC driver (tdsodbc) is not registered")

    def connect(version, password=PASSWORD, database=None):
        # SERVERNAME names the freetds.conf section (host, port, encryption = require, ca file).
        cs = f"DRIVER={{FreeTDS}};SERVERNAME={FQDN};UID={USER};PWD={password};TDS_Version={version};"
        if database:
            cs += f"DATABASE={database};"
        return pyodbc.connect(cs, autocommit=True, timeout=10)

    def type_name(t):
        return t.__name__

    def error_number(e):
        m = re.search(r"\((\d+)\) \(SQL", str(e))
        return int(m.group(1)) if m else str(e)

elif client == "pytds":
    try:
        import pytds
        import pytds.tds_base as base
    except ImportError as e:
        fail(f"python3-tds is not installed ({e})")
    versions = {"7.1": base.TDS71, "7.2": base.TDS72, "7.3": base.TDS73, "7.4": base.TDS74}
    codes = {}
    for k, v in vars(base).items():
        if isinstance(v, int) and k.startswith(("SYB", "XSYB")) and v not in codes:
            codes[v] = k

    def connect(version, password=PASSWORD, database=None, cafile=None):
        # validate_host=False: pytds 1.8 compares the certificate's names literally ("TODO handle wildcards" in
        # pytds/tls.py), and Azure's certificate, like the emulator's, is a wildcard. The chain is still verified.
        return pytds.connect(server=FQDN, port=PORT, user=USER, password=password, database=database or "master",
                             cafile=cafile or cfg["ca"], validate_host=False, tds_version=versions[version],
                             login_timeout=10, autocommit=True)

    def type_name(t):
        return codes.get(t, t)

    def error_number(e):
        return getattr(e, "number", None) or str(e)

elif client == "pymssql":
    try:
        import pymssql
    except ImportError as e:
        fail(f"python3-pymssql is not installed ({e})")

    def connect(version, password=PASSWORD, database=None):
        # pymssql connects to server:port itself; TLS settings come from freetds.conf's [global] (FREETDSCONF).
        return pymssql.connect(server=FQDN, port=str(PORT), user=USER, password=password, database=database or "", tds_version=version,
                               login_timeout=10, autocommit=True)

    def type_name(t):
        names = {pymssql.STRING.value if hasattr(pymssql.STRING, "value") else 1: "STRING"}
        return {1: "STRING", 2: "BINARY", 3: "NUMBER", 4: "DATETIME", 5: "DECIMAL"}.get(t, names.get(t, t))

    def error_number(e):
        # pymssql's errors carry (number, message), either as args or as args[0].
        first = e.args[0] if e.args else None
        if isinstance(first, tuple) and first and isinstance(first[0], int):
            return first[0]
        return first if isinstance(first, int) else str(e)
else:
    fail(f"unknown client {client}")


def query(conn, sql):
    cur = conn.cursor()
    cur.execute(sql)
    cols = [[d[0], type_name(d[1])] for d in cur.description] if cur.description else []
    rows = [[v if isinstance(v, (int, float, str, type(None))) else str(v) for v in r] for r in cur.fetchall()] if cur.description else []
    return {"columns": cols, "rows": rows}


def error_of(conn, sql):
    try:
        conn.cursor().execute(sql)
        return None
    except Exception as e:  # the client's own error type
        return error_number(e)


# pyodbc cannot fetch sql_variant (ODBC type -150, SQL_SS_VARIANT) from any server, so it reads SERVERPROPERTY
# through CAST and reports the error the raw variant gives it.
RAW = "CAST(SERVERPROPERTY('EngineEdition') AS int)" if client == "pyodbc" else "SERVERPROPERTY('EngineEdition')"
out["versions"] = {}
for v in cfg["versions"]:
    try:
        c = connect(v)
        out["versions"][v] = query(c, f"SELECT @@SERVERNAME AS s, {RAW} AS ee, CAST(SERVERPROPERTY('EngineEdition') AS int) AS ee_int, SYSUTCDATETIME() AS now2, @@SPID AS spid")
        if client == "pyodbc":
            try:
                query(c, "SELECT SERVERPROPERTY('EngineEdition') AS ee")
                out["variant_error"] = None
            except Exception as e:
                out["variant_error"] = str(e)
        c.close()
    except Exception as e:
        out["versions"][v] = {"error": str(e)}

main_version = cfg["versions"][-1]
try:
    connect(main_version, password="wrong-" + PASSWORD).close()
    out["wrong_password"] = None
except Exception as e:
    out["wrong_password"] = error_number(e)

c = connect(main_version)
out["catalog"] = {}
for view in ["sys.server_audits", "sys.server_file_audits", "sys.server_audit_specifications", "sys.server_audit_specification_details", "sys.dm_server_audit_status"]:
    out["catalog"][view] = query(c, f"SELECT TOP 0 * FROM {view}")["columns"]
out["file_audits"] = query(c, "SELECT name, log_file_path FROM sys.server_file_audits")["rows"]

# The seed, statement by statement (GO separates them in the seed; GO is a client-tool separator, not T-SQL).
out["seed_errors"] = [error_of(c, s) for s in cfg["seed"]]
out["seed_state"] = query(c, "SELECT a.name, a.type_desc, a.is_state_enabled, s.status_desc FROM sys.server_audits AS a JOIN sys.dm_server_audit_status AS s ON s.audit_id = a.audit_id WHERE a.name = 'BackupRestoreAudit'")["rows"]
out["seed_groups"] = query(c, "SELECT d.audit_action_name FROM sys.server_audit_specification_details AS d JOIN sys.server_audit_specifications AS sp ON sp.server_specification_id = d.server_specification_id WHERE sp.name = 'BackupRestoreAuditSpec' AND sp.is_state_enabled = 1 ORDER BY d.audit_action_name")["rows"]
out["documented_errors"] = {name: error_of(c, sql) for name, sql in cfg["errors"].items()}
out["backup"] = error_of(c, "BACKUP DATABASE sales TO URL = 'https://acct.blob.core.windows.net/backups/sales.bak' WITH COPY_ONLY")
c.close()

# A CA that did not issue the emulator's certificate: the client must refuse the server.
try:
    if client == "pytds":
        connect(main_version, cafile=cfg["untrusted_ca"]).close()
    else:
        import os
        os.environ["FREETDSCONF"] = cfg["untrusted_conf"]
        try:
            connect(main_version).close()
        finally:
            os.environ["FREETDSCONF"] = cfg["conf"]
    out["untrusted"] = "connected"
except Exception as e:
    out["untrusted"] = "refused"

c = connect(main_version, database="sales")
out["database_param"] = query(c, "SELECT DB_NAME() AS db")["rows"]
c.close()
print(json.dumps(out))
