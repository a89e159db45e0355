import { hostServices } from "../src/host/services.js";
import type { ArmThrottleStats } from "../src/azure/arm-throttle.js";

/** What a process's app services counted: store requests, ARM requests per bucket and 429s, Log Analytics queries. */
export interface ServiceStats {
  storeRequests: number;
  arm: ArmThrottleStats;
  logAnalytics: { requests: number; throttled: number };
}

export async function serviceStats(): Promise<ServiceStats> {
  const services = await hostServices();
  const context = services.env.clients.context;
  return {
    storeRequests: services.store.stats.requests,
    arm: context.throttle.stats,
    logAnalytics: { requests: context.logsRateLimit?.stats.requests ?? 0, throttled: context.logsRateLimit?.stats.throttled ?? 0 },
  };
}
