import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { availableParallelism } from "node:os";
import { generateFleet } from "../emulator/fleet/generate.js";
import { providerId } from "../emulator/estate/ids.js";
import type { PacingStats } from "../emulator/storage/pacing-proxy.js";
import { ActivityStore } from "../src/azure/activity-store.js";
import type { StoredRoute } from "../src/azure/activity-store.js";
import { ResultsStore } from "../src/azure/results-store.js";
import type { ArmOperation } from "../src/azure/arm-throttle.js";
import type { TargetKind } from "../src/core/domain.js";
import { emptyCounts } from "../src/core/domain.js";
import { Child } from "./child.js";
import { computeBound, KINDS } from "./bound.js";
import type { Bound, PathCounts } from "./bound.js";
import { estateOptions, estateSpec, scannerEnvironment, writeBaseline } from "./estate.js";
import type { EmulatorEndpoints } from "./estate.js";
import { lognormalMean } from "./options.js";
import type { BenchOptions } from "./options.js";
import type { ServiceStats } from "./service-stats.js";

/** What the benchmark reports for one path (the JSON's `paths.functions` / `paths.cli`). */
export interface PathResult {
  path: "functions" | "cli";
  targets: number;
  complete: boolean;
  statuses: Record<string, number>;
  concurrency: number;
  wallSeconds: number;
  boundSeconds: number;
  boundBy: string;
  bound: Bound["terms"];
  /** Every process's CPU spread over this machine's cores, the emulator's and storage's included: not in the bound. */
  machineCpuFloorSeconds: number;
  /** CPU the stand-ins for Azure spent over the whole path (the emulator; Azurite with the pacing proxy), s. */
  serviceCpuSeconds: { emulator: number; storage: number };
  ratio: number;
  armReadsPerTarget: number;
  /** ARM requests as the scanner's processes counted them, and as the emulator served them (they agree to 0.5%: armCountsAgree). */
  armRequests: { counted: number; served: number };
  logAnalyticsQueriesPerTarget: number;
  storeOpsPerTarget: number;
  tdsRoundTripsPerManagedInstance: number;
  throttled: number;
  throttledBy: { arm: number; logAnalytics: number };
  /** Storage answers 503 ServerBusy (the pacing proxy): retried by the SDKs, not a 429. */
  storageServerBusy: number;
  scannerCpuMsPerTarget: Record<TargetKind | "allKindsInTheRun", number | null>;
  peakRssMb: number;
  peakRssMbByProcess: Record<string, number>;
  /** A fresh instance's first invocation on the deployed bundle (the Functions path; null for the CLI). */
  firstInvocationMs: number | null;
}

type Counts = { arm: number; logAnalytics: number; tdsRoundTrips: number };
interface Footprints {
  peakRssMb: number;
  cpuMs: number;
  /** The main thread's alone (the single-thread floor); absent from answers that predate it. */
  mainThreadCpuMs?: number;
}
type ServiceReport = Partial<ServiceStats> & Footprints;

/** host.json's queue trigger concurrency per instance: batchSize + newBatchThreshold. */
function hostConcurrency(): number {
  const q = (JSON.parse(readFileSync(resolve("host.json"), "utf8")) as { extensions: { queues: { batchSize: number; newBatchThreshold: number } } }).extensions.queues;
  return q.batchSize + q.newBatchThreshold;
}

/**
 * TDS round trips of one catalog read over TDS 8 with TLS 1.3 when it cannot be measured: the handshake's three
 * (ClientHello, the last TLS flight with PRELOGIN, LOGIN7), the session settings, the catalog. The Functions path
 * measures it (the fewest round trips a Managed Instance of its one-at-a-time sample took) and the CLI path, which
 * runs after it, takes that measurement.
 */
const ASSUMED_TDS_ROUND_TRIPS_PER_READ = 5;
let measuredTdsRoundTripsPerRead: number | undefined;

/** What the emulator served from `before` to `after`: its counts run from its start, the path's from its clock. */
const countsSince = (after: Counts, before: Counts): Counts => ({ arm: after.arm - before.arm, logAnalytics: after.logAnalytics - before.logAnalytics, tdsRoundTrips: after.tdsRoundTrips - before.tdsRoundTrips });

