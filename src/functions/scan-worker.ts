import { app } from "@azure/functions";
import type { InvocationContext } from "@azure/functions";
import { hostServices } from "../host/services.js";
import { InvalidScanRequestError, parseScanRequest, processScanRequest } from "../scan/fan-out.js";
import { SCAN_QUEUE } from "../host/settings.js";
import { redact } from "../core/redaction.js";

/**
 * Scans one target per queue message. A malformed message is moved to the poison queue at once (retrying
 * cannot fix it); a failure of storage or of the function itself is recorded as an attempt and rethrown, so the
 * host retries and, after maxDequeueCount, poisons the message.
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
  try {
    const result = await processScanRequest(services, request);
    context.log(`scan ${request.scanId}: ${request.target.id} is ${result.status}${result.reason ? `: ${redact(result.reason)}` : ""}`);
  } catch (error) {
    const reason = redact(error instanceof Error ? error.message : String(error));
    await services.store.recordProgress(request.scanId, request.target.id, "attempt-failed", reason).catch(() => undefined);
    context.error(`scan ${request.scanId}: ${request.target.id} failed (attempt ${String(context.triggerMetadata?.dequeueCount ?? "?")}): ${reason}`);
    throw error;
  }
}

app.storageQueue("scanWorker", { queueName: SCAN_QUEUE, connection: "AzureWebJobsStorage", handler: scanWorker });
