import { test } from "node:test";
import assert from "node:assert/strict";
import { createHttpHeaders, createPipelineRequest } from "@azure/core-rest-pipeline";
import type { PipelineRequest, PipelineResponse } from "@azure/core-rest-pipeline";
import { ArmThrottle, operationOf, retryAfterMs, subscriptionOf } from "../../src/azure/arm-throttle.js";
import { DOCUMENTED_ARM_THROTTLING, TokenBucketThrottle } from "../../emulator/arm/ratelimit.js";
import { sampleLatency } from "../../emulator/faults/faults.js";
import { mulberry32 } from "../support/prng.js";

const SUB_A = "00000000-0000-0000-0000-00000000000a";
const SUB_B = "00000000-0000-0000-0000-00000000000b";
const url = (sub: string) => `https://management.azure.com/subscriptions/${sub}/providers/Microsoft.Sql/servers?api-version=x`;
const GRAPH = "https://management.azure.com/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01";
const PRINCIPAL = "scanner-principal";

/**
 * A clock that moves only when every task waits on it: sleeps wake in time order, so many concurrent requests,
 * several throttles and the service's buckets share one deterministic timeline (no real time passes).
 */
class VirtualClock {
  now = 1_000_000;
  private timers: Array<{ at: number; seq: number; resolve: () => void }> = [];
  private seq = 0;
  readonly sleep = (ms: number) => new Promise<void>((resolve) => this.timers.push({ at: this.now + Math.max(0, ms), seq: this.seq++, resolve }));
  async run<T>(work: Promise<T>): Promise<T> {
    let done = false;
    void work.then(
      () => (done = true),
      () => (done = true),
    );
    for (;;) {
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
      if (done) return work;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift();
      if (!next) throw new Error("nothing to wake: the work is stuck");
      this.now = Math.max(this.now, next.at);
      next.resolve();
    }
  }
}

/**
 * ARM as "Understand how Azure Resource Manager throttles requests" describes it, from the emulator's buckets:
 * each request takes a token when it arrives (half the latency after it is sent) and answers with the
 * x-ms-ratelimit-remaining-* headers, or 429 with Retry-After when a bucket is empty.
 */
function arm(clock: VirtualClock, latencyMs = 20, sigma = 0) {
  const random = mulberry32(5);
  const buckets = new TokenBucketThrottle(DOCUMENTED_ARM_THROTTLING, () => clock.now);
  const answered = { ok: 0, throttled: 0 };
  const send = async (request: PipelineRequest): Promise<PipelineResponse> => {
    // Each way half a round trip, lognormal when sigma is set: later requests may overtake earlier ones.
    const roundTrip = sigma ? sampleLatency({ kind: "lognormal", medianMs: latencyMs, sigma }, random) : latencyMs;
    await clock.sleep(roundTrip / 2);
    const decision = buckets.take(subscriptionOf(request.url), PRINCIPAL, operationOf(request.method, request.url));
    await clock.sleep(roundTrip / 2);
    const headers = Object.fromEntries(Object.entries(decision.remaining).map(([k, v]) => [k, String(v)]));
    if (decision.ok) answered.ok++;
    else answered.throttled++;
    return { request, status: decision.ok ? 200 : 429, headers: createHttpHeaders(decision.ok ? headers : { ...headers, "retry-after": String(decision.retryAfterSeconds) }) };
  };
  return { send, answered };
}

/** `lanes` concurrent callers, each sending its share of `total` requests one after the other through `throttle`. */
async function burst(throttle: ArmThrottle, send: (r: PipelineRequest) => Promise<PipelineResponse>, total: number, lanes: number, target = url(SUB_A), method: "GET" | "PUT" = "GET") {
  const policy = throttle.policy();
  let left = total;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (left > 0) {
        left--;
        await policy.sendRequest(createPipelineRequest({ url: target, method }), send);
      }
    }),
  );
}

test("Retry-After is read in seconds, milliseconds and HTTP-date forms", () => {
  const h = (o: Record<string, string>) => createHttpHeaders(o);
  assert.equal(retryAfterMs(h({ "retry-after": "7" }), 0), 7000);
  assert.equal(retryAfterMs(h({ "retry-after-ms": "250" }), 0), 250);
  assert.equal(retryAfterMs(h({ "retry-after": new Date(10_000).toUTCString() }), 4_000), 6000);
  assert.equal(retryAfterMs(h({ "retry-after": "soon" }), 0), undefined);
  assert.equal(retryAfterMs(h({}), 0), undefined);
});

