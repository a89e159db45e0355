// npm run bench: scans an emulated estate of N targets at concurrency C with azure-like latencies injected by
// the emulator (in its own process) and reports wall time against the ideal bound the latencies and C allow,
// ARM requests per target, peak memory, and the cost curve over several N.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
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

async function withEmulator<T>(targets: number, run: (e: Endpoints) => Promise<T>): Promise<{ value: T; requests: Requests }> {
  // A mix of the three kinds: 40% Managed Instances (over TDS), 35% SQL servers, 25% Synapse workspaces.
  const mis = Math.round(targets * 0.4);
  const servers = Math.round(targets * 0.35);
  const options = { seed: 3, subscriptions: 4, managedInstances: mis, sqlServers: servers, synapseWorkspaces: targets - mis - servers, driftRate: 0, faults: { seed: 3, latency: { arm: { kind: "fixed", ms: ARM_MS }, logAnalytics: { kind: "fixed", ms: LA_MS }, tds: { kind: "fixed", ms: TDS_MS } } } };
  const child = spawn(process.execPath, [...PROFILE, "--import", "tsx", join(import.meta.dirname, "emulator-child.ts"), JSON.stringify(options)], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const endpoints = JSON.parse(String((await lines.next()).value)) as Endpoints;
  try {
    const value = await run(endpoints);
    child.stdin!.end();
    const { requests } = JSON.parse(String((await lines.next()).value)) as { requests: Requests };
    return { value, requests };
  } finally {
    // Let it exit by itself (a CPU profile is written on exit); kill it only if it does not.
    if (child.exitCode === null) {
      const timer = setTimeout(() => child.kill(), 10_000);
      await new Promise((resolve) => child.once("exit", resolve));
      clearTimeout(timer);
    }
  }
}

async function scanOnce(targets: number) {
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const { value, requests } = await withEmulator(targets, async (e) => {
    process.env.IDENTITY_ENDPOINT = e.identity.endpoint;
    process.env.IDENTITY_HEADER = e.identity.header;
    const baseline = loadBaselineText(
      JSON.stringify({
        version: 1,
        mode: "plan",
        endpoints: { resourceManager: e.armUrl, logAnalytics: e.logAnalyticsUrl, ...(e.sql ? { sqlConnect: e.sql } : {}) },
        activity: { scannerPrincipals: [e.scanner.displayName] },
        scan: { concurrency: C },
      }),
      "bench.json",
    );
    const env = createScanEnvironment(baseline, { credential: new ManagedIdentityCredential(), caPem: e.caPem });
    await env.credential.getToken("https://management.azure.com/.default"); // token fetch is not part of the scan
    const started = performance.now();
    const summary = await runScan(env, { trigger: "cli", concurrency: C });
    return { wallMs: performance.now() - started, summary, throttle: env.clients.context.throttle.stats };
  });
  clearInterval(sampler);
  const scanned = value.summary.results.length;
  const inventoryPages = Math.ceil(targets / 1000);
  // Per target the scan reads in parallel: diagnostic settings and the auditing policy (one ARM latency) or, for
  // a Managed Instance, its T-SQL catalog (one TDS latency on login, one on the catalog batch); then the audit
  // activity (one Log Analytics latency). C targets run at once; inventory pages come first.
  const perTarget = Math.max(ARM_MS, 2 * TDS_MS) + LA_MS;
  const idealMs = inventoryPages * ARM_MS + Math.ceil(targets / C) * perTarget;
  const mis = value.summary.results.filter((r) => r.target.kind === "sql-managed-instance").length;
  return { targets, scanned, wallMs: value.wallMs, idealMs, ratio: value.wallMs / idealMs, armPerTarget: (requests.arm - inventoryPages) / scanned, laPerTarget: requests.logAnalytics / scanned, tsqlPerInstance: mis ? requests.tdsRequests / mis : 0, peakMb: peakRss / 1024 / 1024, errors: value.summary.counts.error };
}

function line(r: Awaited<ReturnType<typeof scanOnce>>): string {
  return `N=${String(r.targets).padStart(5)}  wall ${(r.wallMs / 1000).toFixed(2)} s  ideal ${(r.idealMs / 1000).toFixed(2)} s  ratio ${r.ratio.toFixed(3)}  ARM reads/target ${r.armPerTarget.toFixed(2)}  LA queries/target ${r.laPerTarget.toFixed(2)}  T-SQL round trips/instance ${r.tsqlPerInstance.toFixed(2)}  peak RSS ${r.peakMb.toFixed(0)} MB  errors ${r.errors}`;
}

/** Each measurement runs in a fresh process: peak memory is its own, and no token cache outlives its emulator. */
async function measure(targets: number): Promise<Awaited<ReturnType<typeof scanOnce>>> {
  const child = spawn(process.execPath, [...PROFILE, "--import", "tsx", import.meta.filename], { env: { ...process.env, BENCH_SINGLE: String(targets) }, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  await new Promise((resolve) => child.on("close", resolve));
  return JSON.parse(out.trim().split("\n").at(-1)!) as Awaited<ReturnType<typeof scanOnce>>;
}

if (process.env.BENCH_SINGLE) {
  process.stdout.write(`${JSON.stringify(await scanOnce(Number(process.env.BENCH_SINGLE)))}\n`);
} else {
  console.log(`AuditGuard scan benchmark: C=${C}; fixed latencies injected by the emulator in its own process: ARM ${ARM_MS} ms, Log Analytics ${LA_MS} ms, TDS ${TDS_MS} ms per request`);
  console.log("Targets: 40% Managed Instances (TDS), 35% SQL servers, 25% Synapse workspaces, all compliant.");
  const main = await measure(N);
  console.log(line(main));
  console.log(`goals: ratio <= 1.15 ${main.ratio <= 1.15 ? "MET" : "NOT MET"}; <= 2 ARM reads per compliant target ${main.armPerTarget <= 2 ? "MET" : "NOT MET"}; < 300 MB ${main.peakMb < 300 ? "MET" : "NOT MET"}`);
  console.log("cost curve:");
  for (const n of CURVE) console.log(`  ${line(await measure(n))}`);
}
