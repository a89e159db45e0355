import type { TargetKind } from "../src/core/domain.js";
import type { BenchOptions } from "./options.js";
import type { PathResult } from "./paths.js";

/** Issue 15's goals, each reported as met or not, with the number that decides it and, where missed, why. */
export interface Goal {
  goal: string;
  met: boolean | null;
  value: string;
  note?: string;
}

const KIND_NAMES: Record<TargetKind, string> = { "sql-managed-instance": "Managed Instance", "sql-server": "SQL server", "synapse-workspace": "Synapse workspace" };
const s = (n: number) => `${n.toFixed(1)} s`;
const ms = (n: number | null) => (n === null ? "n/a" : `${n.toFixed(2)} ms`);
const TERMS: Record<string, string> = {
  criticalPath: "critical path / concurrency",
  armReadsPerSubscription: "ARM reads per subscription (250, then 25/s)",
  armWritesPerSubscription: "ARM writes per subscription (200, then 10/s)",
  armTenantReads: "ARM tenant-level reads",
  resourceGraph: "Resource Graph (15 per 5 s)",
  logAnalyticsRate: "Log Analytics rate (200 per 30 s)",
  logAnalyticsConcurrency: "Log Analytics concurrency (5)",
  tablePartition: "Table storage partition (2,000 entities/s)",
  tableAccount: "Table storage account (20,000/s)",
  queue: "Queue storage queue (2,000 messages/s)",
  queueAccount: "Queue storage account (20,000/s)",
  singleThreadCpu: "busiest main thread's CPU",
};

/**
 * The scanner's ARM count and the emulator's agree to 0.5%: a request given up on the client's side (its deadline
 * passed before it was sent, a socket reset before the emulator read it) is counted by one side only, a handful in
 * tens of thousands; more than that means one of the two counts something else.
 */
export const armCountsAgree = ({ counted, served }: { counted: number; served: number }) => served > 0 && Math.abs(counted - served) <= 0.005 * served;

export function describePath(r: PathResult): string[] {
  const title = r.path === "functions" ? `Functions path (timer, then instances taking ${r.concurrency} messages at once in all)` : `CLI path (runScan at concurrency ${r.concurrency})`;
  const lines = [
    `${title}: ${r.targets} targets in ${s(r.wallSeconds)}${r.complete ? "" : " (INCOMPLETE)"}; bound ${s(r.boundSeconds)} (${TERMS[r.boundBy] ?? r.boundBy}); ratio ${r.ratio.toFixed(2)}`,
    `  bound terms: ${Object.entries(r.bound).map(([k, v]) => `${TERMS[k] ?? k} ${s(v)}`).join("; ")}`,
    `  this machine's CPU floor (every process, emulator and storage included, over its cores; not in the bound): ${s(r.machineCpuFloorSeconds)}; of it the stand-ins for Azure: emulator ${s(r.serviceCpuSeconds.emulator)}, Azurite and the pacing proxy ${s(r.serviceCpuSeconds.storage)} (one thread)`,
    `  statuses: ${Object.entries(r.statuses).map(([k, v]) => `${k} ${v}`).join(", ")}`,
    `  per target: ARM reads ${r.armReadsPerTarget.toFixed(2)}, Log Analytics queries ${r.logAnalyticsQueriesPerTarget.toFixed(3)}, store requests ${r.storeOpsPerTarget.toFixed(1)}; TDS round trips per Managed Instance ${r.tdsRoundTripsPerManagedInstance.toFixed(1)}`,
    `  ARM requests: ${r.armRequests.counted} counted by the scanner, ${r.armRequests.served} served by the emulator${armCountsAgree(r.armRequests) ? "" : " (MISMATCH: the per-target figures are not to be trusted)"}`,
    `  throttled (429): ${r.throttled} (ARM ${r.throttledBy.arm}, Log Analytics ${r.throttledBy.logAnalytics}); storage 503 ServerBusy (retried): ${r.storageServerBusy}`,
    `  scanner CPU per target, one at a time: ${(Object.keys(KIND_NAMES) as TargetKind[]).map((k) => `${KIND_NAMES[k]} ${ms(r.scannerCpuMsPerTarget[k])}`).join(", ")}; every kind in the run: ${ms(r.scannerCpuMsPerTarget.allKindsInTheRun)}`,
    `  peak RSS: ${r.peakRssMb.toFixed(0)} MB (${Object.entries(r.peakRssMbByProcess).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", ")})`,
  ];
  if (r.firstInvocationMs !== null) lines.push(`  first invocation of a fresh instance on the bundle (scanner chunk loaded, services built): ${r.firstInvocationMs.toFixed(0)} ms`);
  return lines;
}

