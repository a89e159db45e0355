import { test } from "node:test";
import assert from "node:assert/strict";
import { computeBound } from "../../bench/bound.js";
import type { PathCounts } from "../../bench/bound.js";

// The bound's floors come from the services' documented limits: "Understand how Azure Resource Manager throttles
// requests" (reads 250 then 25/s, writes 200 then 10/s), "Guidance for throttled requests in Azure Resource Graph"
// (15 per 5 s), the Azure Monitor service limits (Log Analytics: 200 queries per 30 s, 5 at once per identity), the
// Table and Queue storage scalability targets (2,000 entities or messages per second per partition or queue).
const none = { "sql-managed-instance": 0, "sql-server": 0, "synapse-workspace": 0 };
const base: PathCounts = {
  functions: false,
  targets: { ...none },
  remediated: { ...none },
  concurrency: 1,
  latency: { arm: 0, logAnalytics: 0, tds: 0 },
  armByScope: {},
  resourceGraphQueries: 0,
  perTargetLogAnalyticsQueries: 0,
  logAnalyticsQueries: 0,
  logAnalyticsLimited: true,
  tdsRoundTrips: 0,
  tdsRoundTripsPerRead: 5,
  storage: { maxPartitionEntities: 0, tableTransactions: 0, maxQueueMessages: 0, queueMessages: 0 },
  processCpuMs: {},
};

test("each limit's floor is what its documented bucket, window or target lets through", () => {
  const b = computeBound({
    ...base,
    armByScope: { "sub-a": { read: 1_000, write: 260, delete: 0 }, "sub-b": { read: 300, write: 0, delete: 0 }, tenant: { read: 300, write: 0, delete: 0 } },
    resourceGraphQueries: 31,
    logAnalyticsQueries: 1_000,
    latency: { arm: 0, logAnalytics: 100, tds: 0 },
    storage: { maxPartitionEntities: 12_000, tableTransactions: 30_000, maxQueueMessages: 2_500, queueMessages: 40_000 },
    processCpuMs: { a: 4_000, b: 9_000 },
  });
  assert.equal(b.terms.armReadsPerSubscription, 30, "(1000 - 250) / 25 on the busiest subscription");
  assert.equal(b.terms.armWritesPerSubscription, 6, "(260 - 200) / 10");
  assert.equal(b.terms.armTenantReads, 2);
  assert.equal(b.terms.resourceGraph, 10, "31 queries take three 5-second windows");
  assert.equal(b.terms.logAnalyticsRate, 120, "1,000 queries take five 30-second windows");
  assert.equal(b.terms.logAnalyticsConcurrency, 20, "1,000 queries of 100 ms, 5 at once");
  assert.equal(b.terms.tablePartition, 5);
  assert.equal(b.terms.tableAccount, 0.5);
  assert.equal(b.terms.queue, 0.25);
  assert.equal(b.terms.queueAccount, 1);
  assert.equal(b.terms.singleThreadCpu, 9);
  assert.equal(b.boundBy, "logAnalyticsRate");
  assert.equal(b.boundSeconds, 120);
});

test("the critical path follows the code's sequence: resolve, then max(ARM + Log Analytics, TDS round trips)", () => {
  const latency = { arm: 50, logAnalytics: 100, tds: 20 };
  const targets = { "sql-managed-instance": 10, "sql-server": 10, "synapse-workspace": 0 };
  const cli = computeBound({ ...base, latency, targets, concurrency: 10, perTargetLogAnalyticsQueries: 20, tdsRoundTrips: 50 });
  // Managed Instance: max(50 + 100, 5 x 20) = 150 ms; SQL server: 50 + 100 = 150 ms; 20 x 150 ms over 10 lanes.
  assert.equal(cli.chains["sql-managed-instance"].compliantMs, 150);
  assert.equal(cli.terms.criticalPath, 0.3);
  const functions = computeBound({ ...base, latency, targets, concurrency: 10, functions: true, tdsRoundTrips: 50 });
  // The worker resolves the target first (50 ms); without per-target activity a Managed Instance is max(50, 100).
  assert.equal(functions.chains["sql-managed-instance"].compliantMs, 150);
  assert.equal(functions.chains["sql-server"].compliantMs, 100);
  const remediated = computeBound({ ...base, latency, targets, remediated: { ...none, "sql-server": 2, "sql-managed-instance": 2 }, concurrency: 10, armByScope: { s: { read: 0, write: 4, delete: 0 } }, tdsRoundTrips: 8 * 5 + 2 * 15 });
  // A fixed server: observe, re-read under the lease, its 2 writes, observe again: 5 ARM round trips.
  assert.equal(remediated.chains["sql-server"].remediatedMs, 250);
  // A fixed instance: every one of its 15 TDS round trips, one after the other.
  assert.equal(remediated.chains["sql-managed-instance"].remediatedMs, 300);
});
