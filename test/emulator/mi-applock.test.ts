import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SqlSession, SqlValue, StatementOutcome } from "../../emulator/sql/contracts.js";
import { ManagedInstanceEngine } from "../../emulator/mi/engine.js";

/** Resolves once a request waits on the resource (no timing: polls the lock manager between event-loop turns). */
async function untilWaiting(engine: ManagedInstanceEngine, resource: string): Promise<void> {
  while (engine.locks.waiting(resource) === 0) await new Promise((r) => setImmediate(r));
}

function setup() {
  const engine = new ManagedInstanceEngine({
    serverName: "mi-lock.abc123def456.database.windows.net",
    state: { logins: [{ name: "dba", password: "test-only-pw", permissions: ["sysadmin"] }] },
  });
  const session = (): SqlSession => engine.openSession({ kind: "sql", name: "dba" }, "master", { address: "127.0.0.1", appName: "t", hostName: "h" });
  return { engine, session };
}

function run(s: SqlSession, sql: string, signal = new AbortController().signal, params: Record<string, SqlValue> = {}): Promise<StatementOutcome[]> {
  return s.execute({ sql, params: new Map(Object.entries(params)), signal });
}

/** EXEC @rc = sp_getapplock …; SELECT @rc — returns the return code. */
async function getLock(s: SqlSession, args: string, signal?: AbortSignal): Promise<number> {
  const out = await run(s, `DECLARE @rc int; EXEC @rc = sp_getapplock ${args}; SELECT @rc AS rc`, signal);
  const rows = out.find((o) => o.kind === "rows");
  assert.ok(rows && rows.kind === "rows", JSON.stringify(out));
  return rows.resultSet.rows[0]![0] as number;
}

describe("MI engine: sp_getapplock / sp_releaseapplock", () => {
  it("a second session times out with -1 while the first holds an Exclusive Session lock", async () => {
    const { session } = setup();
    const a = session();
    const b = session();
    assert.equal(await getLock(a, "@Resource = N'auditguard:mi', @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = 0"), 0);
    assert.equal(await getLock(b, "@Resource = N'auditguard:mi', @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = 0"), -1);
    assert.equal(await getLock(b, "@Resource = N'auditguard:mi', @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = 50"), -1);
    // Resource names are binary-compared: another case is another lock.
    assert.equal(await getLock(b, "@Resource = N'AUDITGUARD:MI', @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = 0"), 0);
    a.close();
    b.close();
  });

  it("a waiter gets the lock (1) once the holder releases it", async () => {
    const { engine, session } = setup();
    const a = session();
    const b = session();
    assert.equal(await getLock(a, "'r1', 'Exclusive', 'Session', 0"), 0);
    const waiting = getLock(b, "@Resource = 'r1', @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = 60000");
    await untilWaiting(engine, "r1");
    const out = await run(a, "DECLARE @rc int; EXEC @rc = sp_releaseapplock @Resource = 'r1', @LockOwner = 'Session'; SELECT @rc AS rc");
    assert.equal(out.at(-1)!.kind === "rows" && out.at(-1)!.kind === "rows" ? (out.at(-1) as { resultSet: { rows: SqlValue[][] } }).resultSet.rows[0]![0] : undefined, 0);
    assert.equal(await waiting, 1);
    a.close();
    b.close();
  });

  it("Shared locks are compatible; Exclusive waits for them", async () => {
    const { engine, session } = setup();
    const [a, b, c] = [session(), session(), session()];
    assert.equal(await getLock(a, "'r2', 'Shared', 'Session', 0"), 0);
    assert.equal(await getLock(b, "'r2', 'Shared', 'Session', 0"), 0);
    assert.equal(await getLock(c, "'r2', 'Exclusive', 'Session', 0"), -1);
    a.close();
    const waiting = getLock(c, "'r2', 'Exclusive', 'Session', 60000");
    await untilWaiting(engine, "r2");
    b.close();
    assert.equal(await waiting, 1);
    c.close();
  });

  it("Transaction-owned locks need a transaction and are released at COMMIT", async () => {
    const { engine, session } = setup();
    const a = session();
    const b = session();
    const out = await run(a, "DECLARE @rc int; EXEC @rc = sp_getapplock @Resource = 'r3', @LockMode = 'Exclusive'; SELECT @rc AS rc");
    // Not an error: message 15626 at severity 10, and the return code -999.
    assert.equal(out.find((o) => o.kind === "error"), undefined);
    const info = out.flatMap((o) => (o.kind === "done" ? (o.infos ?? []) : []))[0];
    assert.deepEqual(info && [info.number, info.class], [15626, 10]);
    const rows = out.find((o) => o.kind === "rows");
    assert.equal(rows && rows.kind === "rows" ? rows.resultSet.rows[0]![0] : undefined, -999);
    await run(a, "BEGIN TRAN");
    assert.equal(await getLock(a, "'r3', 'Exclusive', 'Transaction', 0"), 0);
    const waiting = getLock(b, "'r3', 'Exclusive', 'Session', 60000");
    await untilWaiting(engine, "r3");
    const commit = await run(a, "COMMIT TRANSACTION");
    assert.equal(commit[0]!.kind === "done" && commit[0]!.transaction, "commit");
    assert.equal(await waiting, 1);
    a.close();
    b.close();
  });

  it("releasing a lock not held is error 1223 with -999; bad mode is -999; cancellation returns -2", async () => {
    const { engine, session } = setup();
    const a = session();
    const b = session();
    const out = await run(a, "DECLARE @rc int; EXEC @rc = sp_releaseapplock @Resource = 'none', @LockOwner = 'Session'; SELECT @rc AS rc");
    const err = out.find((o) => o.kind === "error");
    assert.ok(err && err.kind === "error");
    assert.equal(err.error.number, 1223);
    assert.match(err.error.message, /Resource: 'none'/);
    assert.equal(await getLock(a, "'r4', 'Sideways', 'Session', 0"), -999);
    assert.equal(await getLock(a, "'r4', 'Exclusive', 'Session', 0"), 0);
    // ATTENTION while waiting: the wait ends (-2 from the lock manager) and the rest of the batch does not run.
    const ac = new AbortController();
    const pending = run(b, "DECLARE @rc int; EXEC @rc = sp_getapplock 'r4', 'Exclusive', 'Session', -1; SELECT @rc AS rc", ac.signal);
    await untilWaiting(engine, "r4");
    ac.abort();
    const out2 = await pending;
    assert.ok(!out2.some((o) => o.kind === "rows"));
    assert.equal(engine.locks.waiting("r4"), 0);
    const direct = new AbortController();
    const code = engine.locks.acquire("r4", "Exclusive", { sessionId: b.id, type: "Session" }, -1, direct.signal);
    direct.abort();
    assert.equal(await code, -2);
    a.close();
    b.close();
  });
});
