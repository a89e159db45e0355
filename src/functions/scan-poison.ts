import { app } from "@azure/functions";
import type { InvocationContext } from "@azure/functions";
import { hostServices } from "../host/services.js";
import { parseScanRequest, recordPoisonedRequest } from "../scan/fan-out.js";
import { SCAN_POISON_QUEUE } from "../host/settings.js";

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

app.storageQueue("scanPoison", { queueName: SCAN_POISON_QUEUE, connection: "AzureWebJobsStorage", handler: scanPoison });
