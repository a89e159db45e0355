import assert from "node:assert/strict";
import type { SqlAuditRecord, SqlSession, SqlValue, StatementOutcome } from "../../emulator/sql/contracts.js";
import { ManagedInstanceEngine } from "../../emulator/mi/engine.js";
import type { MiStateInput } from "../../emulator/mi/state-schema.js";

/** An emulated Managed Instance engine with four logins and its audit records, for engine-level tests. */
export const ADMIN_OID = "11111111-2222-4333-8444-555555555555";

export function setup(state: MiStateInput = {}) {
  const records: SqlAuditRecord[] = [];
  const engine = new ManagedInstanceEngine({
    serverName: "mi-test.abc123def456.database.windows.net",
    state: {
      logins: [
        { name: "dba", password: "test-only-pw-1", permissions: ["sysadmin"] },
        { name: "reader", password: "test-only-pw-2", permissions: ["VIEW ANY DEFINITION", "VIEW SERVER STATE"] },
        { name: "nobody", password: "test-only-pw-3" },
        { kind: "entra", name: "auditguard-scanner", objectId: ADMIN_OID, permissions: ["ALTER ANY SERVER AUDIT", "VIEW SERVER STATE"] },
      ],
      databases: [{ name: "sales" }],
      ...state,
    },
    now: () => new Date("2026-11-24T12:00:00Z"),
    onAuditRecord: (r) => records.push(r),
  });
  const session = (name = "dba"): SqlSession =>
    engine.openSession({ kind: name === "auditguard-scanner" ? "entra" : "sql", name }, "master", { address: "10.0.0.7", appName: "auditguard", hostName: "scanner-host" });
  return { engine, records, session };
}

export async function run(s: SqlSession, sql: string, params: Record<string, SqlValue> = {}): Promise<StatementOutcome[]> {
  return s.execute({ sql, params: new Map(Object.entries(params)), signal: new AbortController().signal });
}

/** Runs a batch that must succeed; returns the rows of its last result set (as objects). */
export async function ok(s: SqlSession, sql: string, params: Record<string, SqlValue> = {}): Promise<Record<string, SqlValue>[]> {
  const out = await run(s, sql, params);
  const err = out.find((o) => o.kind === "error");
  assert.equal(err, undefined, `unexpected error: ${err?.kind === "error" ? `${err.error.number} ${err.error.message}` : ""}`);
  const rs = [...out].reverse().find((o) => o.kind === "rows");
  if (!rs || rs.kind !== "rows") return [];
  return rs.resultSet.rows.map((r) => Object.fromEntries(rs.resultSet.columns.map((c, i) => [c.name, r[i]!])));
}

export async function fails(s: SqlSession, sql: string, number: number, message?: string | RegExp): Promise<void> {
  const out = await run(s, sql);
  const err = out.find((o) => o.kind === "error");
  assert.ok(err && err.kind === "error", `expected error ${number} from: ${sql}`);
  assert.equal(err.error.number, number, err.error.message);
  if (typeof message === "string") assert.equal(err.error.message, message);
  else if (message) assert.match(err.error.message, message);
}