function statsSince(after: PacingStats, before: PacingStats): PacingStats {
  const minus = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]));
  return {
    table: {
      requests: after.table.requests - before.table.requests,
      transactions: after.table.transactions - before.table.transactions,
      entities: after.table.entities - before.table.entities,
      serverBusy: after.table.serverBusy - before.table.serverBusy,
      entitiesByPartition: minus(after.table.entitiesByPartition, before.table.entitiesByPartition),
    },
    queue: {
      requests: after.queue.requests - before.queue.requests,
      messages: after.queue.messages - before.queue.messages,
      serverBusy: after.queue.serverBusy - before.queue.serverBusy,
      messagesByQueue: minus(after.queue.messagesByQueue, before.queue.messagesByQueue),
    },
  };
}

function sumArm(reports: Array<Partial<ServiceStats>>): Record<string, Record<ArmOperation, number>> {
  const out: Record<string, Record<ArmOperation, number>> = {};
  for (const r of reports) {
    for (const [scope, ops] of Object.entries(r.arm?.byScope ?? {})) {
      const into = (out[scope] ??= { read: 0, write: 0, delete: 0 });
      into.read += ops.read;
      into.write += ops.write;
      into.delete += ops.delete;
    }
  }
  return out;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const mean = (values: number[]) => (values.length ? sum(values) / values.length : null);

function storageCounts(stats: PacingStats) {
  return {
    maxPartitionEntities: Math.max(0, ...Object.values(stats.table.entitiesByPartition)),
    tableTransactions: stats.table.transactions,
    maxQueueMessages: Math.max(0, ...Object.values(stats.queue.messagesByQueue)),
    queueMessages: stats.queue.messages,
  };
}

/** The emulator and storage of one path, each in a process of its own. */
async function services(options: BenchOptions) {
  const emulator = Child.start("emulator", "emulator-child", estateSpec(options));
  const storage = Child.start("storage", "storage-child", {});
  const endpoints = await emulator.next<EmulatorEndpoints>();
  const { connectionString, direct } = await storage.next<{ connectionString: string; direct: string }>();
  return { emulator, storage, endpoints, connectionString, direct };
}

function finishPath(
  options: BenchOptions,
  path: "functions" | "cli",
  measured: {
    wallSeconds: number;
    complete: boolean;
    statuses: Record<string, number>;
    targets: Record<TargetKind, number>;
    remediated: Record<TargetKind, number>;
    concurrency: number;
    scanners: Record<string, ServiceReport>;
    perTargetQueries: number;
    counts: Counts;
    storage: PacingStats;
    cpuByKind: Record<string, number[]>;
    others: { emulator: Footprints; storage: Footprints };
    extraRss: Record<string, number>;
    firstInvocationMs: number | null;
    tdsRoundTripsPerRead?: number;
  },
): PathResult {
  const reports = Object.values(measured.scanners);
  const armByScope = sumArm(reports);
  const total = sum(KINDS.map((k) => measured.targets[k]));
  const { armMs, logAnalyticsMs, tdsMs, sigma } = options.latency;
  const counts: PathCounts = {
    functions: path === "functions",
    targets: measured.targets,
    remediated: measured.remediated,
    concurrency: measured.concurrency,
    latency: { arm: lognormalMean(armMs, sigma), logAnalytics: lognormalMean(logAnalyticsMs, sigma), tds: lognormalMean(tdsMs, sigma) },
    armByScope,
    resourceGraphQueries: armByScope.tenant?.read ?? 0,
    perTargetLogAnalyticsQueries: measured.perTargetQueries,
    logAnalyticsQueries: measured.counts.logAnalytics,
    logAnalyticsLimited: !options.liftLogAnalytics,
    tdsRoundTrips: measured.counts.tdsRoundTrips,
    tdsRoundTripsPerRead: measured.tdsRoundTripsPerRead ?? ASSUMED_TDS_ROUND_TRIPS_PER_READ,
    storage: storageCounts(measured.storage),
    processCpuMs: Object.fromEntries(Object.entries(measured.scanners).map(([name, r]) => [name, r.mainThreadCpuMs ?? r.cpuMs])),
  };
  const bound = computeBound(counts);
  const reads = sum(Object.values(armByScope).map((s) => s.read));
  const armThrottled = sum(reports.map((r) => r.arm?.throttled ?? 0));
  const laThrottled = sum(reports.map((r) => r.logAnalytics?.throttled ?? 0));
  const rss = { ...Object.fromEntries(Object.entries(measured.scanners).map(([name, r]) => [name, r.peakRssMb])), ...measured.extraRss };
  const allCpu = sum(reports.map((r) => r.cpuMs)) + measured.others.emulator.cpuMs + measured.others.storage.cpuMs;
  const per = (n: number) => (total ? n / total : 0);
  return {
    path,
    targets: total,
    complete: measured.complete,
    statuses: measured.statuses,
    concurrency: measured.concurrency,
    wallSeconds: measured.wallSeconds,
    boundSeconds: bound.boundSeconds,
    boundBy: bound.boundBy,
    bound: bound.terms,
    machineCpuFloorSeconds: allCpu / availableParallelism() / 1000,
    serviceCpuSeconds: { emulator: measured.others.emulator.cpuMs / 1000, storage: measured.others.storage.cpuMs / 1000 },
    ratio: bound.boundSeconds > 0 ? measured.wallSeconds / bound.boundSeconds : 0,
    armReadsPerTarget: per(reads),
    armRequests: { counted: sum(Object.values(armByScope).map((s) => s.read + s.write + s.delete)), served: measured.counts.arm },
    logAnalyticsQueriesPerTarget: per(measured.counts.logAnalytics),
    storeOpsPerTarget: per(sum(reports.map((r) => r.storeRequests ?? 0))),
    tdsRoundTripsPerManagedInstance: measured.targets["sql-managed-instance"] ? measured.counts.tdsRoundTrips / measured.targets["sql-managed-instance"] : 0,
    throttled: armThrottled + laThrottled,
    throttledBy: { arm: armThrottled, logAnalytics: laThrottled },
    storageServerBusy: measured.storage.table.serverBusy + measured.storage.queue.serverBusy,
    scannerCpuMsPerTarget: {
      "sql-managed-instance": mean(measured.cpuByKind["sql-managed-instance"] ?? []),
      "sql-server": mean(measured.cpuByKind["sql-server"] ?? []),
      "synapse-workspace": mean(measured.cpuByKind["synapse-workspace"] ?? []),
      allKindsInTheRun: per(sum(reports.map((r) => r.cpuMs))),
    },
    peakRssMb: Math.max(0, ...Object.values(rss)),
    peakRssMbByProcess: rss,
    firstInvocationMs: measured.firstInvocationMs,
  };
}

const byKind = () => Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<TargetKind, number>;

interface EstateTarget {
  id: string;
  kind: TargetKind;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  tags?: Record<string, string>;
  /** The ARM ids of the Log Analytics workspaces its diagnostic settings send to. */
  workspaces: string[];
}

/** The generated estate's targets, in the fleet's order (the same fleet the emulator serves). */
function estateTargets(options: BenchOptions): EstateTarget[] {
  const { fleet } = generateFleet(estateOptions(options));
  const workspaceIds = new Map<string, string>();
  for (const sub of fleet.subscriptions ?? [])
    for (const rg of sub.resourceGroups ?? [])
      for (const w of rg.logAnalyticsWorkspaces ?? []) workspaceIds.set(w.name, providerId(sub.id, rg.name, "Microsoft.OperationalInsights", "workspaces", w.name));
  const out: EstateTarget[] = [];
  type Resource = { name: string; tags?: Record<string, string>; diagnosticSettings?: Array<{ workspace?: string }> };
  for (const sub of fleet.subscriptions ?? []) {
    for (const rg of sub.resourceGroups ?? []) {
      const add = (kind: TargetKind, provider: string, type: string, resources: Resource[] | undefined) => {
        for (const r of resources ?? []) {
          const workspaces = (r.diagnosticSettings ?? []).flatMap((d) => (d.workspace && workspaceIds.has(d.workspace) ? [workspaceIds.get(d.workspace)!] : []));
          out.push({ id: providerId(sub.id, rg.name, provider, type, r.name), kind, name: r.name, subscriptionId: sub.id, resourceGroup: rg.name, ...(r.tags ? { tags: r.tags } : {}), workspaces });
        }
      };
      add("sql-managed-instance", "Microsoft.Sql", "managedInstances", rg.managedInstances);
      add("sql-server", "Microsoft.Sql", "servers", rg.sqlServers);
      add("synapse-workspace", "Microsoft.Synapse", "workspaces", rg.synapseWorkspaces);
    }
  }
  return out;
}

/**
 * The audit routes a previous scan stored for every target of the estate (each diagnostic setting's workspace,
 * AzureDiagnostics since none is Dedicated), so the activity sweep knows every workspace, as in an app that has
 * been running: the sweep learns a workspace from the scans, and a first scan after deployment reports activity
 * "not read yet".
 */
function previousRoutes(estate: readonly EstateTarget[]): StoredRoute[] {
  const observedAt = new Date().toISOString();
  return estate
    .filter((t) => t.workspaces.length)
    .map((t) => ({ targetId: t.id, kind: t.kind, name: t.name, subscriptionId: t.subscriptionId, resourceGroup: t.resourceGroup, routes: t.workspaces.map((workspaceId) => ({ workspaceId, table: "AzureDiagnostics" as const })), observedAt }));
}

/** The first `n` targets of each kind that are not exempt. */
function sampleTargets(estate: readonly EstateTarget[], n: number): Array<{ id: string; kind: TargetKind; subscriptionId: string }> {
  const taken = byKind();
  const picked: Array<{ id: string; kind: TargetKind; subscriptionId: string }> = [];
  for (const t of estate) {
    if (taken[t.kind] >= n || t.tags?.["auditguard:exempt"] === "true") continue;
    taken[t.kind]++;
    picked.push({ id: t.id, kind: t.kind, subscriptionId: t.subscriptionId });
  }
  return picked;
}

/**
 * The Functions path: the timer handler (scheduledScan) queues the estate, then M instances (worker processes)
 * take the messages as the host does and run scanWorker; the activity sweep once before (as the running app's has)
 * and every sweep period. Wall time runs from the timer firing to the scan's close.
 */
export async function functionsPath(options: BenchOptions, log: (line: string) => void): Promise<PathResult> {
  const { emulator, storage, endpoints, connectionString, direct } = await services(options);
  const children: Child[] = [emulator, storage];
  try {
    // Every instance that queries Log Analytics paces its share of the identity's rate: the workers and the timer's
    // instance, which runs the activity sweep.
    const baselineFile = writeBaseline(endpoints, options, options.workers + 1);
    const env = scannerEnvironment(endpoints, baselineFile, connectionString);
    const timer = Child.start("timer", "functions-timer", {}, env);
    const workers = Array.from({ length: options.workers }, (_, i) => Child.start(`worker-${i}`, "functions-worker", { name: `worker-${i}` }, env));
    children.push(timer, ...workers);
    await timer.next();
    await Promise.all(workers.map((w) => w.next()));
    const store = await ResultsStore.open({ connectionString });

    log(`functions path: ${options.targets} targets, ${options.workers} instances x ${hostConcurrency()} messages at once, activity sweep every ${options.sweepSeconds} s`);
    // The sweep runs on its own schedule and has read every workspace before the hourly scan, as in a running app;
    // without it every target's activity would be "not read yet". Its queries count in the path's; seeding the
    // routes goes straight to the storage, not through the pacing proxy's counts of the path.
    const estate = estateTargets(options);
    const activity = await ActivityStore.open({ connectionString: direct });
    await activity.saveRoutes(previousRoutes(estate));
    const warmSweep = await timer.ask<{ ran?: boolean; error?: string }>({ cmd: "sweep" });
    if (warmSweep.error) throw new Error(`the activity sweep failed: ${warmSweep.error}`);
    // What the services served before the clock starts (the warm sweep, the set-up) is not the path's.
    const { counts: countsBefore } = await emulator.ask<{ counts: Counts }>({ cmd: "counts" });
    const { stats: statsBefore } = await storage.ask<{ stats: PacingStats }>({ cmd: "stats" });
    const startedAt = Date.now();
    for (const w of workers) w.send({ cmd: "go" });
    const queued = await timer.ask<{ scanId?: string; queued: number; ms: number; error?: string }>({ cmd: "scan" });
    if (!queued.scanId) throw new Error(`the timer queued no scan: ${queued.error ?? "no scan id in its log"}`);
    log(`  timer: queued ${queued.queued} targets in ${(queued.ms / 1000).toFixed(1)} s`);
    const sweeps: Array<Promise<unknown>> = [];
    const sweeper = setInterval(() => sweeps.push(timer.ask({ cmd: "sweep" })), options.sweepSeconds * 1000);
    let run = await store.getRun(queued.scanId);
    let lastLog = Date.now();
    while (!run?.closed) {
      if (Date.now() - startedAt > options.timeoutSeconds * 1000) break;
      await new Promise((r) => setTimeout(r, 500));
      run = await store.getRun(queued.scanId);
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        const counters = await store.readCounters(queued.scanId).catch(() => undefined);
        log(`  ${((Date.now() - startedAt) / 1000).toFixed(0)} s: ${counters?.finished ?? "?"} of ${queued.queued} finished`);
      }
    }
    const wallSeconds = ((run?.finishedAt ? Date.parse(run.finishedAt) : Date.now()) - startedAt) / 1000;
    clearInterval(sweeper);
    await Promise.all(sweeps);
    const workerReports = await Promise.all(workers.map((w) => w.finish<ServiceReport & { name: string }>()));
    const timerReport = await timer.finish<ServiceReport>();
    const counts = countsSince((await emulator.ask<{ counts: Counts }>({ cmd: "counts" })).counts, countsBefore);
    const stats = statsSince((await storage.ask<{ stats: PacingStats }>({ cmd: "stats" })).stats, statsBefore);

    const targets = byKind();
    const remediated = byKind();
    const statuses: Record<string, number> = { ...(run?.counts ?? emptyCounts()) };
    const summary = run?.closed ? await store.getSummary(queued.scanId) : undefined;
    for (const cell of summary?.cells ?? []) {
      targets[cell.kind] += cell.targets;
      if (cell.status === "remediated") remediated[cell.kind] += cell.targets;
    }
    if (!run?.closed) {
      // Timed out: what the targets' progress rows say was finished, so the report shows how far it got.
      for (const key of Object.keys(statuses)) statuses[key] = 0;
      for await (const p of store.allProgress(queued.scanId)) {
        if (p.status === "pending" || p.status === "attempt-failed" || !p.kind) continue;
        targets[p.kind]++;
        if (p.status === "remediated") remediated[p.kind]++;
        statuses[p.status] = (statuses[p.status] ?? 0) + 1;
      }
    }
    if (run?.notScanned) statuses.notScanned = run.notScanned;

    // A fresh instance on the deployed bundle: its first invocation, then targets of each kind one at a time.
    const fresh = Child.start("fresh", "functions-fresh", {}, env);
    children.push(fresh);
    await fresh.next();
    const sample = sampleTargets(estate, options.cpuSamplePerKind + 1);
    const scanId = `bench-cpu-${Date.now()}`;
    await store.saveRun({ scanId, trigger: "timer", mode: options.mode, startedAt: new Date().toISOString(), expectedTargets: sample.length, counts: emptyCounts(), complete: false });
    await store.addPending(scanId, sample);
    const invoke = (id: string) => fresh.ask<{ ok: boolean; ms: number; cpuMs: number }>({ message: { version: 2, scanId, targetId: id } });
    const [first, ...rest] = sample;
    const firstInvocation = first ? await invoke(first.id) : undefined;
    const cpuByKind: Record<string, number[]> = {};
    const miRoundTrips: number[] = [];
    for (const t of rest) {
      const before = (await emulator.ask<{ counts: Counts }>({ cmd: "counts" })).counts.tdsRoundTrips;
      const r = await invoke(t.id);
      if (r.ok) (cpuByKind[t.kind] ??= []).push(r.cpuMs);
      if (r.ok && t.kind === "sql-managed-instance") miRoundTrips.push((await emulator.ask<{ counts: Counts }>({ cmd: "counts" })).counts.tdsRoundTrips - before);
    }
    // A compliant instance is one catalog read; the sample is mostly compliant (10% drift), so its fewest is one read.
    const tdsRoundTripsPerRead = miRoundTrips.length ? Math.min(...miRoundTrips) : undefined;
    measuredTdsRoundTripsPerRead = tdsRoundTripsPerRead;
    const freshReport = await fresh.finish<Footprints>();
    const emulatorReport = await emulator.finish<Footprints>();
    const storageReport = await storage.finish<Footprints>();
    const scanners: Record<string, ServiceReport> = { timer: timerReport, ...Object.fromEntries(workerReports.map((w) => [w.name, w])) };
    return finishPath(options, "functions", {
      wallSeconds,
      complete: run?.complete === true,
      statuses,
      targets,
      remediated,
      concurrency: options.workers * hostConcurrency(),
      scanners,
      perTargetQueries: sum(workerReports.map((w) => w.logAnalytics?.requests ?? 0)),
      counts,
      storage: stats,
      cpuByKind,
      others: { emulator: emulatorReport, storage: storageReport },
      extraRss: { fresh: freshReport.peakRssMb },
      firstInvocationMs: firstInvocation?.ms ?? null,
      ...(tdsRoundTripsPerRead ? { tdsRoundTripsPerRead } : {}),
    });
  } finally {
    for (const c of children) c.kill();
  }
}

