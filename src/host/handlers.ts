/**
 * The Functions app's handlers. src/functions registers them and loads this module on first use, so the host
 * loads the scanner (Azure SDKs, tedious) only when a function runs, not at start-up.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from "@azure/functions";
import type { TargetResult } from "../core/domain.js";
import { createHash } from "node:crypto";
import { z } from "zod";
import {
  closeOverdueScans,
  closeScan,
  enqueueScan,
  InvalidScanRequestError,
  parseScanRequest,
  processScanRequest,
  recordPoisonedRequest,
  RefusedRequestError,
  rejectionRecord,
  ScanClosingError,
} from "../scan/fan-out.js";
import type { ScanRequest } from "../scan/fan-out.js";
import { newScanId } from "../scan/run-scan.js";
import { emptyCounts } from "../core/domain.js";
import { runActivitySweep } from "../scan/activity-sweep.js";
import { InventoryError, StoreError } from "../azure/errors.js";
import { ConfigurationError } from "./settings.js";
import { InvalidContinuationError } from "../azure/results-store.js";
import { reportHeader, summaryFromCells, toReportTarget } from "../core/report/build.js";
import { formatInfo, renderReportChunks } from "../core/report/render.js";
import type { ReportHeader, ReportTarget } from "../core/report/model.js";
import { SummaryCells } from "../core/summary-cells.js";
import type { StoredResult } from "../azure/results-store.js";
import { redact } from "../core/redaction.js";
import { hostServices } from "./services.js";
import type { HostServices } from "./services.js";
import { MAX_DEQUEUE_COUNT } from "./queue-names.js";
import { parseReportQuery } from "./report-query.js";

/**
 * Every hour by default (AUDITGUARD_SCHEDULE): close earlier scans that outlived their deadline, enumerate the
 * estate and queue one scan request per target, then prune scans older than the retention. An inventory that
 * could not be read is an error of the invocation (and a closed, incomplete scan record), never an empty scan.
 */
export async function scheduledScan(timer: Timer, context: InvocationContext): Promise<void> {
  const services = await hostServices();
  const overdue = await closeOverdueScans(services);
  if (overdue.length) context.warn(`closed ${overdue.length} overdue scan${overdue.length === 1 ? "" : "s"}: ${overdue.join(", ")}`);
  try {
    const { scanId, targets, problem } = await enqueueScan(services, { trigger: "timer" });
    context.log(`scan ${scanId}: queued ${targets.length} target${targets.length === 1 ? "" : "s"}${timer.isPastDue ? " (timer was past due)" : ""}`);
    if (problem) context.error(`scan ${scanId} is incomplete: ${redact(problem)}`);
  } catch (error) {
    if (error instanceof InventoryError) await recordFailedScan(services, "timer", error.message);
    context.error(`the scheduled scan could not start: ${redact((error as Error).message)}`);
    throw error;
  } finally {
    const pruned = await services.store.pruneScans(new Date(Date.now() - services.retentionDays * 86_400_000)).catch((e: unknown) => {
      context.warn(`pruning old scans failed: ${redact((e as Error).message)}`);
      return [];
    });
    if (pruned.length) context.log(`pruned ${pruned.length} scan${pruned.length === 1 ? "" : "s"} older than ${services.retentionDays} days`);
  }
}

/**
 * Scans one target per queue message. A malformed, oversized, or unfounded message (no such scan, a target the
 * scan does not expect) is moved to the poison queue at once with the reason (retrying cannot fix it); a failure of
 * storage or of the function itself, or a scan that failed for transient reasons only, is recorded as an attempt
 * and rethrown, so the host retries it (a transient scan failure is stored as the result on the last attempt
 * instead) and, after maxDequeueCount, poisons the message. The scan of the target ends by the invocation's own
 * deadline (host.json's functionTimeout, less a margin to store what was found).
 */
