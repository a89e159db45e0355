import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { stringify } from "yaml";
import { startEmulator } from "./server.js";
import type { RunningEmulator, StartEmulatorOptions } from "./server.js";

/**
 * `auditguard emulator --fleet <file>`: start the emulated estate, print where everything is, and optionally write
 * the endpoints and a ready baseline pointing at them. The identity header is a secret (as in App Service): it is
 * written to a 0600 file next to the CA and referenced, never printed.
 */
export interface RunEmulatorOptions {
  fleetFile: string;
  /** Write the endpoints as JSON here. */
  writeEndpoints?: string;
  /** Write a baseline file (YAML) pointing the scanner at the emulator here. */
  baselineOut?: string;
  host?: string;
  /** Where printed lines go (default: stdout). */
  print?: (line: string) => void;
  /** Passed through to startEmulator (query services, TDS server, MI state validator). */
  start?: Omit<StartEmulatorOptions, "fleet" | "fleetFile" | "host">;
}

export interface EmulatorEndpoints {
  tenantId: string;
  armUrl: string;
  logAnalyticsUrl: string;
  identityEndpoint: string;
  /** A file holding the X-IDENTITY-HEADER secret. */
  identityHeaderFile: string;
  caFile: string;
  scanner: { principalId: string; clientId: string; displayName: string };
  sql?: { host: string; port: number };
}

export interface RunningEmulatorCli {
  emulator: RunningEmulator;
  endpoints: EmulatorEndpoints;
  /** The environment a scanner process needs (IDENTITY_HEADER included: pass it, don't print it). */
  env: Record<string, string>;
  baselineFile?: string;
  stop(): Promise<void>;
}

/**
 * The baseline the scanner needs to run against this emulator, in the shape of src/core/policy/schema.ts
 * (version 1): scope = the fleet's subscriptions, the designated workspace from the fleet's baselineHints, the
 * audit object names the shipped fleets use, and every endpoint override pointing here.
 */
/** Where a running emulator's services are; the identity header itself stays out (it is a secret). */
export function endpointsOf(emulator: RunningEmulator, identityHeaderFile = ""): EmulatorEndpoints {
  return {
    tenantId: emulator.tenantId,
    armUrl: emulator.armUrl,
    logAnalyticsUrl: emulator.logAnalyticsUrl,
    identityEndpoint: emulator.identity.endpoint,
    identityHeaderFile,
    caFile: emulator.caFile,
    scanner: { principalId: emulator.scanner.principalId, clientId: emulator.scanner.clientId, displayName: emulator.scanner.displayName },
    ...(emulator.tds ? { sql: { host: emulator.tds.host, port: emulator.tds.port } } : {}),
  };
}

export function emulatorBaseline(emulator: RunningEmulator, endpoints: EmulatorEndpoints): Record<string, unknown> {
  const fleet = emulator.fleet;
  const hints = fleet.baselineHints;
  const workspaces = [...emulator.estate.allWorkspaces()];
  const designated =
    (hints?.designatedWorkspace && workspaces.find((w) => w.resourceId.toLowerCase().endsWith(`/${hints.designatedWorkspace!.toLowerCase()}`))) || workspaces[0];
  const diagnosticSetting = designated ? { diagnosticSetting: { name: "auditguard-SQLSecurityAuditEvents", workspaceId: designated.resourceId } } : {};
  const serverAuditing = {
    // Server and workspace auditing take the groups their API documents; AUDIT_CHANGE_GROUP is a Managed Instance group.
    auditing: { state: "Enabled", isAzureMonitorTargetEnabled: true, actionGroups: ["BACKUP_RESTORE_GROUP", "BATCH_COMPLETED_GROUP"], minRetentionDays: 90 },
    ...diagnosticSetting,
  };
  return {
    version: 1,
    mode: "plan",
    scope: { subscriptions: fleet.subscriptions.map((s) => s.id) },
    exemptions: { tag: { name: "auditguard:exempt", value: "true" }, resources: [] },
    managedInstance: {
      audit: { name: "auditguard", target: "EXTERNAL_MONITOR", queueDelayMs: 1000, onFailure: "CONTINUE" },
      specification: { name: "auditguard-spec", actionGroups: ["BACKUP_RESTORE_GROUP", "AUDIT_CHANGE_GROUP"] },
      ...diagnosticSetting,
    },
    sqlServer: serverAuditing,
    synapseWorkspace: serverAuditing,
    activity: {
      // Long enough to cover the shipped fleets' seed rows.
      lookback: "P7D",
      allowedBackupStorageAccounts: hints?.allowedBackupStorageAccounts ?? [],
      scannerPrincipals: [emulator.scanner.displayName],
    },
    endpoints: {
      resourceManager: endpoints.armUrl,
      resourceManagerAudience: "https://management.azure.com",
      logAnalytics: endpoints.logAnalyticsUrl,
      logAnalyticsAudience: "https://api.loganalytics.io",
      caFile: endpoints.caFile,
      ...(endpoints.sql ? { sqlConnect: { host: endpoints.sql.host, port: endpoints.sql.port } } : {}),
      useResourceGraph: emulator.mounted.resourceGraph,
    },
  };
}

