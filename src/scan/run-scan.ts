import { randomUUID } from "node:crypto";
import type { StatusCounts, Target, TargetResult } from "../core/domain.js";
import { emptyCounts } from "../core/domain.js";
import { inScope, modeFor } from "../core/scope.js";
import { EVENT_TYPES } from "../core/events/catalog.js";
import type { CloudEvent } from "../core/events/catalog.js";
import { buildEvent } from "../core/events/build.js";
import { discoverResources } from "../azure/inventory.js";
import { KIND_ADAPTERS } from "../kinds/adapters.js";
import type { DiscoveredResource } from "../azure/inventory.js";
import type { ResultsStore, StoredResult } from "../azure/results-store.js";
import type { JsonQueue } from "../azure/queues.js";
import { runPool } from "./pool.js";
import { scanTarget } from "./scan-target.js";
import { eventsForResult } from "./result-events.js";
import type { ScanEnvironment } from "./environment.js";
import { describeError, formatReason } from "./errors.js";
import { redactDeep } from "../core/redaction.js";
import { storeLock } from "./lease.js";
import { inlineActivitySource } from "./activity-sweep.js";
import { SummaryCells } from "../core/summary-cells.js";
import { interleaveBySubscription } from "./target-order.js";

/**
 * The whole-estate run for the CLI and on-demand scans: inventory, scope and mode filters, then every target
 * through the per-target pipeline in a bounded pool under an overall deadline. Results go to the store and
 * events to the queue as each target finishes, so a run cut short still keeps what finished.
 */
export function toTarget(resource: DiscoveredResource): Target {
  const fqdn = resource.properties.fullyQualifiedDomainName;
  const dnsZone = resource.properties.dnsZone;
  return {
    id: resource.id,
    kind: resource.kind,
    name: resource.name,
    subscriptionId: resource.subscriptionId,
    resourceGroup: resource.resourceGroup,
    location: resource.location,
    tags: resource.tags,
    ...(typeof fqdn === "string" && fqdn ? { fullyQualifiedDomainName: fqdn } : {}),
    ...(typeof dnsZone === "string" && dnsZone ? { dnsZone } : {}),
  };
}