export async function scanWorker(message: unknown, context: InvocationContext): Promise<void> {
  const services = await hostServices();
  let request;
  try {
    request = parseScanRequest(message);
  } catch (error) {
    const reason = error instanceof InvalidScanRequestError ? error.message : "invalid scan request: it could not be read";
    context.error(`${redact(reason)}; moved to the poison queue`);
    await services.poison.send(rejectionRecord(message, reason));
    return;
  }
  const attempt = Number(context.triggerMetadata?.dequeueCount ?? 1);
  const signal = AbortSignal.timeout(services.invocationBudgetMs);
  try {
    const outcome = await processScanRequest(services, request, { lastAttempt: !(attempt < MAX_DEQUEUE_COUNT), signal });
    if (outcome.kind === "scanned") context.log(`scan ${request.scanId}: ${request.targetId} is ${outcome.result.status}${outcome.result.reason ? `: ${redact(outcome.result.reason)}` : ""}`);
    else if (outcome.kind === "refused") context.warn(`scan ${request.scanId}: ${request.targetId} not scanned: ${outcome.reason}`);
    else context.log(`scan ${request.scanId}: ${request.targetId} was already ${outcome.status} (a repeated delivery); nothing done`);
  } catch (error) {
    if (error instanceof RefusedRequestError) {
      context.error(`${redact(error.message)}; moved to the poison queue`);
      await services.poison.send(rejectionRecord(message, error.message));
      return;
    }
    const reason = redact(error instanceof Error ? error.message : String(error));
    // A target whose final status is already recorded keeps it; only the scan's closing is retried.
    if (!(error instanceof ScanClosingError)) await recordAttempt(services, request, attempt, reason).catch(() => undefined);
    context.error(`scan ${request.scanId}: ${request.targetId} failed (attempt ${attempt}): ${reason}`);
    throw error;
  }
}

async function recordAttempt(services: HostServices, request: ScanRequest, attempt: number, reason: string): Promise<void> {
  const progress = await services.store.getProgress(request.scanId, request.targetId);
  if (!progress || !["pending", "attempt-failed"].includes(progress.status)) return;
  await services.store.updateProgress(request.scanId, request.targetId, { status: "attempt-failed", reason, attempts: attempt }, progress.etag);
}

async function recordFailedScan(services: HostServices, trigger: "timer" | "http", problem: string): Promise<void> {
  const now = new Date();
  const run = { scanId: newScanId(now), trigger, mode: services.env.baseline.mode, startedAt: now.toISOString(), expectedTargets: 0, counts: emptyCounts(), complete: false, problem };
  await services.store.saveRun(run).catch(() => undefined);
  await closeScan(services, run).catch(() => undefined);
}

/**
 * Scan requests that failed every attempt land here: the reason of the last attempt is recorded on the target's
 * result, so an unscannable target shows as an error with its reason, never as a silent gap. Records of messages
 * this app refused itself are left alone: their reason is in them.
 */
export async function scanPoison(message: unknown, context: InvocationContext): Promise<void> {
  const services = await hostServices();
  let request;
  try {
    request = parseScanRequest(message);
  } catch {
    context.warn("a refused or malformed message is in the poison queue; its reason was recorded when it was refused");
    return;
  }
  const last = await services.store.getProgress(request.scanId, request.targetId);
  const reason = `the scan request failed every attempt${last?.reason ? `: ${last.reason}` : ""}`;
  await recordPoisonedRequest(services, request, reason);
  context.error(`scan ${request.scanId}: ${request.targetId}: ${redact(reason)}`);
}

/**
 * Every five minutes by default (AUDITGUARD_SWEEP_SCHEDULE): read every audit workspace once from its watermark,
 * announce what is suspicious and keep each target's verdict for the drift scan. One sweep at a time (a lease),
 * whatever the scale-out: Log Analytics' limits are the identity's, not the instance's.
 */
export async function activitySweep(timer: Timer, context: InvocationContext): Promise<void> {
  const services = await hostServices();
  const sweepId = newScanId(new Date());
  const summary = await runActivitySweep(services, { sweepId, signal: AbortSignal.timeout(services.invocationBudgetMs) });
  if (summary.skipped) {
    context.warn(`activity sweep ${sweepId} skipped: ${summary.skipped}`);
    return;
  }
  const problems = summary.workspaces.filter((w) => w.problem);
  context.log(`activity sweep ${sweepId}: ${summary.workspaces.length} workspace${summary.workspaces.length === 1 ? "" : "s"}, ${summary.queries} quer${summary.queries === 1 ? "y" : "ies"}, ${summary.events} event${summary.events === 1 ? "" : "s"}${timer.isPastDue ? " (timer was past due)" : ""}`);
  for (const w of problems) context.error(`activity sweep ${sweepId}: ${redact(w.problem!)}`);
}

