// npm run bench: scans an emulated estate of N targets at concurrency C with azure-like latencies injected by
// the emulator (in its own process) and reports wall time against the ideal bound the latencies and C allow,
// ARM requests per target, peak memory, and the cost curve over several N.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { availableParallelism } from "node:os";
import { extname, join } from "node:path";
import { ManagedIdentityCredential } from "@azure/identity";
import { loadBaselineText } from "../src/core/policy/load.js";
import { createScanEnvironment } from "../src/scan/environment.js";
import { runScan } from "../src/scan/run-scan.js";

const ARM_MS = Number(process.env.BENCH_ARM_MS ?? 60);
const LA_MS = Number(process.env.BENCH_LA_MS ?? 120);
const TDS_MS = Number(process.env.BENCH_TDS_MS ?? 20);
const C = Number(process.env.BENCH_CONCURRENCY ?? 64);
const N = Number(process.env.BENCH_TARGETS ?? 2000);
const CURVE = (process.env.BENCH_CURVE ?? "250,1000,4000").split(",").map(Number).filter(Boolean);
// Run from the compiled dist/ (npm run bench builds first) so the scanner runs as JavaScript, as deployed; from
// source (node --import tsx bench/scan-bench.ts) the children load TypeScript through tsx too.
const LOADER = import.meta.filename.endsWith(".ts") ? ["--import", "tsx"] : [];
const EMULATOR_CHILD = join(import.meta.dirname, `emulator-child${extname(import.meta.filename)}`);
// BENCH_PROFILE_DIR: write a V8 CPU profile of the scanner and of the emulator there (open in Chrome DevTools).
const PROFILE = process.env.BENCH_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];

interface Endpoints {
  armUrl: string;
  logAnalyticsUrl: string;
  identity: { endpoint: string; header: string };
  caPem: string;
  caFile: string;
  scanner: { displayName: string };
  sql?: { host: string; port: number };
}

type Requests = { arm: number; logAnalytics: number; tdsLogins: number; tdsRequests: number };

interface Emulator {
  endpoints: Endpoints;
  /** Closes the emulator and returns the requests it served and the CPU it spent serving them. */
  stop(): Promise<{ requests: Requests; cpuMs: number }>;
}