/** The CLI path: runScan in one process at the CLI's concurrency, with the results store and events queue. */
export async function cliPath(options: BenchOptions, log: (line: string) => void): Promise<PathResult> {
  const { emulator, storage, endpoints, connectionString } = await services(options);
  const children: Child[] = [emulator, storage];
  try {
    const baselineFile = writeBaseline(endpoints, options, 1);
    const env = scannerEnvironment(endpoints, baselineFile, connectionString);
    const cli = Child.start("cli", "cli-child", { baselineFile, storage: connectionString, concurrency: options.cliConcurrency, samplePerKind: options.cpuSamplePerKind }, env);
    children.push(cli);
    await cli.next();
    log(`cli path: ${options.targets} targets at concurrency ${options.cliConcurrency}`);
    const { counts: countsBefore } = await emulator.ask<{ counts: Counts }>({ cmd: "counts" });
    const { stats: statsBefore } = await storage.ask<{ stats: PacingStats }>({ cmd: "stats" });
    type ScanAnswer = ServiceReport & { wallMs: number; counts: Record<string, number>; byKind: Record<string, Record<string, number>>; complete: boolean; notScanned: number };
    const scan = await cli.ask<ScanAnswer>({ cmd: "scan" });
    const counts = countsSince((await emulator.ask<{ counts: Counts }>({ cmd: "counts" })).counts, countsBefore);
    const stats = statsSince((await storage.ask<{ stats: PacingStats }>({ cmd: "stats" })).stats, statsBefore);
    const { cpuByKind } = await cli.ask<{ cpuByKind: Record<string, number[]> }>({ cmd: "sample" });
    const cliReport = await cli.finish<Footprints>();
    const emulatorReport = await emulator.finish<Footprints>();
    const storageReport = await storage.finish<Footprints>();
    const targets = byKind();
    const remediated = byKind();
    for (const kind of KINDS) {
      targets[kind] = sum(Object.values(scan.byKind[kind] ?? {}));
      remediated[kind] = scan.byKind[kind]?.remediated ?? 0;
    }
    return finishPath(options, "cli", {
      wallSeconds: scan.wallMs / 1000,
      complete: scan.complete,
      statuses: { ...scan.counts, ...(scan.notScanned ? { notScanned: scan.notScanned } : {}) },
      targets,
      remediated,
      concurrency: options.cliConcurrency,
      scanners: { cli: { ...scan, peakRssMb: Math.max(scan.peakRssMb, cliReport.peakRssMb) } },
      perTargetQueries: scan.logAnalytics?.requests ?? 0,
      counts,
      storage: stats,
      cpuByKind,
      others: { emulator: emulatorReport, storage: storageReport },
      extraRss: {},
      firstInvocationMs: null,
      ...(measuredTdsRoundTripsPerRead ? { tdsRoundTripsPerRead: measuredTdsRoundTripsPerRead } : {}),
    });
  } finally {
    for (const c of children) c.kill();
  }
}
