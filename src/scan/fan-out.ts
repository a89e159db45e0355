import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import type { Target, TargetResult, TargetStatus } from "../core/domain.js";
import { emptyCounts } from "../core/domain.js";
import { buildEvent } from "../core/events/build.js";
import { EVENT_TYPES } from "../core/events/catalog.js";
import { inScope, lowestMode, modeFor } from "../core/scope.js";
import { SummaryCells } from "../core/summary-cells.js";
import type { Mode } from "../core/policy/schema.js";
import type { Progress, ResultsStore, ScanRun } from "../azure/results-store.js";
import type { ActivityStore } from "../azure/activity-store.js";
import type { JsonQueue } from "../azure/queues.js";
import { getResource, parseTargetId } from "../azure/inventory.js";
import { KIND_ADAPTERS } from "../kinds/adapters.js";
import type { ScanEnvironment } from "./environment.js";
import { discoverTargets, failingRuleIds, newScanId, previousResult, toStoredResult, toTarget } from "./run-scan.js";
import { scanTarget } from "./scan-target.js";
import { eventsForResult } from "./result-events.js";
import { describeError, formatReason } from "./errors.js";
import { startBudget } from "./budget.js";
import { storeLock } from "./lease.js";

/**
 * The Functions app's fan-out: the timer (or an HTTP request) enumerates the estate, records every target it
 * expects as `pending`, and queues one scan request per target; queue-triggered workers scan one target each.
 *
 * A message is a request, not a fact: it names a scan and a target id, nothing else is believed. The worker
 * accepts it only for a scan that exists and a target that scan expects, reads the target from ARM (kind, host
 * name, tags, state), applies the baseline's scope, exemptions and mode again (a message may lower the mode,
 * never raise it), and refuses anything else with a stored reason. Finishing a target is constant work: its
 * progress row moves on under its ETag (a second delivery of the same message is counted once), a counter shard
 * is incremented, and the worker that sees the total reach the expected count closes the scan.
 */
const SCAN_ID = z.string().regex(/^[A-Za-z0-9-]{1,80}$/, { message: "1-80 letters, digits or hyphens" });
const TARGET_ID = z.string().max(600).refine((id) => parseTargetId(id) !== undefined, { message: "must be the ARM id of a Managed Instance, SQL server or Synapse workspace" });
const MODE = z.enum(["off", "plan", "enforce"]);

export const scanRequestSchema = z.discriminatedUnion("version", [
  z.object({ version: z.literal(2), scanId: SCAN_ID, targetId: TARGET_ID, mode: MODE.optional() }).strict(),
  // AuditGuard 0.1 put the whole target in the message; only its id is read now (messages queued before an upgrade).
  z.object({ version: z.literal(1), scanId: SCAN_ID, mode: MODE.optional(), target: z.object({ id: TARGET_ID }).passthrough() }).passthrough(),
]);

export interface ScanRequest {
  scanId: string;
  targetId: string;
  /** At most this mode: the scan's own mode and the baseline's still apply. */
  mode?: Mode;
}

/** Messages larger than this are refused before parsing (a scan request is well under 1 KiB). */
export const MAX_REQUEST_BYTES = 16 * 1024;

export class InvalidScanRequestError extends Error {}