export function goals(options: BenchOptions, paths: Partial<Record<"functions" | "cli", PathResult>>): Goal[] {
  const out: Goal[] = [];
  const f = paths.functions;
  const at10k = options.targets >= 10_000;
  if (f) {
    out.push({ goal: "Functions path: 10,000 targets within 3 minutes", met: at10k ? f.complete && f.wallSeconds <= 180 : null, value: `${s(f.wallSeconds)} for ${f.targets}`, ...(at10k ? {} : { note: "not run at 10,000 targets" }) });
    out.push({ goal: "Functions path within 1.15 x its bound", met: f.complete && f.ratio <= 1.15, value: `ratio ${f.ratio.toFixed(2)} (bound: ${TERMS[f.boundBy] ?? f.boundBy})` });
  }
  for (const r of Object.values(paths)) {
    const name = r.path === "functions" ? "Functions" : "CLI";
    // A figure per target decides nothing when the path did not finish its targets (or counted none of them), nor
    // when the scanner's ARM count disagrees with what the emulator served.
    const undecided = !r.complete || r.targets === 0 ? `the path did not finish (${r.targets} targets counted)` : undefined;
    const armUndecided = undecided ?? (!armCountsAgree(r.armRequests) ? `the scanner counted ${r.armRequests.counted} ARM requests, the emulator served ${r.armRequests.served}` : undefined);
    const perTarget = (goal: string, met: boolean, value: string, why = undecided): Goal => ({ goal, met: why ? null : met, value, ...(why ? { note: why } : {}) });
    out.push(perTarget(`${name}: at most 0.01 Log Analytics queries per target`, r.logAnalyticsQueriesPerTarget <= 0.01, r.logAnalyticsQueriesPerTarget.toFixed(3)));
    out.push(perTarget(`${name}: at most 1.1 ARM reads per target`, r.armReadsPerTarget <= 1.1, r.armReadsPerTarget.toFixed(2), armUndecided));
    out.push({ goal: `${name}: 0 throttled`, met: r.throttled === 0, value: String(r.throttled) });
    const mi = r.scannerCpuMsPerTarget["sql-managed-instance"];
    const armOnlySamples = [r.scannerCpuMsPerTarget["sql-server"], r.scannerCpuMsPerTarget["synapse-workspace"]].filter((v): v is number => v !== null);
    const armOnly = armOnlySamples.length ? Math.max(...armOnlySamples) : null;
    const unsampled = "no target of the kind was sampled (BENCH_CPU_SAMPLE)";
    out.push({ goal: `${name}: scanner CPU at most 2.5 ms per Managed Instance`, met: mi === null ? null : mi <= 2.5, value: ms(mi), ...(mi === null ? { note: unsampled } : {}) });
    out.push({ goal: `${name}: scanner CPU at most 1 ms per ARM-only target`, met: armOnly === null ? null : armOnly <= 1, value: ms(armOnly), ...(armOnly === null ? { note: unsampled } : {}) });
    out.push({
      goal: `${name}: peak RSS under 300 MB at 50,000 targets`,
      met: options.targets >= 50_000 ? r.peakRssMb < 300 : null,
      value: `${r.peakRssMb.toFixed(0)} MB at ${r.targets}`,
      ...(options.targets >= 50_000 ? {} : { note: "not run at 50,000 targets (BENCH_TARGETS=50000 for that run)" }),
    });
  }
  return out;
}

export const describeGoal = (g: Goal) => `  ${g.met === null ? "NOT MEASURED" : g.met ? "MET" : "NOT MET"}: ${g.goal}: ${g.value}${g.note ? ` (${g.note})` : ""}`;
