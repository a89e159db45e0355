import { test } from "node:test";
import assert from "node:assert/strict";
import { createHttpHeaders, createPipelineRequest } from "@azure/core-rest-pipeline";
import type { PipelineResponse } from "@azure/core-rest-pipeline";
import { ArmThrottle, retryAfterMs, subscriptionOf } from "../../src/azure/arm-throttle.js";

const SUB_A = "00000000-0000-0000-0000-00000000000a";
const SUB_B = "00000000-0000-0000-0000-00000000000b";
const url = (sub: string) => `https://management.azure.com/subscriptions/${sub}/providers/Microsoft.Sql/servers?api-version=x`;

function fakeClock() {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleeps,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

function respond(status: number, headers: Record<string, string> = {}) {
  return async (request: ReturnType<typeof createPipelineRequest>): Promise<PipelineResponse> => ({
    request,
    status,
    headers: createHttpHeaders(headers),
  });
}

test("Retry-After is read in seconds, milliseconds and HTTP-date forms", () => {
  const h = (o: Record<string, string>) => createHttpHeaders(o);
  assert.equal(retryAfterMs(h({ "retry-after": "7" }), 0), 7000);
  assert.equal(retryAfterMs(h({ "retry-after-ms": "250" }), 0), 250);
  assert.equal(retryAfterMs(h({ "retry-after": new Date(10_000).toUTCString() }), 4_000), 6000);
  assert.equal(retryAfterMs(h({ "retry-after": "soon" }), 0), undefined);
  assert.equal(retryAfterMs(h({}), 0), undefined);
});

test("subscriptions are found in ARM paths, case-insensitively", () => {
  assert.equal(subscriptionOf(url(SUB_A.toUpperCase())), SUB_A);
  assert.equal(subscriptionOf("https://management.azure.com/providers/Microsoft.ResourceGraph/resources"), undefined);
});

test("a 429 pauses every later request of that subscription until Retry-After, and no other subscription", async () => {
  const clock = fakeClock();
  const throttle = new ArmThrottle({ now: clock.now, sleep: clock.sleep });
  const policy = throttle.policy();
  await policy.sendRequest(createPipelineRequest({ url: url(SUB_A) }), respond(429, { "retry-after": "3" }));
  assert.equal(throttle.stats.throttled, 1);
  await policy.sendRequest(createPipelineRequest({ url: url(SUB_B) }), respond(200));
  assert.deepEqual(clock.sleeps, [], "another subscription is not paused");
  await policy.sendRequest(createPipelineRequest({ url: url(SUB_A) }), respond(200));
  assert.deepEqual(clock.sleeps, [3000]);
});

test("a low remaining-reads header spaces requests out before ARM refuses them", async () => {
  const clock = fakeClock();
  const throttle = new ArmThrottle({ now: clock.now, sleep: clock.sleep, lowWaterMark: 10, pacingMs: 100 });
  const policy = throttle.policy();
  await policy.sendRequest(createPipelineRequest({ url: url(SUB_A) }), respond(200, { "x-ms-ratelimit-remaining-subscription-reads": "5" }));
  await policy.sendRequest(createPipelineRequest({ url: url(SUB_A) }), respond(200, { "x-ms-ratelimit-remaining-subscription-reads": "11999" }));
  await policy.sendRequest(createPipelineRequest({ url: url(SUB_A) }), respond(200));
  assert.deepEqual(clock.sleeps, [100]);
});

test("requests in flight per subscription are bounded", async () => {
  const throttle = new ArmThrottle({ maxInFlightPerSubscription: 2 });
  const policy = throttle.policy();
  let inFlight = 0;
  let peak = 0;
  const slow = async (request: ReturnType<typeof createPipelineRequest>): Promise<PipelineResponse> => {
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