/** Inventory, then the targets the baseline scopes and whose mode is not off, subscriptions interleaved (see target-order.ts). */
export async function discoverTargets(env: ScanEnvironment, options: { mode?: "off" | "plan" | "enforce"; signal?: AbortSignal } = {}) {
  const baseline = env.baseline;
  const inventory = await discoverResources(env.clients, {
    readers: KIND_ADAPTERS,
    subscriptions: baseline.scope.subscriptions,
    useResourceGraph: baseline.endpoints.useResourceGraph,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const all = inventory.resources.map(toTarget);
  const targets = interleaveBySubscription(all.filter((t) => inScope(baseline, t) && (options.mode ?? modeFor(baseline, t.kind)) !== "off"));
  return { inventory, all, targets };
}

/** The target's latest stored result, for the convergence check. */
export function previousResult(store: ResultsStore, target: Target) {
  return async () => (await store.getLatest(target.subscriptionId, target.id))?.detail as TargetResult | undefined;
}

export function newScanId(now: Date): string {
  return `${now.toISOString().replace(/[-:.]/g, "").slice(0, 15)}-${randomUUID().slice(0, 8)}`;
}

export interface ScanRunOptions {
  trigger: "timer" | "http" | "cli" | "queue";
  scanId?: string;
  mode?: "off" | "plan" | "enforce";
  concurrency?: number;
  signal?: AbortSignal;
  /** Absolute deadline (ms since epoch); default from the baseline's scan.deadlineMinutes. */
  deadline?: number;
  now?: () => Date;
  store?: ResultsStore;
  events?: JsonQueue;
  eventSource?: string;
  onStart?: (targets: Target[]) => void;
  onResult?: (result: TargetResult) => void;
  /** Keep every result in the summary (default). The CLI keeps them on disk instead, through onResult. */
  keepResults?: boolean;
}

export interface ScanRunSummary {
  scanId: string;
  mode: "off" | "plan" | "enforce" | "per-kind";
  startedAt: string;
  finishedAt: string;
  complete: boolean;
  /** `unreadable`: parts of the scope that could not be read; the scan is incomplete (an error) when any are. */
  inventory: { source: string; fallbackReason?: string; unreadable: string[]; discovered: number; inScope: number };
  results: TargetResult[];
  notScanned: Array<{ target: Target; reason: string }>;
  counts: StatusCounts;
  /** Events that could not be published or results that could not be stored, with the reason. */
  deliveryErrors: string[];
}

export function failingRuleIds(result: TargetResult): string[] {
  return (result.findingsAfter ?? result.findings).filter((f) => f.status === "fail" || f.status === "error").map((f) => f.ruleId);
}

/** A result as the store keeps it; every string in it redacted, whatever produced it. */
export function toStoredResult(raw: TargetResult, scanStartedAt: string): StoredResult {
  const result = redactDeep(raw);
  const failing = failingRuleIds(result);
  return {
    scanId: result.scanId,
    scanStartedAt,
    targetId: result.target.id,
    kind: result.target.kind,
    name: result.target.name,
    subscriptionId: result.target.subscriptionId,
    resourceGroup: result.target.resourceGroup,
    status: result.status,
    ...(result.reason ? { reason: result.reason } : {}),
    scannedAt: result.finishedAt,
    failingRuleIds: failing,
    detail: result,
  };
}

export async function runScan(env: ScanEnvironment, options: ScanRunOptions): Promise<ScanRunSummary> {
  const now = options.now ?? (() => new Date());
  const scanId = options.scanId ?? newScanId(now());
  const startedAt = now();
  const baseline = env.baseline;
  const deadline = options.deadline ?? startedAt.getTime() + baseline.scan.deadlineMinutes * 60_000;
  const source = options.eventSource ?? "urn:auditguard:cli";
  const deliveryErrors: string[] = [];

  const { inventory, all, targets } = await discoverTargets(env, { ...(options.mode ? { mode: options.mode } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  // The run reads each workspace its targets send to once, for all of them (the Functions app's sweep does this
  // continuously; the CLI does it for the run).
  const scanEnv: ScanEnvironment = env.activity ? env : { ...env, activity: inlineActivitySource(env, { now, ...(options.signal ? { signal: options.signal } : {}) }) };
  options.onStart?.(targets);

  const counts = emptyCounts();
  const cells = new SummaryCells();
  const problem = inventory.unreadable.length ? `the inventory could not be read completely: ${inventory.unreadable.join("; ")}` : undefined;
  const runRecord = { scanId, trigger: options.trigger, mode: options.mode ?? baseline.mode, startedAt: startedAt.toISOString(), expectedTargets: targets.length, ...(problem ? { problem } : {}) };
  await options.store?.saveRun({ ...runRecord, counts, complete: false }).catch((e: unknown) => {
    deliveryErrors.push(`run record: ${formatReason(describeError(e, "results-store", "results store"))}`);
  });

  const publish = async (sink: NonNullable<ScanRunOptions["events"]>, events: CloudEvent[]) => {
    for (const event of events) {
      await sink.send(event).catch((e: unknown) => deliveryErrors.push(`event ${event.type} for ${event.subject ?? scanId}: ${formatReason(describeError(e, "inventory", "events queue"))}`));
    }
  };

  const outcomes = await runPool(
    targets,
    async (target, signal) => {
      const result = await scanTarget(scanEnv, target, { scanId, now, signal, ...(options.mode ? { mode: options.mode } : {}), ...(options.store ? { lock: storeLock(options.store, `${scanId}/${randomUUID()}`), previous: previousResult(options.store, target) } : {}) });
      counts[result.status]++;
      cells.add({ subscriptionId: target.subscriptionId, kind: target.kind, status: result.status, failingRuleIds: failingRuleIds(result) });
      if (options.store) {
        await options.store.saveResult(toStoredResult(result, startedAt.toISOString())).catch((e: unknown) => deliveryErrors.push(`result for ${target.id}: ${formatReason(describeError(e, "results-store", "results store"))}`));
      }
      // Events are built (and checked for secrets) only when there is somewhere to send them.
      if (options.events) await publish(options.events, eventsForResult(result, { source, now: now(), activity: { baseline } }));
      options.onResult?.(result);
      // Without keepResults the pool holds no result either: the caller has it through onResult.
      return options.keepResults === false ? undefined : result;
    },
    { concurrency: options.concurrency ?? baseline.scan.concurrency, deadline, ...(options.signal ? { signal: options.signal } : {}) },
  );

  const results: TargetResult[] = [];
  const notScanned: ScanRunSummary["notScanned"] = [];
  outcomes.forEach((outcome, i) => {
    const target = targets[i]!;
    if (outcome.status === "fulfilled") {
      if (outcome.value) results.push(outcome.value);
    }
    else if (outcome.status === "not-started") notScanned.push({ target, reason: outcome.reason === "deadline" ? "not scanned: the scan deadline was reached" : "not scanned: the scan was cancelled" });
    else notScanned.push({ target, reason: `scan failed: ${formatReason(describeError(outcome.reason, "inventory", target.id))}` });
  });

  const finishedAt = now();
  const complete = notScanned.length === 0 && !problem;
  const summary: ScanRunSummary = {
    scanId,
    mode: options.mode ?? (Object.values(baseline.modes).some((m) => m !== undefined && m !== baseline.mode) ? "per-kind" : baseline.mode),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    complete,
    inventory: {
      source: inventory.source,
      ...(inventory.fallbackReason ? { fallbackReason: inventory.fallbackReason } : {}),
      unreadable: inventory.unreadable,
      discovered: all.length,
      inScope: targets.length,
    },
    results,
    notScanned,
    counts,
    deliveryErrors,
  };
  if (options.store) {
    const store = options.store;
    await (async () => {
      await store.saveSummary(scanId, cells.cells());
      await store.saveRun({ ...runRecord, finishedAt: summary.finishedAt, counts, complete, closed: true, ...(notScanned.length ? { notScanned: notScanned.length } : {}) });
      await store.setLatestClosedScan(scanId, runRecord.startedAt);
    })().catch((e: unknown) => {
      deliveryErrors.push(`closing the run: ${formatReason(describeError(e, "results-store", "results store"))}`);
    });
  }
  if (options.events) {
    await publish(options.events, [
      buildEvent(
        EVENT_TYPES.scanCompleted,
        {
          scanId,
          trigger: options.trigger,
          mode: options.mode ?? baseline.mode,
          startedAt: summary.startedAt,
          finishedAt: summary.finishedAt,
          complete,
          counts: { targets: targets.length, ...counts, notScanned: notScanned.length },
          ...(problem ? { problem } : {}),
        },
        { source, now: finishedAt, id: `${scanId}-completed` },
      ),
    ]);
  }
  return summary;
}


