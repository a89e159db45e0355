import { z } from "zod";
import type { Target, TargetResult } from "../core/domain.js";
import { buildEvent } from "../core/events/build.js";
import { EVENT_TYPES } from "../core/events/catalog.js";
import type { ResultsStore } from "../azure/results-store.js";
import type { JsonQueue } from "../azure/queues.js";
import type { ScanEnvironment } from "./environment.js";
import { discoverTargets, emptyCounts, newScanId, toStoredResult } from "./run-scan.js";
import { scanTarget } from "./scan-target.js";
import { eventsForResult } from "./result-events.js";

/**
 * The Functions app's fan-out: the timer (or an HTTP request) enumerates the estate and queues one scan request
 * per target; queue-triggered workers scan one target each. Progress is one row per (scan, target), so the
 * last worker to finish — whichever it is — publishes the scan-completed event, once.
 */
const ARM_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/[^/]+\/[^/]+\/[^/]+$/i;

export const scanRequestSchema = z
  .object({
    version: z.literal(1),
    scanId: z.string().regex(/^[A-Za-z0-9-]{1,80}$/),
    trigger: z.enum(["timer", "http", "cli", "queue"]),
    mode: z.enum(["off", "plan", "enforce"]).optional(),
    target: z
      .object({
        id: z.string().regex(ARM_ID, { message: "must be an ARM resource id" }),
        kind: z.enum(["sql-managed-instance", "sql-server", "synapse-workspace"]),
        name: z.string().min(1).max(128),
        subscriptionId: z.string().min(1).max(64),
        resourceGroup: z.string().min(1).max(90),
        location: z.string().max(64),
        tags: z.record(z.string(), z.string()),
        fullyQualifiedDomainName: z.string().max(255).optional(),
      })
      .strict(),
  })
  .strict();

export type ScanRequest = z.infer<typeof scanRequestSchema>;

export class InvalidScanRequestError extends Error {}

export function parseScanRequest(message: unknown): ScanRequest {
  const parsed = scanRequestSchema.safeParse(message);
  if (!parsed.success) {
    throw new InvalidScanRequestError(`invalid scan request: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  }
  return parsed.data;
}

export interface FanOutServices {
  env: ScanEnvironment;
  store: ResultsStore;
  requests: JsonQueue;
  events: JsonQueue;
  eventSource: string;
  now?: () => Date;
}

export async function enqueueScan(services: FanOutServices, options: { trigger: "timer" | "http"; mode?: "plan" | "enforce" }): Promise<{ scanId: string; targets: Target[] }> {
  const now = services.now ?? (() => new Date());
  const startedAt = now();
  const scanId = newScanId(startedAt);
  const { targets } = await discoverTargets(services.env, options.mode ? { mode: options.mode } : {});
  await services.store.saveRun({ scanId, trigger: options.trigger, mode: options.mode ?? services.env.baseline.mode, startedAt: startedAt.toISOString(), expectedTargets: targets.length, counts: emptyCounts(), complete: targets.length === 0 });
  const messages: ScanRequest[] = targets.map((target) => ({ version: 1, scanId, trigger: options.trigger, ...(options.mode ? { mode: options.mode } : {}), target }));
  await services.requests.sendAll(messages);
  return { scanId, targets };
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
  constructor(readonly result: TargetResult) {
    super(`transient failure, retried by the queue: ${result.reason ?? "no reason given"}`);
    this.name = "RetryLaterError";
  }
}

/**
 * One worker invocation: scan the target, store the result, publish its events, and close the scan if last. A
 * result in error for transient reasons only is not stored but thrown as RetryLaterError, so the host retries
 * the message minutes later; on the last attempt it is stored as it is.
 */
export async function processScanRequest(services: FanOutServices, request: ScanRequest, options: { lastAttempt?: boolean } = {}): Promise<TargetResult> {
  const now = services.now ?? (() => new Date());
  const { store } = services;
  const result = await scanTarget(services.env, request.target, {
    scanId: request.scanId,
    now,
    ...(request.mode ? { mode: request.mode } : {}),
    lock: async (target) => ((await store.acquireLease(target.id, request.scanId, 10 * 60_000)) ? () => store.releaseLease(target.id, request.scanId) : undefined),
  });
  if (result.status === "error" && result.retryable && !options.lastAttempt) throw new RetryLaterError(result);
  await store.saveResult(toStoredResult(result));
  for (const event of eventsForResult(result, { source: services.eventSource, now: now() })) await services.events.send(event);
  await store.recordProgress(request.scanId, request.target.id, result.status, result.reason);
  try {
    await completeIfLast(services, request.scanId);
  } catch (error) {
    throw new ScanClosingError(error);
  }
  return result;
}

/** Records a scan request that failed every attempt, with the reason, on the target's result and the scan. */
export async function recordPoisonedRequest(services: FanOutServices, request: ScanRequest, reason: string): Promise<void> {
  const now = (services.now ?? (() => new Date()))().toISOString();
  const result: TargetResult = { scanId: request.scanId, target: request.target, status: "error", reason, mode: request.mode ?? services.env.baseline.mode, startedAt: now, finishedAt: now, findings: [], plan: [], applied: [] };
  await services.store.saveResult(toStoredResult(result));
  await services.store.recordProgress(request.scanId, request.target.id, "poisoned", reason);
  await completeIfLast(services, request.scanId);
}

async function completeIfLast(services: FanOutServices, scanId: string): Promise<void> {
  const { store } = services;
  const run = await store.getRun(scanId);
  if (!run) return;
  const progress = await store.listProgress(scanId);
  const finished = progress.filter((p) => p.status !== "attempt-failed");
  if (finished.length < run.expectedTargets || !(await store.claimCompletion(scanId))) return;
  const counts = emptyCounts();
  for (const p of finished) {
    const status = p.status === "poisoned" ? "error" : p.status;
    if (status in counts) counts[status as keyof typeof counts]++;
  }
  const finishedAt = (services.now ?? (() => new Date()))();
  await store.saveRun({ ...run, finishedAt: finishedAt.toISOString(), counts, complete: true });
  await services.events.send(
    buildEvent(
      EVENT_TYPES.scanCompleted,
      { scanId, trigger: run.trigger, mode: run.mode, startedAt: run.startedAt, finishedAt: finishedAt.toISOString(), complete: true, counts: { targets: run.expectedTargets, ...counts, notScanned: 0 } },
      { source: services.eventSource, now: finishedAt, id: `${scanId}-completed` },
    ),
  );
}
