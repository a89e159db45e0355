import { test } from "node:test";
import assert from "node:assert/strict";
import { createHttpHeaders, createPipelineRequest } from "@azure/core-rest-pipeline";
import type { PipelineResponse } from "@azure/core-rest-pipeline";
import { AbortError } from "@azure/abort-controller";
import { LogsRateLimit } from "../../src/azure/logs-rate-limit.js";

function fakeClock() {
  let now = 1_000_000;
  return {
    now: () => now,
    advance: (ms: number) => (now += ms),
    sleep: async (ms: number, signal?: { aborted: boolean }) => {
      if (signal?.aborted) throw new AbortError("aborted");
      now += ms;
    },
  };
}

const respond =
  (status: number, headers: Record<string, string> = {}) =>
  async (request: ReturnType<typeof createPipelineRequest>): Promise<PipelineResponse> => ({ request, status, headers: createHttpHeaders(headers) });

const request = () => createPipelineRequest({ url: "https://api.loganalytics.io/v1/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/a/query" });

test("queries within the limit go at once; the next one waits until the oldest leaves the window", async () => {
  const clock = fakeClock();
  const limit = new LogsRateLimit({ requests: 3, windowMs: 30_000, now: clock.now, sleep: clock.sleep });
  const sentAt: number[] = [];
  const send = async () => {
    await limit.policy().sendRequest(request(), respond(200));
    sentAt.push(clock.now());
  };
  const start = clock.now();
  await Promise.all([send(), send(), send()]);
  assert.deepEqual(sentAt, [start, start, start]);
  clock.advance(10_000);
  await send();
  // 30 s, plus one second of slack for the service's clock and the query's time in flight.
  assert.equal(sentAt[3], start + 31_000, "the fourth waits for the first to leave the window");
  assert.equal(limit.stats.requests, 4);
  assert.equal(limit.stats.waitedMs, 21_000);
});

test("a 429 pauses every query until its Retry-After", async () => {
  const clock = fakeClock();
  const limit = new LogsRateLimit({ requests: 100, windowMs: 30_000, now: clock.now, sleep: clock.sleep });
  const start = clock.now();
  const throttled = await limit.policy().sendRequest(request(), respond(429, { "retry-after": "12" }));
  assert.equal(throttled.status, 429);
  await limit.policy().sendRequest(request(), respond(200));
  assert.equal(clock.now(), start + 12_000);
  assert.equal(limit.stats.throttled, 1);
});

test("a waiter that is aborted gives up without holding back the ones behind it", async () => {
  const clock = fakeClock();
  const limit = new LogsRateLimit({ requests: 1, windowMs: 1_000, now: clock.now, sleep: clock.sleep });
  await limit.policy().sendRequest(request(), respond(200));
  const aborted = request();
  const controller = new AbortController();
  controller.abort();
  aborted.abortSignal = controller.signal;
  await assert.rejects(limit.policy().sendRequest(aborted, respond(200)), AbortError);
  const ok = await limit.policy().sendRequest(request(), respond(200));
  assert.equal(ok.status, 200);
});

test("a limit without a single request per window is refused", () => {
  assert.throws(() => new LogsRateLimit({ requests: 0, windowMs: 1000 }), /at least one request/);
});

test("a far-off Retry-After pauses the other queries for one window at most", async () => {
  const clock = fakeClock();
  const limit = new LogsRateLimit({ requests: 100, windowMs: 30_000, now: clock.now, sleep: clock.sleep });
  const start = clock.now();
  await limit.policy().sendRequest(request(), respond(429, { "retry-after": "3600" }));
  await limit.policy().sendRequest(request(), respond(200));
  assert.equal(clock.now(), start + 30_000);
});
