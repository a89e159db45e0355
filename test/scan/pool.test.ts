import { test } from "node:test";
import assert from "node:assert/strict";
import { runPool } from "../../src/scan/pool.js";

const tick = () => new Promise((r) => setImmediate(r));

test("never more than `concurrency` workers run, and outcomes keep input order", async () => {
  let running = 0;
  let peak = 0;
  const outcomes = await runPool([5, 1, 4, 2, 3, 0], async (n) => {
    running++;
    peak = Math.max(peak, running);
    for (let i = 0; i < n; i++) await tick();
    running--;
    if (n === 2) throw new Error("boom");
    return n * 10;
  }, { concurrency: 3 });
  assert.equal(peak, 3);
  assert.deepEqual(outcomes.map((o) => (o.status === "fulfilled" ? o.value : o.status)), [50, 10, 40, "rejected", 30, 0]);
});

test("a failing item does not stop the others", async () => {
  const outcomes = await runPool(["a", "b", "c"], async (s) => {
    if (s === "a") throw new Error("unreachable");
    return s;
  }, { concurrency: 1 });
  assert.equal(outcomes[0]!.status, "rejected");
  assert.deepEqual(outcomes.slice(1), [{ status: "fulfilled", value: "b" }, { status: "fulfilled", value: "c" }]);
});

test("cancellation aborts running workers and leaves the rest not started", async () => {
  const controller = new AbortController();
  const outcomes = await runPool([1, 2, 3, 4], async (n, signal) => {
    if (n === 1) {
      controller.abort();
      await tick();
      signal.throwIfAborted();
    }
    return n;
  }, { concurrency: 1, signal: controller.signal });
  assert.equal(outcomes[0]!.status, "rejected");
  assert.deepEqual(outcomes.slice(1).map((o) => o.status === "not-started" && o.reason), ["cancelled", "cancelled", "cancelled"]);
});

test("a deadline in the past starts nothing and says so", async () => {
  let calls = 0;
  const outcomes = await runPool([1, 2], async () => ++calls, { concurrency: 2, deadline: 5, now: () => 10 });
  assert.equal(calls, 0);
  assert.deepEqual(outcomes, [{ status: "not-started", reason: "deadline" }, { status: "not-started", reason: "deadline" }]);
});

test("a deadline reached mid-run aborts the workers still running", async () => {
  const outcomes = await runPool([0, 1], async (n, signal) => {
    if (n === 0) return "quick";
    await new Promise((resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }));
    return "never";
  }, { concurrency: 2, deadline: Date.now() + 30 });
  assert.deepEqual(outcomes[0], { status: "fulfilled", value: "quick" });
  assert.equal(outcomes[1]!.status, "rejected");
  assert.match(String((outcomes[1] as { reason: Error }).reason), /deadline/);
});

test("a bad concurrency is refused", async () => {
  await assert.rejects(runPool([1], async (n) => n, { concurrency: 0 }), RangeError);
});
