import type { TargetKind } from "../src/core/domain.js";
import { KIND_IDS } from "../src/kinds/registry.js";
import type { ArmOperation } from "../src/azure/arm-throttle.js";

/**
 * The least wall time a path could take on this estate, from what it had to do (counted) and what Azure allows:
 * the largest of the critical path over the concurrency, each service limit's floor, and the busiest single
 * thread's CPU. Each term is a lower bound, so the largest one is too; wall time over it is what the design and its
 * implementation lose.
 *
 * The critical path of one target follows how the code sequences its calls (src/scan/observe.ts, scan-target.ts,
 * fan-out.ts), with each latency at its mean:
 * - the Functions worker first resolves the target through ARM (one ARM round trip), the CLI does not;
 * - observing reads the diagnostic settings beside the auditing policy (ARM-only kinds: one ARM round trip for
 *   both) or beside the T-SQL catalog (Managed Instances: all of the connection's TDS round trips, from the TLS
 *   ClientHello to the catalog batch); the per-target activity query, when there is one, waits for the diagnostic
 *   settings: max(ARM + Log Analytics, TDS round trips x TDS);
 * - a target remediated in enforce mode then re-reads the ARM side under its lease (one ARM round trip), applies
 *   (its ARM writes one after the other, or its T-SQL connection's round trips) and observes again: its ARM chain
 *   is 3 reads plus its writes, its TDS chain every TDS round trip it made.
 * Store operations are not in it: no latency is injected into Azurite.
 */
export const KINDS: readonly TargetKind[] = KIND_IDS;

export interface PathCounts {
  functions: boolean;
  /** Targets the path finished, by kind, and of them those remediated (status remediated). */
  targets: Record<TargetKind, number>;
  remediated: Record<TargetKind, number>;
  /** Lanes that scan at once: the CLI's concurrency, or instances x (batchSize + newBatchThreshold). */
  concurrency: number;
  /** Mean latencies, ms. */
  latency: { arm: number; logAnalytics: number; tds: number };
  /** ARM requests per scope (a subscription id or `tenant`) and operation, every process of the path together. */
  armByScope: Record<string, Record<ArmOperation, number>>;
  /** Resource Graph queries (the inventory's pages). */
  resourceGraphQueries: number;
  /** Log Analytics queries made while scanning targets (per-target activity), and all of them (sweeps included). */
  perTargetLogAnalyticsQueries: number;
  logAnalyticsQueries: number;
  /** False for a diagnostic run with Log Analytics' limits lifted: its floors are then none. */
  logAnalyticsLimited: boolean;
  /** TDS round trips the emulator served (handshakes included). */
  tdsRoundTrips: number;
  /** TDS round trips of one catalog read (TLS 1.3 ClientHello, PRELOGIN, LOGIN7, session settings, catalog). */
  tdsRoundTripsPerRead: number;
  storage: { maxPartitionEntities: number; tableTransactions: number; maxQueueMessages: number; queueMessages: number };
  /** CPU of each of the path's own processes' main thread (the event loop), ms. */
  processCpuMs: Record<string, number>;
}

export const LIMITS = {
  armReads: { size: 250, perSecond: 25 },
  armWrites: { size: 200, perSecond: 10 },
  resourceGraph: { perWindow: 15, windowSeconds: 5 },
  logAnalytics: { perWindow: 200, windowSeconds: 30, concurrent: 5 },
  tablePartitionEntitiesPerSecond: 2_000,
  tableAccountTransactionsPerSecond: 20_000,
  queueMessagesPerSecond: 2_000,
  queueAccountMessagesPerSecond: 20_000,
} as const;

export type BoundTerm =
  | "criticalPath"
  | "armReadsPerSubscription"
  | "armWritesPerSubscription"
  | "armTenantReads"
  | "resourceGraph"
  | "logAnalyticsRate"
  | "logAnalyticsConcurrency"
  | "tablePartition"
  | "tableAccount"
  | "queue"
  | "queueAccount"
  | "singleThreadCpu";

export interface Bound {
  terms: Record<BoundTerm, number>;
  boundSeconds: number;
  boundBy: BoundTerm;
  /** The critical path's parts: per-target chains by kind (ms), summed over targets (s). */
  chains: Record<TargetKind, { compliantMs: number; remediatedMs: number }>;
}

/** Seconds a bucket of `size` refilling at `perSecond` needs to let `n` through (the burst passes at once). */
const bucketFloor = (n: number, size: number, perSecond: number) => Math.max(0, (n - size) / perSecond);
/** Seconds fixed windows of `perWindow` need for `n`: the first window starts with the first request. */
const windowFloor = (n: number, perWindow: number, windowSeconds: number) => Math.max(0, Math.ceil(n / perWindow) - 1) * windowSeconds;

