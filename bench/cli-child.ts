// The CLI path in its own process: runScan on the baseline file, with the results store and the events queue (as
// `npm start` runs it), at the CLI's concurrency; then targets of each kind scanned one at a time, each with the
// CPU it took, for the CPU per target by kind.
import { readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { loadBaselineText } from "../src/core/policy/load.js";
import { createScanEnvironment } from "../src/scan/environment.js";
import { previousResult, runScan, toStoredResult } from "../src/scan/run-scan.js";
import { scanTarget } from "../src/scan/scan-target.js";
import { storeLock } from "../src/scan/lease.js";
import { ResultsStore } from "../src/azure/results-store.js";
import { JsonQueue } from "../src/azure/queues.js";
import type { Target, TargetKind } from "../src/core/domain.js";
import { answer, childArgument, commands, Footprint } from "./child.js";

const { baselineFile, storage, concurrency, samplePerKind } = childArgument<{ baselineFile: string; storage: string; concurrency: number; samplePerKind: number }>();
const footprint = new Footprint();
const baseline = loadBaselineText(readFileSync(baselineFile, "utf8"), baselineFile);
const env = createScanEnvironment(baseline);
const store = await ResultsStore.open({ connectionString: storage });
const events = JsonQueue.connect({ connectionString: storage }, "auditguard-events");
answer({ ready: true });

const context = env.clients.context;
const stats = () => ({
  storeRequests: store.stats.requests,
  arm: structuredClone(context.throttle.stats),
  logAnalytics: { requests: context.logsRateLimit?.stats.requests ?? 0, throttled: context.logsRateLimit?.stats.throttled ?? 0 },
});
let targets: Target[] = [];
for await (const command of commands<{ cmd: "scan" | "sample" }>()) {
  if (command.cmd === "scan") {
    footprint.resetCpu();
    const started = performance.now();
    const summary = await runScan(env, { trigger: "cli", concurrency, store, events });
    const wallMs = performance.now() - started;
    const byKind: Record<string, Record<string, number>> = {};
    for (const r of summary.results) {
      const counts = (byKind[r.target.kind] ??= {});
      counts[r.status] = (counts[r.status] ?? 0) + 1;
    }
    targets = summary.results.map((r) => r.target);
    answer({ wallMs, counts: summary.counts, byKind, complete: summary.complete, notScanned: summary.notScanned.length, deliveryErrors: summary.deliveryErrors.length, ...stats(), ...footprint.report() });
    continue;
  }
  // One at a time, as runScan does each target (scan, store the result), once the scan warmed everything up.
  const cpuByKind: Record<string, number[]> = {};
  const sample = new Map<TargetKind, Target[]>();
  for (const target of targets) {
    const list = sample.get(target.kind) ?? [];
    if (list.length < samplePerKind) sample.set(target.kind, [...list, target]);
  }
  const scanId = `bench-cpu-${randomUUID().slice(0, 8)}`;
  const startedAt = new Date().toISOString();
  for (const [kind, list] of sample) {
    for (const target of list) {
      const cpu = process.cpuUsage();
      const result = await scanTarget(env, target, { scanId, lock: storeLock(store, `${scanId}/${randomUUID()}`), previous: previousResult(store, target) });
      await store.saveResult(toStoredResult(result, startedAt));
      const used = process.cpuUsage(cpu);
      (cpuByKind[kind] ??= []).push((used.user + used.system) / 1000);
    }
  }
  answer({ cpuByKind });
}
answer(footprint.report());
process.exit(0);