/**
 * GET /api/compliance: the compliance report of the latest closed scan (or `?scan=`), filtered by subscription,
 * kind, status and rule. Its summary comes from the scan's summary cells, so the ETag, a 304 and every count cost
 * three small reads whatever the size of the estate; the targets are read from the store a page at a time: JSON
 * answers one page (`top`, default and at most 1,000) with a `next` link, the other formats stream every page
 * unless `top` or `continuation` asks for one.
 */
const JSON_PAGE = 1000;

async function* bytes(chunks: AsyncIterable<string>): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) yield Buffer.from(chunk, "utf8");
}

export async function complianceReport(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const parsed = parseReportQuery(request.query.entries());
  if (!parsed.ok) return { status: 400, jsonBody: { error: { code: "BadRequest", message: parsed.reason } } };
  const q = parsed.query;
  try {
    const services = await hostServices();
    const { store } = services;
    const scanId = q.scanId ?? (await store.latestClosedScan());
    const [run, summary] = scanId ? await Promise.all([store.getRun(scanId), store.getSummary(scanId)]) : [undefined, undefined];
    if (q.scanId && !run) return { status: 404, jsonBody: { error: { code: "NotFound", message: `no scan ${q.scanId}` } } };
    if (run && !summary) return { status: 409, jsonBody: { error: { code: "ScanNotClosed", message: `scan ${run.scanId} is not closed yet; its report is there once every target is done (follow /api/scans/${run.scanId})` } } };
    const paged = q.format === "json" || q.page !== undefined;
    const size = q.page?.top ?? JSON_PAGE;
    const etag = `"${createHash("sha256")
      .update(JSON.stringify([q.format, q.filters, scanId ?? "none", summary?.etag ?? "", paged ? size : 0, q.page?.continuation ?? ""]))
      .digest("base64url")
      .slice(0, 32)}"`;
    const headers = { etag, "cache-control": "no-cache" };
    if (request.headers.get("if-none-match") === etag) return { status: 304, headers };
    const runs = (await store.listRuns(60)).filter((r) => r.closed);
    const header: ReportHeader = {
      ...reportHeader({
        summary: summaryFromCells(new SummaryCells(summary?.cells ?? []).matching(q.filters), run?.finishedAt),
        runs: runs.map((r) => ({ scanId: r.scanId, ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}), counts: r.counts })),
        filters: q.filters,
        now: new Date(),
      }),
      ...(run ? { scan: { scanId: run.scanId, startedAt: run.startedAt, ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}), complete: run.complete, ...(run.notScanned ? { notScanned: run.notScanned } : {}), ...(run.problem ? { problem: redact(run.problem) } : {}) } } : {}),
    };
    const toTargets = async function* (results: AsyncIterable<StoredResult> | Iterable<StoredResult>) {
      for await (const r of results) yield toReportTarget(r.detail as TargetResult);
    };
    let targets: AsyncIterable<ReportTarget>;
    if (!scanId) targets = toTargets([]);
    else if (paged) {
      const page = await store.listScanResults(scanId, q.filters, { size, ...(q.page?.continuation ? { continuationToken: q.page.continuation } : {}) });
      if (page.continuationToken) {
        const next = new URLSearchParams([...request.query.entries()].filter(([k]) => k !== "continuation" && k !== "code" && k !== "scan"));
        next.set("scan", scanId);
        next.set("continuation", page.continuationToken);
        header.page = { size, next: `/api/compliance?${next.toString()}` };
      } else header.page = { size };
      targets = toTargets(page.items);
    } else targets = toTargets(store.scanResults(scanId, q.filters));
    return { status: 200, headers: { ...headers, "content-type": formatInfo(q.format).contentType }, body: bytes(renderReportChunks(header, targets, q.format)) };
  } catch (error) {
    if (error instanceof InvalidContinuationError) return { status: 400, jsonBody: { error: { code: "BadRequest", message: error.message } } };
    return failedAnswer(error, "the compliance report", context);
  }
}

