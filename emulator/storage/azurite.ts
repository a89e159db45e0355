import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

/**
 * Real Azure Storage queues and tables for tests and the demo, from Azurite's own server classes started
 * in-process on ephemeral ports. Azurite's package entry point is its VS Code extension, so the CLI servers'
 * classes are loaded directly; their constructors are positional and undocumented, which is why the
 * azurite version is pinned exactly in package.json.
 */
export const AZURITE_ACCOUNT = "devstoreaccount1";
// The well-known public development key of the Azurite/Storage Emulator account: not a secret.
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface RunningAzurite {
  queueEndpoint: string;
  tableEndpoint: string;
  /** A connection string for both services, as AzureWebJobsStorage takes it. */
  connectionString: string;
  stop(): Promise<void>;
}

interface AzuriteServer {
  start(): Promise<void>;
  close(): Promise<void>;
  getHttpServerAddress(): string;
}

type ServerClass = new (config: unknown) => AzuriteServer;
type ConfigClass = new (...args: unknown[]) => unknown;

const require = createRequire(import.meta.url);

function load<T>(path: string): T {
  return (require(`azurite/dist/src/${path}`) as { default: T }).default;
}

export interface AzuriteOptions {
  host?: string;
  queuePort?: number;
  tablePort?: number;
  /** A folder to persist queues and tables in; omitted means in memory (gone at stop). */
  location?: string;
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const host = options.host ?? "127.0.0.1";
  const memory = options.location === undefined;
  if (options.location) mkdirSync(options.location, { recursive: true });
  const at = (file: string) => (options.location ? join(options.location, file) : file);

  // Telemetry off. Azurite's configuration classes take no telemetry argument: its CLI (queue/main.js) calls
  // AzuriteTelemetryClient.init(location, !disableTelemetry, env), and without that call the class still
  // defaults to enabled (common/Telemetry.js). Initialising it disabled makes its request middleware send nothing.
  (require("azurite/dist/src/common/Telemetry") as { AzuriteTelemetryClient: { init(location: string, enabled: boolean, env: unknown): void } }).AzuriteTelemetryClient.init("", false, undefined);
  const QueueConfiguration = load<ConfigClass>("queue/QueueConfiguration");
  const QueueServer = load<ServerClass>("queue/QueueServer");
  const TableConfiguration = load<ConfigClass>("table/TableConfiguration");
  const TableServer = load<ServerClass>("table/TableServer");

  // @azure/storage-queue 12.30 sends x-ms-version 2026-04-06, newer than Azurite 3.35 knows: skip the check.
  const queueConfig = new QueueConfiguration(
    host, options.queuePort ?? 0, undefined, at("__azurite_db_queue__.json"), at("__azurite_db_queue_extent__.json"),
    [{ locationId: "Default", locationPath: at("__queuestorage__"), maxConcurrency: 10 }],
    false, undefined, false, undefined, false, true, "", "", "", undefined, false, memory,
  );
  const tableConfig = new TableConfiguration(
    host, options.tablePort ?? 0, undefined, at("__azurite_db_table__.json"), false, false, undefined, undefined,
    false, false, "", "", "", undefined, false, memory,
  );
  const queue = new QueueServer(queueConfig);
  const table = new TableServer(tableConfig);
  await queue.start();
  try {
    await table.start();
  } catch (error) {
    await queue.close();
    throw error;
  }
  const queueEndpoint = `${queue.getHttpServerAddress()}/${AZURITE_ACCOUNT}`;
  const tableEndpoint = `${table.getHttpServerAddress()}/${AZURITE_ACCOUNT}`;
  return {
    queueEndpoint,
    tableEndpoint,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
      `QueueEndpoint=${queueEndpoint};TableEndpoint=${tableEndpoint};`,
    async stop() {
      await Promise.allSettled([queue.close(), table.close()]);
    },
  };
}
