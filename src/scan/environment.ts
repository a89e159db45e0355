import { readFileSync } from "node:fs";
import { DefaultAzureCredential } from "@azure/identity";
import type { TokenCredential } from "@azure/core-auth";
import type { Baseline } from "../core/policy/schema.js";
import { AzureClients, PUBLIC_CLOUD } from "../azure/clients.js";
import type { AzureContext, AzureEndpoints } from "../azure/clients.js";
import { ArmThrottle } from "../azure/arm-throttle.js";
import { LogsRateLimit } from "../azure/logs-rate-limit.js";
import type { SqlEncryption } from "../azure/sql-audit.js";
import type { ActivitySource } from "./activity-sweep.js";

/**
 * Everything a scan needs to reach Azure, built once from the baseline: the credential (managed identity in
 * Azure, DefaultAzureCredential's chain elsewhere), the endpoints, the CA to trust, the SDK clients and the
 * shared ARM throttle. Nothing global: two scans with two baselines do not share state.
 */
export interface ScanEnvironment {
  baseline: Baseline;
  credential: TokenCredential;
  clients: AzureClients;
  caPem?: string;
  sqlConnect?: { host: string; port: number };
  sqlEncryption: SqlEncryption;
  /** The only DNS zone suffix whose Managed Instance hosts get the scanner's SQL token. */
  managedInstanceDnsSuffix: string;
  /**
   * Where a target's audit activity comes from: the activity sweep's verdicts (Functions), or a sweep of the run's own
   * (CLI). None: activity is not read (the activity rules say so).
   */
  activity?: ActivitySource;
}

export function endpointsFrom(baseline: Baseline): AzureEndpoints {
  const e = baseline.endpoints;
  return {
    resourceManager: (e.resourceManager ?? PUBLIC_CLOUD.resourceManager).replace(/\/+$/, ""),
    resourceManagerAudience: e.resourceManagerAudience ?? PUBLIC_CLOUD.resourceManagerAudience,
    logAnalytics: (e.logAnalytics ?? PUBLIC_CLOUD.logAnalytics).replace(/\/+$/, ""),
    logAnalyticsAudience: e.logAnalyticsAudience ?? PUBLIC_CLOUD.logAnalyticsAudience,
  };
}

export function createScanEnvironment(
  baseline: Baseline,
  options: { credential?: TokenCredential; caPem?: string; baseDir?: string; additionalPolicies?: AzureContext["additionalPolicies"] } = {},
): ScanEnvironment {
  let caPem = options.caPem;
  if (!caPem && baseline.endpoints.caFile) {
    const path = baseline.endpoints.caFile.startsWith("/") || !options.baseDir ? baseline.endpoints.caFile : `${options.baseDir}/${baseline.endpoints.caFile}`;
    caPem = readFileSync(path, "utf8");
  }
  const credential = options.credential ?? new DefaultAzureCredential();
  const rate = baseline.scan.logAnalyticsRate;
  const clients = new AzureClients({
    credential,
    endpoints: endpointsFrom(baseline),
    ...(caPem ? { caPem } : {}),
    throttle: new ArmThrottle(),
    logsRateLimit: new LogsRateLimit({ requests: rate.requests, windowMs: rate.windowSeconds * 1000 }),
    ...(options.additionalPolicies ? { additionalPolicies: options.additionalPolicies } : {}),
  });
  return {
    baseline,
    credential,
    clients,
    ...(caPem ? { caPem } : {}),
    sqlEncryption: baseline.endpoints.sqlEncryption,
    managedInstanceDnsSuffix: baseline.endpoints.managedInstanceDnsSuffix,
    ...(baseline.endpoints.sqlConnect ? { sqlConnect: baseline.endpoints.sqlConnect } : {}),
  };
}

/** ISO 8601 duration (days, hours, minutes, seconds) in milliseconds. */
export function durationMs(iso: string): number {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(iso);
  if (!m) throw new Error(`not an ISO 8601 duration: ${iso}`);
  const [, d, h, min, s] = m.map((v) => Number(v ?? 0));
  return (((d! * 24 + h!) * 60 + min!) * 60 + s!) * 1000;
}