/**
 * A failed answer, by cause class: the app's configuration (a setting or the baseline), the results store, the
 * inventory, or something else; the details go to the log, redacted, and the answer names the class.
 */
function failedAnswer(error: unknown, what: string, context: InvocationContext): HttpResponseInit {
  const message = redact(error instanceof Error ? error.message : String(error));
  context.error(`${what} failed: ${message}`);
  if (error instanceof ConfigurationError) return { status: 500, jsonBody: { error: { code: "ConfigurationError", message } } };
  if (error instanceof StoreError) return { status: 503, jsonBody: { error: { code: "StoreUnavailable", message: `${what}: the results store could not be reached; try again` } } };
  if (error instanceof InventoryError) return { status: 503, jsonBody: { error: { code: "InventoryUnavailable", message } } };
  return { status: 500, jsonBody: { error: { code: "InternalError", message: `${what} failed; see the function's log` } } };
}

/** POST /api/scans (admin key): start an on-demand scan; 202 with where to follow its progress. */
const bodySchema = z.object({ mode: z.enum(["plan", "enforce"]).optional() }).strict();

export async function startScan(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  let body: unknown = {};
  const text = await request.text();
  if (text.trim()) {
    try {
      body = JSON.parse(text);
    } catch {
      return { status: 400, jsonBody: { error: { code: "BadRequest", message: "the body must be JSON, e.g. {\"mode\":\"plan\"}" } } };
    }
  }
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) {
    return { status: 400, jsonBody: { error: { code: "BadRequest", message: parsed.error.issues.map((i) => (i.code === "unrecognized_keys" ? `unknown field(s): ${i.keys.join(", ")}` : `${i.path.join(".") || "body"}: ${i.message}`)).join("; ") } } };
  }
  try {
    const services = await hostServices();
    const { scanId, targets } = await enqueueScan(services, { trigger: "http", ...(parsed.data.mode ? { mode: parsed.data.mode } : {}) });
    const location = `/api/scans/${encodeURIComponent(scanId)}`;
    context.log(`scan ${scanId} started over HTTP: ${targets.length} targets queued`);
    return { status: 202, headers: { location }, jsonBody: { scanId, targets: targets.length, status: location } };
  } catch (error) {
    return failedAnswer(error, "starting a scan", context);
  }
}

/** GET /api/scans/{scanId}[?continuation=]: how far a scan has come (counters), and its targets a page at a time. */
export async function scanStatus(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const scanId = request.params.scanId ?? "";
  if (!/^[A-Za-z0-9-]{1,80}$/.test(scanId)) return { status: 400, jsonBody: { error: { code: "BadRequest", message: "scanId must be 1-80 letters, digits or hyphens" } } };
  const continuation = request.query.get("continuation") ?? undefined;
  try {
    const services = await hostServices();
    const run = await services.store.getRun(scanId);
    if (!run) return { status: 404, jsonBody: { error: { code: "NotFound", message: `no scan ${scanId}` } } };
    const [counters, page] = await Promise.all([services.store.readCounters(scanId), services.store.listProgress(scanId, { size: 500, ...(continuation ? { continuationToken: continuation } : {}) })]);
    return {
      status: 200,
      jsonBody: {
        scanId,
        trigger: run.trigger,
        mode: run.mode,
        startedAt: run.startedAt,
        ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
        complete: run.complete,
        closed: run.closed === true,
        ...(run.problem ? { problem: redact(run.problem) } : {}),
        expectedTargets: run.expectedTargets,
        finishedTargets: counters.finished,
        counts: run.closed ? run.counts : counters.counts,
        targets: page.items.map((p) => ({ targetId: p.targetId, status: p.status, ...(p.reason ? { reason: redact(p.reason) } : {}), at: p.at })),
        ...(page.continuationToken ? { next: `/api/scans/${encodeURIComponent(scanId)}?continuation=${page.continuationToken}` } : {}),
      },
    };
  } catch (error) {
    if (error instanceof InvalidContinuationError) return { status: 400, jsonBody: { error: { code: "BadRequest", message: error.message } } };
    return failedAnswer(error, "the scan status", context);
  }
}