test("subscriptions are found in ARM paths, case-insensitively; each method draws on its bucket", () => {
  assert.equal(subscriptionOf(url(SUB_A.toUpperCase())), SUB_A);
  assert.equal(subscriptionOf(GRAPH), undefined);
  assert.equal(operationOf("GET", url(SUB_A)), "read");
  assert.equal(operationOf("PUT", url(SUB_A)), "write");
  assert.equal(operationOf("PATCH", url(SUB_A)), "write");
  assert.equal(operationOf("DELETE", url(SUB_A)), "delete");
  assert.equal(operationOf("POST", GRAPH), "read");
});

// 600 reads on one subscription: the 250-token burst, then 25 per second, is (600 - 250) / 25 = 14 s at best.
test("a scan faster than the subscription's read bucket is paced to it: no 429, and no slower than the bucket", async () => {
  const clock = new VirtualClock();
  const service = arm(clock);
  const throttle = new ArmThrottle({ now: () => clock.now, sleep: clock.sleep });
  const started = clock.now;
  await clock.run(burst(throttle, service.send, 600, 16));
  assert.equal(service.answered.throttled, 0);
  assert.equal(throttle.stats.throttled, 0);
  assert.equal(service.answered.ok, 600);
  const seconds = (clock.now - started) / 1000;
  assert.ok(seconds >= 14, `the service's bucket allows no faster: ${seconds} s`);
  assert.ok(seconds <= 14 * 1.05 + 0.5, `paced close to the bucket: ${seconds} s`);
  assert.deepEqual(throttle.stats.byScope[SUB_A], { read: 600, write: 0, delete: 0 });
});

test("writes are paced by their own bucket (200, then 10 per second) and leave the reads alone", async () => {
  const clock = new VirtualClock();
  const service = arm(clock);
  const throttle = new ArmThrottle({ now: () => clock.now, sleep: clock.sleep });
  const started = clock.now;
  await clock.run(Promise.all([burst(throttle, service.send, 260, 8, url(SUB_A), "PUT"), burst(throttle, service.send, 240, 8)]));
  assert.equal(service.answered.throttled, 0);
  const seconds = (clock.now - started) / 1000;
  assert.ok(seconds >= 6 && seconds <= 6 * 1.05 + 0.5, `(260 - 200) / 10 = 6 s: ${seconds} s`);
  assert.deepEqual(throttle.stats.byScope[SUB_A], { read: 240, write: 260, delete: 0 });
});

test("each subscription has its own bucket: one drained subscription does not slow another", async () => {
  const clock = new VirtualClock();
  const service = arm(clock);
  const throttle = new ArmThrottle({ now: () => clock.now, sleep: clock.sleep });
  await clock.run(burst(throttle, service.send, 250, 8, url(SUB_A)));
  const before = clock.now;
  await clock.run(burst(throttle, service.send, 200, 8, url(SUB_B)));
  assert.ok(clock.now - before < 1_000, "the second subscription's burst is not held back");
  assert.equal(service.answered.throttled, 0);
});

test("tenant-level requests (Resource Graph) draw on the principal's tenant bucket", async () => {
  const clock = new VirtualClock();
  const service = arm(clock);
  const throttle = new ArmThrottle({ now: () => clock.now, sleep: clock.sleep });
  const started = clock.now;
  await clock.run(burst(throttle, service.send, 300, 8, GRAPH, "GET"));
  assert.equal(service.answered.throttled, 0);
  assert.ok(clock.now - started >= 2_000, "(300 - 250) / 25 = 2 s");
  assert.equal(throttle.stats.byScope.tenant?.read, 300);
});

