import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DefaultAzureCredential } from "@azure/identity";
import type { TokenCredential } from "@azure/core-auth";
import { loadBaselineText } from "../core/policy/load.js";
import { createScanEnvironment } from "../scan/environment.js";
import { ResultsStore } from "../azure/results-store.js";
import type { StoreConnection } from "../azure/results-store.js";
import { JsonQueue } from "../azure/queues.js";
import type { QueueConnection } from "../azure/queues.js";
import type { FanOutServices } from "../scan/fan-out.js";
import { readSettings } from "./settings.js";
import { SCAN_POISON_QUEUE, SCAN_QUEUE } from "./queue-names.js";

/**
 * The services every function shares, built once per worker process from the app settings and the baseline.
 * Storage is reached with the AzureWebJobsStorage connection string, or with the app's identity when the
 * identity-based form (AzureWebJobsStorage__accountName) is configured.
 */
export interface HostServices extends FanOutServices {
  poison: JsonQueue;
}

let cached: Promise<HostServices> | undefined;
let override: (() => Promise<HostServices>) | undefined;

async function build(): Promise<HostServices> {
  const settings = readSettings();
  const path = resolve(settings.AUDITGUARD_BASELINE_PATH);
  const baseline = loadBaselineText(readFileSync(path, "utf8"), path);
  const credential: TokenCredential = new DefaultAzureCredential();
  const env = createScanEnvironment(baseline, { credential, baseDir: dirname(path) });
  const account = settings.AzureWebJobsStorage__accountName;
  const store: StoreConnection = settings.AzureWebJobsStorage ? { connectionString: settings.AzureWebJobsStorage } : { tableEndpoint: `https://${account}.table.core.windows.net`, credential };
  const queues: QueueConnection = settings.AzureWebJobsStorage ? { connectionString: settings.AzureWebJobsStorage } : { queueEndpoint: `https://${account}.queue.core.windows.net`, credential };
  return {
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
