import { app } from "@azure/functions";
import type { InvocationContext, Timer } from "@azure/functions";
import { hostServices } from "../host/services.js";
import { enqueueScan } from "../scan/fan-out.js";

/** Every hour by default (AUDITGUARD_SCHEDULE): enumerate the estate and queue one scan request per target. */
export async function scheduledScan(timer: Timer, context: InvocationContext): Promise<void> {
  const services = await hostServices();
  const { scanId, targets } = await enqueueScan(services, { trigger: "timer" });
  context.log(`scan ${scanId}: queued ${targets.length} target${targets.length === 1 ? "" : "s"}${timer.isPastDue ? " (timer was past due)" : ""}`);
}

app.timer("scheduledScan", { schedule: "%AUDITGUARD_SCHEDULE%", handler: scheduledScan });
