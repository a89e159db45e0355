import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GenerateFleetOptions } from "../emulator/fleet/generate.js";
import type { FleetInput } from "../emulator/fleet/schema.js";
import type { BaselineInput } from "../src/core/policy/schema.js";
import type { BenchOptions } from "./options.js";

/** What the emulator child builds its fleet from: generateFleet's options, and fleet keys set over them. */
export interface EstateSpec {
  generate: GenerateFleetOptions;
  overrides: Partial<Pick<FleetInput, "logAnalyticsRateLimit" | "logAnalyticsQueryLimits">>;
}

export function estateSpec(options: BenchOptions): EstateSpec {
  return { generate: estateOptions(options), overrides: options.liftLogAnalytics ? { logAnalyticsRateLimit: false, logAnalyticsQueryLimits: false } : {} };
}

/** The benchmark's estate: 40% Managed Instances (over TDS), 35% SQL servers, 25% Synapse workspaces. */
export function estateOptions(options: BenchOptions): GenerateFleetOptions {
  const managedInstances = Math.round(options.targets * 0.4);
  const sqlServers = Math.round(options.targets * 0.35);
  const { armMs, logAnalyticsMs, tdsMs, sigma } = options.latency;
  const latency = (medianMs: number) => (medianMs > 0 ? { kind: "lognormal" as const, medianMs, sigma } : { kind: "fixed" as const, ms: 0 });
  return {
    seed: options.seed,
    subscriptions: options.subscriptions,
    workspaces: options.workspaces,
    managedInstances,
    sqlServers,
    synapseWorkspaces: options.targets - managedInstances - sqlServers,
    driftRate: options.driftRate,
    // Every service limit stays on: ARM's token buckets, Resource Graph's quota, Log Analytics' rate and concurrency.
    liftServiceLimits: false,
    faults: { seed: options.seed, latency: { arm: latency(armMs), logAnalytics: latency(logAnalyticsMs), tds: latency(tdsMs) } },
  };
}

export interface EmulatorEndpoints {
  armUrl: string;
  logAnalyticsUrl: string;
  identity: { endpoint: string; header: string };
  caFile: string;
  scanner: { displayName: string };
  sql?: { host: string; port: number };
}

/**
 * The baseline the scanner processes read (AUDITGUARD_BASELINE_PATH, the CLI's --config), written to a file of its
 * own. No designated workspace: the estate's targets send their audit to 20 workspaces, as regional workspaces do,
 * and the baseline names one per kind at most. Log Analytics' per-identity rate (200 queries per 30 s, Azure Monitor
 * service limits) is shared by every process of the path, each pacing its share, as scan.logAnalyticsRate says to.
 * No CA file: the processes trust the emulator through NODE_EXTRA_CA_CERTS, as they trust Azure's roots.
 */
export function writeBaseline(e: EmulatorEndpoints, options: BenchOptions, queryingProcesses: number): string {
  const serverAuditing: BaselineInput["sqlServer"] = { auditing: { state: "Enabled", isAzureMonitorTargetEnabled: true, actionGroups: ["BACKUP_RESTORE_GROUP", "BATCH_COMPLETED_GROUP"], minRetentionDays: 90 } };
  const baseline: BaselineInput = {
    version: 1,
    mode: options.mode,
    managedInstance: {
      audit: { name: "auditguard", target: "EXTERNAL_MONITOR", queueDelayMs: 1000, onFailure: "CONTINUE" },
      specification: { name: "auditguard-spec", actionGroups: ["BACKUP_RESTORE_GROUP", "AUDIT_CHANGE_GROUP"] },
    },
    sqlServer: serverAuditing,
    synapseWorkspace: serverAuditing,
    activity: { lookback: "PT1H15M", allowedBackupStorageAccounts: ["contosobackups"], scannerPrincipals: [e.scanner.displayName] },
    endpoints: {
      resourceManager: e.armUrl,
      logAnalytics: e.logAnalyticsUrl,
      ...(e.sql ? { sqlConnect: e.sql } : {}),
      useResourceGraph: true,
    },
    scan: {
      concurrency: options.cliConcurrency,
      logAnalyticsRate: options.liftLogAnalytics ? { requests: 100_000, windowSeconds: 1 } : { requests: Math.max(1, Math.floor(200 / queryingProcesses)), windowSeconds: 30 },
    },
  };
  const dir = mkdtempSync(join(tmpdir(), "auditguard-bench-"));
  const file = join(dir, "baseline.json");
  writeFileSync(file, JSON.stringify(baseline, null, 2));
  return file;
}

/** The environment of a scanner process: the app's settings and the managed identity, as the Functions host gives them. */
export function scannerEnvironment(e: EmulatorEndpoints, baselineFile: string, storage: string): Record<string, string> {
  return {
    AzureWebJobsStorage: storage,
    AUDITGUARD_BASELINE_PATH: baselineFile,
    IDENTITY_ENDPOINT: e.identity.endpoint,
    IDENTITY_HEADER: e.identity.header,
    NODE_EXTRA_CA_CERTS: e.caFile,
  };
}