async function startEmulatorProcess(targets: number): Promise<Emulator> {
  // A mix of the three kinds: 40% Managed Instances (over TDS), 35% SQL servers, 25% Synapse workspaces.
  const mis = Math.round(targets * 0.4);
  const servers = Math.round(targets * 0.35);
  const options = { seed: 3, subscriptions: 4, managedInstances: mis, sqlServers: servers, synapseWorkspaces: targets - mis - servers, driftRate: 0, liftLogAnalyticsRateLimit: true, faults: { seed: 3, latency: { arm: { kind: "fixed", ms: ARM_MS }, logAnalytics: { kind: "fixed", ms: LA_MS }, tds: { kind: "fixed", ms: TDS_MS } } } };
  const child = spawn(process.execPath, [...PROFILE, ...LOADER, EMULATOR_CHILD, JSON.stringify(options)], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const endpoints = JSON.parse(String((await lines.next()).value)) as Endpoints;
  return {
    endpoints,
    async stop() {
      child.stdin.end();
      const served = JSON.parse(String((await lines.next()).value)) as { requests: Requests; cpuMs: number };
      // Let it exit by itself (a CPU profile is written on exit); kill it only if it does not.
      if (child.exitCode === null) {
        const timer = setTimeout(() => child.kill(), 10_000);
        await new Promise((resolve) => child.once("exit", resolve));
        clearTimeout(timer);
      }
      return served;
    },
  };
}

/** Runs in the scanner's own process: the scan alone, against endpoints the parent's emulator serves. */
async function scanOnce(e: Endpoints) {
  let peakRss = 0;
  let atPeak = process.memoryUsage();
  // memoryUsage.rss() is cheap; the full breakdown walks the heap, so it is read only at a new peak.
  const sample = () => {
    const rss = process.memoryUsage.rss();
    if (rss > peakRss) [peakRss, atPeak] = [rss, process.env.BENCH_MEMORY ? process.memoryUsage() : atPeak];
  };
  const sampler = setInterval(sample, 50);
  const baseline = loadBaselineText(
    JSON.stringify({
      version: 1,
      mode: "plan",
      endpoints: { resourceManager: e.armUrl, logAnalytics: e.logAnalyticsUrl, ...(e.sql ? { sqlConnect: e.sql } : {}) },
      activity: { scannerPrincipals: [e.scanner.displayName] },
      // Log Analytics' 200-queries-per-30-s identity limit is lifted on both sides: it would make any large run
      // last N / 200 x 30 s whatever the scanner does, and the bench measures the scanner.
      scan: { concurrency: C, logAnalyticsRate: { requests: 100_000, windowSeconds: 1 } },
    }),
    "bench.json",
  );
  // The emulator's CA comes through NODE_EXTRA_CA_CERTS, the process trust store, as Azure's public roots do in
  // production: no per-connection CA option, so each TLS connection costs what it costs against Azure.
  const env = createScanEnvironment(baseline, { credential: new ManagedIdentityCredential() });
  await env.credential.getToken("https://management.azure.com/.default"); // token fetch is not part of the scan
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const summary = await runScan(env, { trigger: "cli", concurrency: C });
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  if (process.env.BENCH_HEAP_SNAPSHOT) (await import("node:v8")).writeHeapSnapshot(process.env.BENCH_HEAP_SNAPSHOT);
  clearInterval(sampler);
  sample();
  if (process.env.BENCH_MEMORY) console.error(JSON.stringify(atPeak));
  return { wallMs, scanned: summary.results.length, mis: summary.results.filter((r) => r.target.kind === "sql-managed-instance").length, errors: summary.counts.error, peakMb: peakRss / 1024 / 1024, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** Each measurement runs the emulator and the scanner in fresh processes: peak memory is the scanner's own. */
async function measure(targets: number) {
  const emulator = await startEmulatorProcess(targets);
  const e = emulator.endpoints;
  let scan: Awaited<ReturnType<typeof scanOnce>>;
  let served: { requests: Requests; cpuMs: number };
  try {
    const child = spawn(process.execPath, [...PROFILE, ...LOADER, import.meta.filename], {
      env: { ...process.env, BENCH_SCAN: JSON.stringify(e), NODE_EXTRA_CA_CERTS: e.caFile, IDENTITY_ENDPOINT: e.identity.endpoint, IDENTITY_HEADER: e.identity.header },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    const code = await new Promise((resolve) => child.on("close", resolve));
    if (code !== 0) throw new Error(`the scanner process exited with ${String(code)}`);
    scan = JSON.parse(out.trim().split("\n").at(-1)!) as typeof scan;
  } finally {
    served = await emulator.stop();
  }
  const inventoryPages = Math.ceil(targets / 1000);
  // Per target the scan reads in parallel: diagnostic settings and the auditing policy (one ARM latency) or, for
  // a Managed Instance, its T-SQL catalog (one TDS latency on login, one on the catalog batch); then the audit
  // activity (one Log Analytics latency). C targets run at once; inventory pages come first.
  const perTarget = Math.max(ARM_MS, 2 * TDS_MS) + LA_MS;
  const idealMs = inventoryPages * ARM_MS + Math.ceil(targets / C) * perTarget;
  const { requests } = served;
  // Both processes share this machine's cores: their CPU together, spread over every core, is a floor on the wall
  // time that no concurrency removes. Against Azure only the scanner's share is spent here.
  const cores = availableParallelism();
  const cpuFloorMs = (scan.cpuMs + served.cpuMs) / cores;
  return { targets, scanned: scan.scanned, wallMs: scan.wallMs, idealMs, ratio: scan.wallMs / idealMs, scannerCpuPerTarget: scan.cpuMs / scan.scanned, emulatorCpuPerTarget: served.cpuMs / scan.scanned, cpuFloorMs, cores, armPerTarget: (requests.arm - inventoryPages) / scan.scanned, laPerTarget: requests.logAnalytics / scan.scanned, tsqlPerInstance: scan.mis ? requests.tdsRequests / scan.mis : 0, peakMb: scan.peakMb, errors: scan.errors };
}

function line(r: Awaited<ReturnType<typeof measure>>): string {
  return `N=${String(r.targets).padStart(5)}  wall ${(r.wallMs / 1000).toFixed(2)} s  ideal ${(r.idealMs / 1000).toFixed(2)} s  ratio ${r.ratio.toFixed(3)}  ARM reads/target ${r.armPerTarget.toFixed(2)}  LA queries/target ${r.laPerTarget.toFixed(2)}  T-SQL round trips/instance ${r.tsqlPerInstance.toFixed(2)}  peak RSS ${r.peakMb.toFixed(0)} MB  errors ${r.errors}
         CPU per target: scanner ${r.scannerCpuPerTarget.toFixed(2)} ms, emulator ${r.emulatorCpuPerTarget.toFixed(2)} ms; both on ${r.cores} cores bound the wall time to >= ${(r.cpuFloorMs / 1000).toFixed(2)} s (ratio ${(Math.max(r.cpuFloorMs, r.idealMs) / r.idealMs).toFixed(2)} at best)`;
}

if (process.env.BENCH_SCAN) {
  process.stdout.write(`${JSON.stringify(await scanOnce(JSON.parse(process.env.BENCH_SCAN) as Endpoints))}\n`);
} else {
  console.log(`AuditGuard scan benchmark: C=${C}; fixed latencies injected by the emulator in its own process: ARM ${ARM_MS} ms, Log Analytics ${LA_MS} ms, TDS ${TDS_MS} ms per request`);
  console.log("Targets: 40% Managed Instances (TDS), 35% SQL servers, 25% Synapse workspaces, all compliant.");
  const main = await measure(N);
  console.log(line(main));
  console.log(`goals: ratio <= 1.15 ${main.ratio <= 1.15 ? "MET" : "NOT MET"}; <= 2 ARM reads per compliant target ${main.armPerTarget <= 2 ? "MET" : "NOT MET"}; < 300 MB ${main.peakMb < 300 ? "MET" : "NOT MET"}`);
  console.log("cost curve:");
  for (const n of CURVE) console.log(`  ${line(await measure(n))}`);
}
