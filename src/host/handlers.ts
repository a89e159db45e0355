/**
 * The Functions app's handlers. src/functions registers them and loads this module on first use, so the host
 * loads the scanner (Azure SDKs, mssql) only when a function runs, not at start-up.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from "@azure/functions";
import type { TargetResult } from "../core/domain.js";
import { createHash } from "node:crypto";
import { z } from "zod";
import { enqueueScan, InvalidScanRequestError, parseScanRequest, processScanRequest, recordPoisonedRequest, ScanClosingError } from "../scan/fan-out.js";
import { buildReport } from "../core/report/build.js";
import { renderReport } from "../core/report/render.js";
import { redact } from "../core/redaction.js";
import { hostServices } from "./services.js";
import { MAX_DEQUEUE_COUNT } from "./queue-names.js";
import { parseReportQuery } from "./report-query.js";

/** Every hour by default (AUDITGUARD_SCHEDULE): enumerate the estate and queue one scan request per target. */
export async function scheduledScan(timer: Timer, context: InvocationContext): Promise<void> {
  const services = await hostServices();
  const { scanId, targets } = await enqueueScan(services, { trigger: "timer" });
  context.log(`scan ${scanId}: queued ${targets.length} target${targets.length === 1 ? "" : "s"}${timer.isPastDue ? " (timer was past due)" : ""}`);
}

/**
 * Scans one target per queue message. A malformed message is moved to the poison queue at once (retrying
 * cannot fix it); a failure of storage or of the function itself, or a scan that failed for transient reasons
 * only, is recorded as an attempt and rethrown, so the host retries it (a transient scan failure is stored as
 * the result on the last attempt instead) and, after maxDequeueCount, poisons the message.
 */
export async function scanWorker(message: unknown, context: InvocationContext): Promise<void> {
  const services = await hostServices();
  let request;
  try {
    request = parseScanRequest(typeof message === "string" ? JSON.parse(message) : message);
  } catch (error) {
    const reason = error instanceof InvalidScanRequestError ? error.message : `invalid scan request: not JSON`;
    context.error(`${reason}; moved to the poison queue`);
    await services.poison.send({ rejected: reason, message: typeof message === "string" ? message.slice(0, 4000) : message });
    return;
  }
  const attempt = Number(context.triggerMetadata?.dequeueCount ?? 1);
  try {
    const result = await processScanRequest(services, request, { lastAttempt: !(attempt < MAX_DEQUEUE_COUNT) });
    context.log(`scan ${request.scanId}: ${request.target.id} is ${result.status}${result.reason ? `: ${redact(result.reason)}` : ""}`);
  } catch (error) {
    const reason = redact(error instanceof Error ? error.message : String(error));
    // A target whose final status is already recorded keeps it; only the scan's closing is retried.
    if (!(error instanceof ScanClosingError)) await services.store.recordProgress(request.scanId, request.target.id, "attempt-failed", reason).catch(() => undefined);
    context.error(`scan ${request.scanId}: ${request.target.id} failed (attempt ${attempt}): ${reason}`);
    throw error;
  }
}

/**
 * Scan requests that failed every attempt land here: the reason of the last attempt is recorded on the target's
 * result, so an unscannable target shows as an error with its reason, never as a silent gap.
 */
export async function scanPoison(message: unknown, context: InvocationContext): Promise<void> {
  const services = await hostServices();
  let request;
  try {
    request = parseScanRequest(typeof message === "string" ? JSON.parse(message) : message);
  } catch {
    context.warn("a malformed message reached the poison queue; it was already reported when it was rejected");
    return;
  }
  const progress = await services.store.listProgress(request.scanId);
  const last = progress.find((p) => p.targetId.toLowerCase() === request.target.id.toLowerCase());
  const reason = `the scan request failed every attempt${last?.reason ? `: ${last.reason}` : ""}`;
  await recordPoisonedRequest(services, request, reason);
  context.error(`scan ${request.scanId}: ${request.target.id}: ${reason}`);
}

/**
 * GET /api/compliance: the compliance report from the results store, filtered by subscription, kind, status
 * and rule. The ETag is the content's hash (the generation time excluded), so a dashboard polling with
 * If-None-Match gets 304 until something changes.
 */
export const APP_VERSION = "0.1.0";

export async function complianceReport(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const parsed = parseReportQuery(request.query.entries());
  if (!parsed.ok) return { status: 400, jsonBody: { error: { code: "BadRequest", message: parsed.reason } } };
  try {
    const services = await hostServices();
    const [latest, runs] = await Promise.all([services.store.listLatest(parsed.query.filters), services.store.listRuns(200)]);
    const report = buildReport({
      results: latest.map((r) => r.detail as TargetResult),
      runs: runs.map((r) => ({ scanId: r.scanId, ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}), counts: r.counts })),
      filters: parsed.query.filters,
      now: new Date(),
      version: APP_VERSION,
    });
    const { generatedAt: _generatedAt, ...content } = report;
    const etag = `"${createHash("sha256").update(parsed.query.format).update(JSON.stringify(content)).digest("base64url").slice(0, 32)}"`;
    const headers = { etag, "cache-control": "no-cache" };
    if (request.headers.get("if-none-match") === etag) return { status: 304, headers };
    const rendered = renderReport(report, parsed.query.format);
    return { status: 200, headers: { ...headers, "content-type": rendered.contentType }, body: rendered.body };
  } catch (error) {
    context.error(`compliance report failed: ${redact((error as Error).message)}`);
    return { status: 503, jsonBody: { error: { code: "ServiceUnavailable", message: "the results store could not be read; try again" } } };
  }
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
    context.error(`starting a scan failed: ${redact((error as Error).message)}`);
    return { status: 503, jsonBody: { error: { code: "ServiceUnavailable", message: "the scan could not be started; see the function's log" } } };
  }
}

/** GET /api/scans/{scanId}: how far an on-demand or scheduled scan has come, target by target. */
export async function scanStatus(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const scanId = request.params.scanId ?? "";
  if (!/^[A-Za-z0-9-]{1,80}$/.test(scanId)) return { status: 400, jsonBody: { error: { code: "BadRequest", message: "scanId must be 1-80 letters, digits or hyphens" } } };
  try {
    const services = await hostServices();
    const run = await services.store.getRun(scanId);
    if (!run) return { status: 404, jsonBody: { error: { code: "NotFound", message: `no scan ${scanId}` } } };
    const progress = await services.store.listProgress(scanId);
    const done = progress.filter((p) => p.status !== "attempt-failed");
    return {
      status: 200,
      jsonBody: {
        scanId,
        trigger: run.trigger,
        mode: run.mode,
        startedAt: run.startedAt,
        ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
        complete: run.complete,
        expectedTargets: run.expectedTargets,
        finishedTargets: done.length,
        targets: progress.map((p) => ({ targetId: p.targetId, status: p.status, ...(p.reason ? { reason: redact(p.reason) } : {}), at: p.at })),
      },
    };
  } catch (error) {
    context.error(`scan status failed: ${redact((error as Error).message)}`);
    return { status: 503, jsonBody: { error: { code: "ServiceUnavailable", message: "the results store could not be read; try again" } } };
  }
}
