import { app } from "@azure/functions";
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import { z } from "zod";
import { hostServices } from "../host/services.js";
import { enqueueScan } from "../scan/fan-out.js";
import { redact } from "../core/redaction.js";

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

app.http("startScan", { methods: ["POST"], authLevel: "admin", route: "scans", handler: startScan });