export function parseScanRequest(message: unknown): ScanRequest {
  let value = message;
  if (typeof message === "string" || Buffer.isBuffer(message)) {
    const text = message.toString();
    if (Buffer.byteLength(text, "utf8") > MAX_REQUEST_BYTES) throw new InvalidScanRequestError(`invalid scan request: ${Buffer.byteLength(text, "utf8")} bytes, more than the ${MAX_REQUEST_BYTES} a request can be`);
    try {
      value = JSON.parse(text);
    } catch {
      throw new InvalidScanRequestError("invalid scan request: not JSON");
    }
  } else {
    const size = Buffer.byteLength(JSON.stringify(message) ?? "", "utf8");
    if (size > MAX_REQUEST_BYTES) throw new InvalidScanRequestError(`invalid scan request: ${size} bytes, more than the ${MAX_REQUEST_BYTES} a request can be`);
  }
  const parsed = scanRequestSchema.safeParse(value);
  if (!parsed.success) {
    throw new InvalidScanRequestError(`invalid scan request: ${parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  }
  const r = parsed.data;
  return { scanId: r.scanId, targetId: r.version === 2 ? r.targetId : r.target.id, ...(r.mode ? { mode: r.mode } : {}) };
}

/** What the poison queue gets for a message refused before it could be handled: the reason, never the whole message. */
export function rejectionRecord(message: unknown, reason: string): Record<string, unknown> {
  const text = typeof message === "string" ? message : Buffer.isBuffer(message) ? message.toString() : (JSON.stringify(message) ?? String(message));
  return {
    rejected: reason,
    at: new Date().toISOString(),
    bytes: Buffer.byteLength(text, "utf8"),
    sha256: createHash("sha256").update(text).digest("hex"),
    preview: text.slice(0, 512),
  };
}

export interface FanOutServices {
  env: ScanEnvironment;
  store: ResultsStore;
  /** The activity sweep's state: each worker records where its target's audit records land. */
  activity?: ActivityStore;
  requests: JsonQueue;
  events: JsonQueue;
  eventSource: string;
  now?: () => Date;
}

export async function enqueueScan(services: FanOutServices, options: { trigger: "timer" | "http"; mode?: "plan" | "enforce" }): Promise<{ scanId: string; targets: Target[]; problem?: string }> {
  const now = services.now ?? (() => new Date());
  const startedAt = now();
  const scanId = newScanId(startedAt);
  const mode = options.mode ?? services.env.baseline.mode;
  const { targets, inventory } = await discoverTargets(services.env, options.mode ? { mode: options.mode } : {});
  const problem = inventory.unreadable.length ? `the inventory could not be read completely: ${inventory.unreadable.join("; ")}` : undefined;
  const run: ScanRun = { scanId, trigger: options.trigger, mode, startedAt: startedAt.toISOString(), expectedTargets: targets.length, counts: emptyCounts(), complete: false, ...(problem ? { problem } : {}) };
  await services.store.saveRun(run);
  await services.store.addPending(scanId, targets);
  // In discoverTargets' order, subscriptions interleaved: workers taking messages off the queue spread their ARM
  // reads over every subscription's token bucket (target-order.ts).
  await services.requests.sendAll(targets.map((target) => ({ version: 2, scanId, targetId: target.id, ...(options.mode ? { mode: options.mode } : {}) })));
  if (!targets.length) await closeScan(services, run);
  return { scanId, targets, ...(problem ? { problem } : {}) };
}

/** Closing the scan failed after the target's own result and progress were stored: those stand as they are. */
export class ScanClosingError extends Error {
  constructor(cause: unknown) {
    super(`the target's result is stored, but closing the scan failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "ScanClosingError";
  }
}

/** A target whose scan failed for transient reasons only, left for the queue to retry. */
export class RetryLaterError extends Error {
  constructor(readonly reason: string) {
    super(`transient failure, retried by the queue: ${reason}`);
    this.name = "RetryLaterError";
  }
}

/** A request that names no scan, or a target its scan does not expect: nothing was done; the reason is for the poison queue. */
export class RefusedRequestError extends Error {
  override readonly name = "RefusedRequestError";
}

export interface ProcessOptions {
  lastAttempt?: boolean;
  /** The invocation's signal (from host.json's functionTimeout): the scan of this target ends by it. */
  signal?: AbortSignal;
}

export type ProcessOutcome =
  | { kind: "scanned"; result: TargetResult }
  | { kind: "refused"; reason: string }
  | { kind: "duplicate"; status: string };

const FINAL: ReadonlySet<string> = new Set(["compliant", "remediated", "noncompliant", "exempt", "error", "poisoned", "refused"]);

function targetFromId(targetId: string, progress?: Progress): Target {
  const p = parseTargetId(targetId)!;
  return { id: targetId, kind: progress?.kind ?? p.kind, name: p.name, subscriptionId: p.subscriptionId, resourceGroup: p.resourceGroup, location: "", tags: {} };
}

/**
 * One worker invocation: check the request against the store, resolve the target through ARM, scan it, store the
 * result, publish its events, count it, and close the scan if it was the last. A result in error for transient
 * reasons only is not stored but thrown as RetryLaterError, so the host retries the message minutes later; on the
 * last attempt it is stored as it is.
 */
export async function processScanRequest(services: FanOutServices, request: ScanRequest, options: ProcessOptions = {}): Promise<ProcessOutcome> {
  const now = services.now ?? (() => new Date());
  const { store, env } = services;
  const run = await store.getRun(request.scanId);
  if (!run) throw new RefusedRequestError(`no scan ${request.scanId} is recorded: the request was not made by this app's timer or API`);
  const progress = await store.getProgress(request.scanId, request.targetId);
  if (!progress) throw new RefusedRequestError(`scan ${request.scanId} does not expect target ${request.targetId}: refused`);
  if (FINAL.has(progress.status)) return { kind: "duplicate", status: progress.status };
  if (run.closed) throw new RefusedRequestError(`scan ${request.scanId} was closed before this target was scanned (it is counted as not scanned)`);

  // The target as ARM has it now, not as the message says.
  const resolveBudget = startBudget(env.baseline.scan.targetTimeoutSeconds, options.signal);
  let target: Target | undefined;
  try {
    const resource = await resolveBudget.call("reading the target from ARM", (signal) => getResource(env.clients, KIND_ADAPTERS, request.targetId, signal));
    target = resource ? toTarget(resource) : undefined;
  } catch (error) {
    const d = describeError(error, "resolve-target", request.targetId, resolveBudget.signal);
    if (d.transient && !options.lastAttempt) throw new RetryLaterError(formatReason(d));
    return finish(services, run, progress, targetFromId(request.targetId, progress), { status: "error", reason: `could not read the target from ARM: ${formatReason(d)}` });
  } finally {
    resolveBudget.dispose();
  }
  if (!target) return refuse(services, run, progress, request.targetId, "the resource no longer exists (ARM answered 404): not scanned");
  if (!inScope(env.baseline, target)) return refuse(services, run, progress, request.targetId, "the resource left the baseline's scope since the scan was queued (its tags, group or kind): not scanned");
  const mode = lowestMode(modeFor(env.baseline, target.kind), run.mode, request.mode);
  if (mode === "off") return refuse(services, run, progress, request.targetId, `the baseline's mode for ${target.kind} is off`);

  const result = await scanTarget(env, target, {
    scanId: request.scanId,
    now,
    mode,
    lock: storeLock(store, `${request.scanId}/${randomUUID()}`),
    previous: previousResult(store, target),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (result.status === "error" && result.retryable && !options.lastAttempt) throw new RetryLaterError(result.reason ?? "no reason given");
  return finish(services, run, progress, target, result);
}

function minimalResult(run: ScanRun, target: Target, status: TargetStatus, reason: string, now: Date): TargetResult {
  return { scanId: run.scanId, target, status, reason, mode: run.mode, startedAt: now.toISOString(), finishedAt: now.toISOString(), findings: [], plan: [], applied: [] };
}

async function finish(services: FanOutServices, run: ScanRun, progress: Progress, target: Target, outcome: TargetResult | { status: TargetStatus; reason: string }): Promise<ProcessOutcome> {
  const now = (services.now ?? (() => new Date()))();
  const result = "scanId" in outcome ? outcome : minimalResult(run, target, outcome.status, outcome.reason, now);
  await services.store.saveResult(toStoredResult(result, run.startedAt));
  if (services.activity && result.routes) {
    const t = result.target;
    await services.activity.saveRoute({ targetId: t.id, kind: t.kind, name: t.name, subscriptionId: t.subscriptionId, resourceGroup: t.resourceGroup, routes: result.routes, observedAt: result.finishedAt });
  }
  // Suspicious activity is announced by the activity sweep as it reads each record, not again by every drift scan.
  for (const event of eventsForResult(result, { source: services.eventSource, now })) await services.events.send(event);
  const moved = await services.store.updateProgress(
    run.scanId,
    target.id,
    { status: result.status, ...(result.reason ? { reason: result.reason } : {}), kind: target.kind, subscriptionId: target.subscriptionId, failingRuleIds: failingRuleIds(result) },
    progress.etag,
  );
  if (moved) await countAndMaybeClose(services, run, target.id, result.status);
  return { kind: "scanned", result };
}

async function refuse(services: FanOutServices, run: ScanRun, progress: Progress, targetId: string, reason: string): Promise<ProcessOutcome> {
  const moved = await services.store.updateProgress(run.scanId, targetId, { status: "refused", reason }, progress.etag);
  if (moved) await countAndMaybeClose(services, run, targetId, "refused");
  return { kind: "refused", reason };
}

async function countAndMaybeClose(services: FanOutServices, run: ScanRun, targetId: string, status: TargetStatus | "refused" | "poisoned"): Promise<void> {
  try {
    const { finished } = await services.store.countFinished(run.scanId, targetId, status === "poisoned" ? "error" : status);
    if (finished >= run.expectedTargets) await closeScan(services, run);
  } catch (error) {
    throw new ScanClosingError(error);
  }
}

/** Records a scan request that failed every attempt, with the reason, on the target's result and the scan. */
export async function recordPoisonedRequest(services: FanOutServices, request: ScanRequest, reason: string): Promise<void> {
  const run = await services.store.getRun(request.scanId);
  const progress = run ? await services.store.getProgress(request.scanId, request.targetId) : undefined;
  if (!run || !progress || FINAL.has(progress.status)) return;
  const now = (services.now ?? (() => new Date()))();
  const target = targetFromId(request.targetId, progress);
  const result = minimalResult(run, target, "error", reason, now);
  await services.store.saveResult(toStoredResult(result, run.startedAt));
  const moved = await services.store.updateProgress(run.scanId, target.id, { status: "poisoned", reason, kind: target.kind, subscriptionId: target.subscriptionId, failingRuleIds: [] }, progress.etag);
  if (moved) await countAndMaybeClose(services, run, target.id, "poisoned");
}

/**
 * Closes a scan once (whoever gets the claim): counts and summarises it from its progress rows, read once page by
 * page (the only listing of a scan, so it costs a constant per target), marks targets that never finished as not
 * scanned, points the report at it, and announces it.
 */
export async function closeScan(services: FanOutServices, run: ScanRun, options: { reason?: string; staleClaimMs?: number } = {}): Promise<boolean> {
  const { store } = services;
  if (!(await store.claimClose(run.scanId, options.staleClaimMs))) return false;
  const counts = emptyCounts();
  const cells = new SummaryCells();
  let notScanned = 0;
  let refused = 0;
  for await (const p of store.allProgress(run.scanId)) {
    if (p.status === "refused") refused++;
    else if (!FINAL.has(p.status)) notScanned++;
    else {
      const status: TargetStatus = p.status === "poisoned" ? "error" : (p.status as TargetStatus);
      counts[status]++;
      cells.add({ subscriptionId: p.subscriptionId ?? parseTargetId(p.targetId)?.subscriptionId ?? "", kind: p.kind ?? parseTargetId(p.targetId)!.kind, status, failingRuleIds: p.failingRuleIds });
    }
  }
  const finishedAt = (services.now ?? (() => new Date()))().toISOString();
  const complete = notScanned === 0 && !run.problem;
  const problem = [run.problem, options.reason, notScanned ? `${notScanned} target${notScanned === 1 ? "" : "s"} not scanned` : undefined].filter(Boolean).join("; ") || undefined;
  await store.saveSummary(run.scanId, cells.cells());
  await store.saveRun({ ...run, finishedAt, counts, complete, closed: true, ...(notScanned ? { notScanned } : {}), ...(problem ? { problem } : {}) });
  await store.setLatestClosedScan(run.scanId, run.startedAt);
  await services.events.send(
    buildEvent(
      EVENT_TYPES.scanCompleted,
      {
        scanId: run.scanId,
        trigger: run.trigger,
        mode: run.mode,
        startedAt: run.startedAt,
        finishedAt,
        complete,
        counts: { targets: run.expectedTargets - refused, ...counts, notScanned },
        ...(problem ? { problem } : {}),
      },
      { source: services.eventSource, now: new Date(finishedAt), id: `${run.scanId}-completed` },
    ),
  );
  return true;
}

/**
 * Closes earlier scans that outlived their deadline (a message lost, a worker that never came back), so the
 * report moves on and every target of them is accounted for. Called by the timer before it queues the next scan.
 */
export async function closeOverdueScans(services: FanOutServices, limit = 5): Promise<string[]> {
  const now = (services.now ?? (() => new Date()))().getTime();
  const deadlineMs = services.env.baseline.scan.deadlineMinutes * 60_000;
  const closed: string[] = [];
  for (const run of await services.store.listRuns(limit)) {
    if (run.closed || Date.parse(run.startedAt) + deadlineMs > now) continue;
    if (await closeScan(services, run, { reason: "closed by the next timer run: the scan's deadline (scan.deadlineMinutes) had passed", staleClaimMs: deadlineMs })) closed.push(run.scanId);
  }
  return closed;
}