// Two scaled-out instances with one managed identity share its bucket: 1,000 reads are (1000 - 250) / 25 = 30 s.
test("two processes sharing a principal slow down by the remaining-reads header before ARM refuses them", async () => {
  const clock = new VirtualClock();
  const service = arm(clock);
  const one = new ArmThrottle({ now: () => clock.now, sleep: clock.sleep });
  const two = new ArmThrottle({ now: () => clock.now, sleep: clock.sleep });
  const started = clock.now;
  await clock.run(Promise.all([burst(one, service.send, 500, 12), burst(two, service.send, 500, 12)]));
  assert.equal(service.answered.throttled, 0, "no 429");
  assert.equal(service.answered.ok, 1000);
  const seconds = (clock.now - started) / 1000;
  assert.ok(seconds >= 30, `${seconds} s`);
  assert.ok(seconds <= 30 * 1.15, `together they still use the bucket: ${seconds} s`);
});

test("with lognormal round trips (overtaking requests), one process and four sharing a principal get no 429", async () => {
  for (const processes of [1, 4]) {
    const clock = new VirtualClock();
    const service = arm(clock, 60, 0.6);
    const throttles = Array.from({ length: processes }, () => new ArmThrottle({ now: () => clock.now, sleep: clock.sleep }));
    const started = clock.now;
    await clock.run(Promise.all(throttles.map((t) => burst(t, service.send, 1200 / processes, 8))));
    assert.equal(service.answered.throttled, 0, `${processes} process(es): no 429`);
    const seconds = (clock.now - started) / 1000;
    assert.ok(seconds >= 38 && seconds <= 38 * 1.15, `(1200 - 250) / 25 = 38 s: ${seconds} s with ${processes}`);
  }
});

test("a 429 pauses that subscription's bucket until Retry-After, and no other subscription", async () => {
  const clock = new VirtualClock();
  const throttle = new ArmThrottle({ now: () => clock.now, sleep: clock.sleep });
  const policy = throttle.policy();
  const respond = (status: number, headers: Record<string, string> = {}) => async (request: PipelineRequest): Promise<PipelineResponse> => ({ request, status, headers: createHttpHeaders(headers) });
  await clock.run(policy.sendRequest(createPipelineRequest({ url: url(SUB_A) }), respond(429, { "retry-after": "3" })));
  assert.equal(throttle.stats.throttled, 1);
  const t0 = clock.now;
  await clock.run(policy.sendRequest(createPipelineRequest({ url: url(SUB_B) }), respond(200)));
  assert.equal(clock.now, t0, "another subscription is not paused");
  await clock.run(policy.sendRequest(createPipelineRequest({ url: url(SUB_A) }), respond(200)));
  assert.equal(clock.now - t0, 3000);
});

test("requests in flight per subscription are bounded", async () => {
  const throttle = new ArmThrottle({ maxInFlightPerSubscription: 2 });
  const policy = throttle.policy();
  let inFlight = 0;
  let peak = 0;
  const slow = async (request: PipelineRequest): Promise<PipelineResponse> => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setImmediate(r));
    inFlight--;
    return { request, status: 200, headers: createHttpHeaders() };
  };
  await Promise.all(Array.from({ length: 7 }, () => policy.sendRequest(createPipelineRequest({ url: url(SUB_A) }), slow)));
  assert.equal(peak, 2);
  assert.equal(throttle.stats.requests, 7);
});

test("a request given up while it waits for a token spends none and does not block the next", async () => {
  const clock = new VirtualClock();
  const service = arm(clock);
  const throttle = new ArmThrottle({ now: () => clock.now, sleep: clock.sleep, limits: { read: { size: 1, refillPerSecond: 1 }, write: { size: 1, refillPerSecond: 1 }, delete: { size: 1, refillPerSecond: 1 } } });
  const policy = throttle.policy();
  await clock.run(policy.sendRequest(createPipelineRequest({ url: url(SUB_A) }), service.send));
  const controller = new AbortController();
  const waiting = policy.sendRequest(createPipelineRequest({ url: url(SUB_A), abortSignal: controller.signal }), service.send);
  controller.abort();
  await assert.rejects(clock.run(waiting), /aborted/);
  const t0 = clock.now;
  await clock.run(policy.sendRequest(createPipelineRequest({ url: url(SUB_A) }), service.send));
  assert.equal(throttle.stats.requests, 2, "the given-up request was never sent");
  assert.ok(clock.now - t0 <= 1_100, "the next request waited for one token only");
});
