// npm run bench: the Functions path (the timer, then scaled-out instances taking the queue as the Functions host
// does) and the CLI path (runScan) on an emulated estate under Azure's limits, each against the emulator and Azurite
// (behind Table and Queue storage's pacing) in processes of their own; wall time against the bound the estate,
// the latencies and the limits allow, requests per target, throttling, CPU and memory. BENCH_JSON=<file> writes
// the report as JSON. Options: bench/options.ts (BENCH_TARGETS, BENCH_WORKERS, BENCH_ARM_MS, ...; BENCH_QUICK=1).
import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { benchOptions } from "./options.js";
import { cliPath, functionsPath } from "./paths.js";
import type { PathResult } from "./paths.js";
import { describeGoal, describePath, goals } from "./report.js";

const options = benchOptions();
const log = (line: string) => console.log(line);
const { armMs, logAnalyticsMs, tdsMs, sigma } = options.latency;
log(
  `AuditGuard benchmark: ${options.targets} targets (40% Managed Instances, 35% SQL servers, 25% Synapse workspaces) over ${options.subscriptions} subscriptions and ${options.workspaces} Log Analytics workspaces, ${Math.round(options.driftRate * 100)}% drifted, ${options.mode} mode`,
);
log(
  `latencies lognormal (sigma ${sigma}), medians: ARM ${armMs} ms, Log Analytics ${logAnalyticsMs} ms, TDS ${tdsMs} ms per round trip; ${options.liftLogAnalytics ? "every service limit enforced but Log Analytics' (BENCH_LIFT_LOG_ANALYTICS: a diagnostic run, not the benchmark)" : "every service limit enforced"}; ${availableParallelism()} cores`,
);

const paths: Partial<Record<"functions" | "cli", PathResult>> = {};
for (const path of options.paths) paths[path] = path === "functions" ? await functionsPath(options, log) : await cliPath(options, log);
for (const r of Object.values(paths)) for (const line of describePath(r)) log(line);
const results = goals(options, paths);
log("goals:");
for (const g of results) log(describeGoal(g));
if (options.jsonFile) {
  const { jsonFile: _file, ...settings } = options;
  writeFileSync(options.jsonFile, `${JSON.stringify({ machine: { cores: availableParallelism(), node: process.version }, options: settings, paths, goals: results }, null, 2)}\n`);
}