export function computeBound(c: PathCounts): Bound {
  const { arm: A, logAnalytics: L, tds: T } = c.latency;
  const total = KINDS.reduce((n, k) => n + c.targets[k], 0);
  const remediatedArmOnly = c.remediated["sql-server"] + c.remediated["synapse-workspace"];
  const writes = Object.values(c.armByScope).reduce((n, s) => n + s.write + s.delete, 0);
  // Writes are remediation's; a Managed Instance's fix is T-SQL (the bench's baseline designates no diagnostic setting).
  const writesPerArmFix = remediatedArmOnly ? writes / remediatedArmOnly : 0;
  const activity = total ? c.perTargetLogAnalyticsQueries / total : 0;
  const mis = c.targets["sql-managed-instance"];
  const misRemediated = c.remediated["sql-managed-instance"];
  const compliantMis = mis - misRemediated;
  // Round trips of remediated instances: what is left once every other instance's single catalog read is counted.
  const tdsPerFix = misRemediated ? Math.max(2 * c.tdsRoundTripsPerRead, (c.tdsRoundTrips - compliantMis * c.tdsRoundTripsPerRead) / misRemediated) : 0;
  const prefix = c.functions ? A : 0;
  const chains = {} as Bound["chains"];
  for (const kind of KINDS) {
    const mi = kind === "sql-managed-instance";
    const compliant = prefix + Math.max(A + activity * L, mi ? c.tdsRoundTripsPerRead * T : 0);
    const remediated = prefix + Math.max(A * (3 + (mi ? 0 : writesPerArmFix)) + activity * L, mi ? tdsPerFix * T : 0);
    chains[kind] = { compliantMs: compliant, remediatedMs: remediated };
  }
  const pathMs = KINDS.reduce((n, k) => n + (c.targets[k] - c.remediated[k]) * chains[k].compliantMs + c.remediated[k] * chains[k].remediatedMs, 0);
  // The inventory's pages come one after the other before the first target starts.
  const criticalPath = (c.resourceGraphQueries * A + pathMs / Math.max(1, c.concurrency)) / 1000;
  const subscriptions = Object.entries(c.armByScope).filter(([scope]) => scope !== "tenant");
  const tenant = c.armByScope.tenant ?? { read: 0, write: 0, delete: 0 };
  const terms: Record<BoundTerm, number> = {
    criticalPath,
    armReadsPerSubscription: Math.max(0, ...subscriptions.map(([, s]) => bucketFloor(s.read, LIMITS.armReads.size, LIMITS.armReads.perSecond))),
    armWritesPerSubscription: Math.max(0, ...subscriptions.map(([, s]) => bucketFloor(s.write, LIMITS.armWrites.size, LIMITS.armWrites.perSecond))),
    armTenantReads: bucketFloor(tenant.read, LIMITS.armReads.size, LIMITS.armReads.perSecond),
    resourceGraph: windowFloor(c.resourceGraphQueries, LIMITS.resourceGraph.perWindow, LIMITS.resourceGraph.windowSeconds),
    logAnalyticsRate: c.logAnalyticsLimited ? windowFloor(c.logAnalyticsQueries, LIMITS.logAnalytics.perWindow, LIMITS.logAnalytics.windowSeconds) : 0,
    logAnalyticsConcurrency: c.logAnalyticsLimited ? (c.logAnalyticsQueries * L) / LIMITS.logAnalytics.concurrent / 1000 : 0,
    tablePartition: bucketFloor(c.storage.maxPartitionEntities, LIMITS.tablePartitionEntitiesPerSecond, LIMITS.tablePartitionEntitiesPerSecond),
    tableAccount: bucketFloor(c.storage.tableTransactions, LIMITS.tableAccountTransactionsPerSecond, LIMITS.tableAccountTransactionsPerSecond),
    queue: bucketFloor(c.storage.maxQueueMessages, LIMITS.queueMessagesPerSecond, LIMITS.queueMessagesPerSecond),
    queueAccount: bucketFloor(c.storage.queueMessages, LIMITS.queueAccountMessagesPerSecond, LIMITS.queueAccountMessagesPerSecond),
    singleThreadCpu: Math.max(0, ...Object.values(c.processCpuMs)) / 1000,
  };
  const [boundBy, boundSeconds] = (Object.entries(terms) as Array<[BoundTerm, number]>).reduce((best, term) => (term[1] > best[1] ? term : best));
  return { terms, boundSeconds, boundBy, chains };
}