export async function runEmulator(options: RunEmulatorOptions): Promise<RunningEmulatorCli> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const emulator = await startEmulator({ ...(options.start ?? {}), fleetFile: options.fleetFile, ...(options.host ? { host: options.host } : {}) });
  try {
    const headerFile = join(dirname(emulator.caFile), "identity-header");
    writeFileSync(headerFile, emulator.identity.header, { mode: 0o600 });
    chmodSync(headerFile, 0o600);
    const endpoints = endpointsOf(emulator, headerFile);
    const env = {
      IDENTITY_ENDPOINT: emulator.identity.endpoint,
      IDENTITY_HEADER: emulator.identity.header,
      NODE_EXTRA_CA_CERTS: emulator.caFile,
    };
    const write = (file: string, text: string) => {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
    };
    if (options.writeEndpoints) write(options.writeEndpoints, `${JSON.stringify(endpoints, null, 2)}\n`);
    let baselineFile: string | undefined;
    if (options.baselineOut) {
      baselineFile = options.baselineOut;
      write(baselineFile, `# Generated by auditguard emulator for ${options.fleetFile}; valid while this emulator runs.\n${stringify(emulatorBaseline(emulator, endpoints))}`);
    }

    const counts = (kind: "managedInstances" | "sqlServers" | "synapseWorkspaces") =>
      emulator.fleet.subscriptions.reduce((n, s) => n + s.resourceGroups.reduce((m, g) => m + g[kind].length, 0), 0);
    print(`AuditGuard emulator: ${emulator.fleet.subscriptions.length} subscriptions, ${counts("managedInstances")} managed instances, ${counts("sqlServers")} SQL servers, ${counts("synapseWorkspaces")} Synapse workspaces (tenant ${emulator.tenantId})`);
    print(`  ARM:              ${endpoints.armUrl}`);
    print(`  Log Analytics:    ${endpoints.logAnalyticsUrl}`);
    print(`  Managed identity: ${endpoints.identityEndpoint}`);
    if (endpoints.sql) print(`  SQL (TDS):        ${endpoints.sql.host}:${endpoints.sql.port}`);
    print(`  CA certificate:   ${endpoints.caFile}`);
    if (options.writeEndpoints) print(`  Endpoints file:   ${options.writeEndpoints}`);
    if (baselineFile) print(`  Baseline:         ${baselineFile}`);
    print("Environment for a scanner process:");
    print(`  export IDENTITY_ENDPOINT=${env.IDENTITY_ENDPOINT}`);
    print(`  export IDENTITY_HEADER="$(cat ${headerFile})"`);
    print(`  export NODE_EXTRA_CA_CERTS=${env.NODE_EXTRA_CA_CERTS}`);

    return { emulator, endpoints, env, ...(baselineFile ? { baselineFile } : {}), stop: () => emulator.stop() };
  } catch (error) {
    await emulator.stop();
    throw error;
  }
}

/**
 * Direct use before `auditguard emulator` is wired: `node --import tsx emulator/cli.ts --fleet <file>
 * [--endpoints <file>] [--baseline <file>] [--host <addr>]`; runs until SIGINT/SIGTERM.
 */
async function main(argv: string[]): Promise<void> {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const fleetFile = value("--fleet");
  if (!fleetFile) {
    process.stderr.write("usage: emulator/cli.ts --fleet <file> [--endpoints <file>] [--baseline <file>] [--host <addr>]\n");
    process.exitCode = 2;
    return;
  }
  const endpoints = value("--endpoints");
  const baseline = value("--baseline");
  const host = value("--host");
  const run = await runEmulator({ fleetFile, ...(endpoints ? { writeEndpoints: endpoints } : {}), ...(baseline ? { baselineOut: baseline } : {}), ...(host ? { host } : {}) });
  const stop = () => {
    void run.stop().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
