import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DefaultAzureCredential } from "@azure/identity";
import type { TokenCredential } from "@azure/core-auth";
import { loadBaselineText } from "../core/policy/load.js";
import { createScanEnvironment } from "../scan/environment.js";
import { ResultsStore } from "../azure/results-store.js";
import type { StoreConnection } from "../azure/table-clients.js";
import { JsonQueue } from "../azure/queues.js";
import type { QueueConnection } from "../azure/queues.js";
import type { FanOutServices } from "../scan/fan-out.js";
import { ActivityStore } from "../azure/activity-store.js";
import { storeActivitySource } from "../scan/activity-sweep.js";
import { ConfigurationError, parseFunctionTimeout, readSettings, storageServiceUris } from "./settings.js";
import type { AppSettings } from "./settings.js";
import type { Baseline } from "../core/policy/schema.js";
import { SCAN_POISON_QUEUE, SCAN_QUEUE } from "./queue-names.js";

/**
 * The services every function shares, built once per worker process from the app settings and the baseline.
 * Storage is reached with the AzureWebJobsStorage connection string, or with the app's identity when the
 * identity-based form (AzureWebJobsStorage__accountName) is configured.
 */
export interface HostServices extends FanOutServices {
  poison: JsonQueue;
  activity: ActivityStore;
  retentionDays: number;
  /**
   * How long one invocation may scan: host.json's functionTimeout less a margin to store what was found and say
   * why it stopped, so the host never kills a worker in the middle of writing.
   */
  invocationBudgetMs: number;
}

/** Flex Consumption's default functionTimeout is 30 minutes; host.json sets 10. */
const DEFAULT_FUNCTION_TIMEOUT_MS = 30 * 60_000;

export function invocationBudget(functionTimeoutMs: number): number {
  return Math.max(10_000, functionTimeoutMs - Math.max(30_000, functionTimeoutMs * 0.1));
}

function functionTimeoutMs(hostJsonPath: string): number {
  let text: string;
  try {
    text = readFileSync(hostJsonPath, "utf8");
  } catch {
    return DEFAULT_FUNCTION_TIMEOUT_MS;
  }
  const timeout = (JSON.parse(text) as { functionTimeout?: string }).functionTimeout;
  return timeout ? parseFunctionTimeout(timeout) : DEFAULT_FUNCTION_TIMEOUT_MS;
}

let cached: Promise<HostServices> | undefined;
let override: (() => Promise<HostServices>) | undefined;

/**
 * The app's settings and baseline, checked: what the app start hook checks, and what every function starts from. A
 * problem is a ConfigurationError naming the setting or the baseline's line, never a setting's value.
 */
export function loadConfiguration(env: NodeJS.ProcessEnv = process.env): { settings: AppSettings; baseline: Baseline; baselinePath: string } {
  const settings = readSettings(env);
  const baselinePath = resolve(settings.AUDITGUARD_BASELINE_PATH);
  let text: string;
  try {
    text = readFileSync(baselinePath, "utf8");
  } catch (error) {
    throw new ConfigurationError(`the baseline file ${baselinePath} (AUDITGUARD_BASELINE_PATH) cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return { settings, baseline: loadBaselineText(text, baselinePath), baselinePath };
  } catch (error) {
    throw new ConfigurationError(`the baseline ${baselinePath} is invalid: ${(error as Error).message}`);
  }
}

async function build(): Promise<HostServices> {
  const { settings, baseline, baselinePath: path } = loadConfiguration();
  const credential: TokenCredential = new DefaultAzureCredential();
  const uris = storageServiceUris(settings);
  const store: StoreConnection = settings.AzureWebJobsStorage ? { connectionString: settings.AzureWebJobsStorage } : { tableEndpoint: uris.table, credential };
  const queues: QueueConnection = settings.AzureWebJobsStorage ? { connectionString: settings.AzureWebJobsStorage } : { queueEndpoint: uris.queue, credential };
  const activity = await ActivityStore.open(store, settings.AUDITGUARD_TABLE_PREFIX);
  // The drift scan takes each target's activity from the sweep's verdicts instead of querying Log Analytics itself.
  const env = {
    ...createScanEnvironment(baseline, { credential, baseDir: dirname(path) }),
    activity: storeActivitySource(baseline, activity, baseline.activity.maxVerdictAgeMinutes * 60_000),
  };
  return {
    activity,
    retentionDays: settings.AUDITGUARD_RETENTION_DAYS,
    invocationBudgetMs: invocationBudget(functionTimeoutMs(resolve("host.json"))),
    env,
    store: await ResultsStore.open(store, settings.AUDITGUARD_TABLE_PREFIX),
    requests: JsonQueue.connect(queues, SCAN_QUEUE),
    poison: JsonQueue.connect(queues, SCAN_POISON_QUEUE),
    events: JsonQueue.connect(queues, settings.AUDITGUARD_EVENTS_QUEUE),
    eventSource: settings.AUDITGUARD_EVENT_SOURCE,
  };
}

export function hostServices(): Promise<HostServices> {
  cached ??= (override ?? build)().catch((error: unknown) => {
    cached = undefined; // a fixed setting or baseline is picked up by the next invocation
    throw error;
  });
  return cached;
}

/** Tests (and only tests) point the functions at services they built, e.g. on the emulator and Azurite. */
export function useHostServices(factory: (() => Promise<HostServices>) | undefined): void {
  override = factory;
  cached = undefined;
}
