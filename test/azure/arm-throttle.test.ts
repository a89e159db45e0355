import { test } from "node:test";
import assert from "node:assert/strict";
import { createHttpHeaders, createPipelineRequest } from "@azure/core-rest-pipeline";
import type { PipelineRequest, PipelineResponse } from "@azure/core-rest-pipeline";
import { ArmThrottle, operationOf, retryAfterMs, subscriptionOf } from "../../src/azure/arm-throttle.js";
import { parseRemaining, parseResetsAfter } from "../../src/azure/resource-graph-quota.js";
import { DOCUMENTED_ARM_THROTTLING, TokenBucketThrottle, UserQuota } from "../../emulator/arm/ratelimit.js";
import { sampleLatency } from "../../emulator/faults/faults.js";
import { mulberry32 } from "../support/prng.js";

const SUB_A = "00000000-0000-0000-0000-00000000000a";
const SUB_B = "00000000-0000-0000-0000-00000000000b";
const url = (sub: string) => `https://management.azure.com/subscriptions/${sub}/providers/Microsoft.Sql/servers?api-version=x`;
const GRAPH = "https://management.azure.com/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01";
/** "Understand how Azure Resource Manager throttles requests": its example of a tenant-level request. */
const TENANTS = "https://management.azure.com/tenants?api-version=2022-01-01";
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
 * x-ms-ratelimit-remaining-* headers, or 429 with Retry-After when a bucket is empty. A Resource Graph query then
 * counts against Resource Graph's quota as "Guidance for throttled requests in Azure Resource Graph" describes it
 * (15 queries per 5-second window per user, `x-ms-user-quota-remaining` and `x-ms-user-quota-resets-after` on every
 * answer, 429 past it), from the emulator's quota; `graphHeaders` replaces those two headers (malformed ones).
 * `arrivals` holds when each query reached Resource Graph.
 */
function arm(clock: VirtualClock, latencyMs = 20, sigma = 0, graphHeaders?: (real: Record<string, string>) => Record<string, string>) {
  const random = mulberry32(5);
  const buckets = new TokenBucketThrottle(DOCUMENTED_ARM_THROTTLING, () => clock.now);
  const quota = new UserQuota(15, 5_000, () => clock.now);
  const answered = { ok: 0, throttled: 0 };
  const arrivals: number[] = [];
  const send = async (request: PipelineRequest): Promise<PipelineResponse> => {
    // Each way half a round trip, lognormal when sigma is set: later requests may overtake earlier ones.
    const roundTrip = sigma ? sampleLatency({ kind: "lognormal", medianMs: latencyMs, sigma }, random) : latencyMs;
    await clock.sleep(roundTrip / 2);
    const decision = buckets.take(subscriptionOf(request.url), PRINCIPAL, operationOf(request.method, request.url));
    let headers: Record<string, string> = Object.fromEntries(Object.entries(decision.remaining).map(([k, v]) => [k, String(v)]));
    let ok = decision.ok;
    let retryAfter = decision.ok ? undefined : decision.retryAfterSeconds;
    if (ok && request.url.includes("/providers/Microsoft.ResourceGraph/")) {
      arrivals.push(clock.now);
      const q = quota.take(PRINCIPAL);
      const real = { "x-ms-user-quota-remaining": String(Math.max(0, q.remaining)), "x-ms-user-quota-resets-after": q.resetsAfter };
      headers = { ...headers, ...(graphHeaders ? graphHeaders(real) : real) };
      if (q.remaining < 0) {
        ok = false;
        retryAfter = Math.max(1, Math.ceil(q.resetsAfterMs / 1000));
      }
    }
    await clock.sleep(roundTrip / 2);
    if (ok) answered.ok++;
    else answered.throttled++;
    return { request, status: ok ? 200 : 429, headers: createHttpHeaders(ok ? headers : { ...headers, "retry-after": String(retryAfter) }) };
  };
  return { send, answered, arrivals };
}

