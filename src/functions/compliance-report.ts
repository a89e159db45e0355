import { createHash } from "node:crypto";
import { app } from "@azure/functions";
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { hostServices } from "../host/services.js";
import { parseReportQuery } from "../host/report-query.js";
import { buildReport } from "../core/report/build.js";
import { renderReport } from "../core/report/render.js";
import type { TargetResult } from "../core/domain.js";
import { redact } from "../core/redaction.js";

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

app.http("complianceReport", { methods: ["GET"], authLevel: "function", route: "compliance", handler: complianceReport });
