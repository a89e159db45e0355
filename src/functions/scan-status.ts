import { app } from "@azure/functions";
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { hostServices } from "../host/services.js";
import { redact } from "../core/redaction.js";

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

app.http("scanStatus", { methods: ["GET"], authLevel: "function", route: "scans/{scanId}", handler: scanStatus });