/** The most queries that reached Resource Graph within any 5 seconds: at most 15 if none was to be refused. */
function busiestWindow(arrivals: number[]): number {
  const sorted = [...arrivals].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= 5_000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** `lanes` concurrent callers, each sending its share of `total` requests one after the other through `throttle`. */
async function burst(throttle: ArmThrottle, send: (r: PipelineRequest) => Promise<PipelineResponse>, total: number, lanes: number, target = url(SUB_A), method: "GET" | "PUT" | "POST" = "GET") {
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

// "Understand how Azure Resource Manager throttles requests": tenant-level requests (its example: GET /tenants) have
// the principal's read bucket, 250 then 25 per second: 300 reads are (300 - 250) / 25 = 2 s at best.
test("tenant-level requests draw on the principal's tenant read bucket", async () => {
  const clock = new VirtualClock();
  const service = arm(clock);
  const throttle = new ArmThrottle({ now: () => clock.now, sleep: clock.sleep });
  const started = clock.now;
  await clock.run(burst(throttle, service.send, 300, 8, TENANTS));
  assert.equal(service.answered.throttled, 0);
  const seconds = (clock.now - started) / 1000;
  assert.ok(seconds >= 2 && seconds <= 2 * 1.05 + 0.5, `(300 - 250) / 25 = 2 s: ${seconds} s`);
  assert.equal(throttle.stats.byScope.tenant?.read, 300);
});

test("the quota headers are read as the Resource Graph page defines them; anything else is not", () => {
  // "x-ms-user-quota-resets-after (hh:mm:ss)"; the page's own example is 00:00:03.
  assert.equal(parseResetsAfter("00:00:03"), 3_000);
  assert.equal(parseResetsAfter(" 01:02:03 "), 3_723_000);
  for (const bad of [undefined, "", "3", "00:00:3", "00:60:00", "00:00:60", "-00:00:01", "00:00:03.5", "soon", "00:00"]) assert.equal(parseResetsAfter(bad), undefined, String(bad));
  // "x-ms-user-quota-remaining (int)".
  assert.equal(parseRemaining("10"), 10);
  for (const bad of [undefined, "", "-1", "1.5", "lots", "1e3"]) assert.equal(parseRemaining(bad), undefined, String(bad));
});

// "Guidance for throttled requests in Azure Resource Graph": at most 15 queries in every 5-second window. 40 queries
// need three windows, so at least two resets: 10 s at best. They also take a tenant read token each, far inside
// that bucket's 250.
test("Resource Graph queries are paced to its quota, 15 per 5-second window: 40 take two resets and draw no 429", async () => {
  const clock = new VirtualClock();
  const service = arm(clock);
  const throttle = new ArmThrottle({ now: () => clock.now, sleep: clock.sleep });
  const started = clock.now;
  await clock.run(burst(throttle, service.send, 40, 8, GRAPH, "POST"));
  assert.equal(service.answered.throttled, 0, "no 429");
  assert.equal(throttle.stats.throttled, 0);
  assert.equal(service.answered.ok, 40);
  assert.ok(busiestWindow(service.arrivals) <= 15, `at most 15 in any 5 s: ${busiestWindow(service.arrivals)}`);
  const seconds = (clock.now - started) / 1000;
  assert.ok(seconds >= 10, `three windows: ${seconds} s`);
  // Three windows, each read to the second the header gives (hh:mm:ss), plus round trips.
  assert.ok(seconds <= 3 * 6 + 1, `and not much slower than the quota: ${seconds} s`);
  assert.equal(throttle.stats.resourceGraphQueries, 40);
  assert.equal(throttle.stats.byScope.tenant?.read, 40);
});

// Two scaled-out instances with one identity share its quota: only the headers tell each about the other's queries.
test("processes sharing a principal stay inside Resource Graph's quota together, by its headers", async () => {
  for (const [processes, sigma] of [
    [2, 0],
    [4, 0.6],
  ] as const) {
    const clock = new VirtualClock();
    const service = arm(clock, 60, sigma);
    const throttles = Array.from({ length: processes }, () => new ArmThrottle({ now: () => clock.now, sleep: clock.sleep }));
    const started = clock.now;
    await clock.run(Promise.all(throttles.map((t) => burst(t, service.send, 60 / processes, 6, GRAPH, "POST"))));
    assert.equal(service.answered.throttled, 0, `${processes} processes: no 429`);
    assert.equal(service.answered.ok, 60);
    assert.ok(busiestWindow(service.arrivals) <= 15, `at most 15 in any 5 s: ${busiestWindow(service.arrivals)}`);
    // 60 queries are four windows: three resets, 15 s at best.
    assert.ok((clock.now - started) / 1000 >= 15);
  }
});

test("malformed quota headers are ignored: the queries are still paced by this side's own count, with no 429", async () => {
  for (const garbage of [
    { "x-ms-user-quota-remaining": "lots", "x-ms-user-quota-resets-after": "5 seconds" },
    { "x-ms-user-quota-remaining": "-3", "x-ms-user-quota-resets-after": "99:99:99" },
    { "x-ms-user-quota-remaining": "", "x-ms-user-quota-resets-after": "" },
  ]) {
    const clock = new VirtualClock();
    const service = arm(clock, 20, 0, () => garbage);
    const throttle = new ArmThrottle({ now: () => clock.now, sleep: clock.sleep });
    await clock.run(burst(throttle, service.send, 40, 8, GRAPH, "POST"));
    assert.equal(service.answered.throttled, 0, JSON.stringify(garbage));
    assert.equal(service.answered.ok, 40);
  }
});

test("a reset reported days away, or a quota that never comes back, holds a query one window and its margin at most", async () => {
  const clock = new VirtualClock();
  const throttle = new ArmThrottle({ now: () => clock.now, sleep: clock.sleep });
  const policy = throttle.policy();
  const empty = async (request: PipelineRequest): Promise<PipelineResponse> => ({ request, status: 200, headers: createHttpHeaders({ "x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "23:59:59" }) });
  const started = clock.now;
  for (let i = 0; i < 4; i++) await clock.run(policy.sendRequest(createPipelineRequest({ url: GRAPH, method: "POST" }), empty));
  // Each answer says nothing is left for a day: each next query waits, but never more than 5 s and a 1 s margin.
  const waited = clock.now - started;
  assert.ok(waited >= 3 * 5_000, `each query after the first waited for a reset: ${waited} ms`);
  assert.ok(waited <= 3 * 6_000, `and no longer than a window and its margin: ${waited} ms`);
});

test("a Resource Graph 429 pauses its queries until Retry-After, and no other request; an aborted wait spends nothing", async () => {
  const clock = new VirtualClock();
  const throttle = new ArmThrottle({ now: () => clock.now, sleep: clock.sleep });
  const policy = throttle.policy();
  const respond = (status: number, headers: Record<string, string> = {}) => async (request: PipelineRequest): Promise<PipelineResponse> => ({ request, status, headers: createHttpHeaders(headers) });
  await clock.run(policy.sendRequest(createPipelineRequest({ url: GRAPH, method: "POST" }), respond(429, { "retry-after": "3" })));
  assert.equal(throttle.stats.throttled, 1);
  const t0 = clock.now;
  await clock.run(policy.sendRequest(createPipelineRequest({ url: url(SUB_A) }), respond(200)));
  assert.equal(clock.now, t0, "a subscription's reads are not paused");
  const controller = new AbortController();
  const waiting = policy.sendRequest(createPipelineRequest({ url: GRAPH, method: "POST", abortSignal: controller.signal }), respond(200));
  controller.abort();
  await assert.rejects(clock.run(waiting), /aborted/);
  await clock.run(policy.sendRequest(createPipelineRequest({ url: GRAPH, method: "POST" }), respond(200)));
  assert.ok(clock.now - t0 >= 3_000, `Retry-After held the next query: ${clock.now - t0} ms`);
  assert.ok(clock.now - t0 <= 3_100, `and no longer: ${clock.now - t0} ms`);
  assert.equal(throttle.stats.resourceGraphQueries, 2, "the given-up query was never sent");
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
