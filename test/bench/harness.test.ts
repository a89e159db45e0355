import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The benchmark harness at a tiny size (BENCH_QUICK=1: 40 targets, 2 Functions instances), so it does not rot: both
// paths run to the end and the JSON has every field with sane values. Counts are checked, never times.
const KINDS = ["sql-managed-instance", "sql-server", "synapse-workspace"];
const TERMS = ["criticalPath", "armReadsPerSubscription", "armWritesPerSubscription", "armTenantReads", "resourceGraph", "logAnalyticsRate", "logAnalyticsConcurrency", "tablePartition", "tableAccount", "queue", "queueAccount", "singleThreadCpu"];

test("npm run bench at a tiny size writes every field of both paths", { timeout: 240_000 }, async () => {
  const file = join(mkdtempSync(join(tmpdir(), "bench-test-")), "bench.json");
  const child = spawn(process.execPath, [join(process.cwd(), "dist/bench/scan-bench.js")], { env: { ...process.env, BENCH_QUICK: "1", BENCH_JSON: file }, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  const code = await new Promise((resolve) => child.on("close", resolve));
  assert.equal(code, 0, out);
  const report = JSON.parse(readFileSync(file, "utf8")) as { paths: Record<string, Record<string, unknown>>; goals: Array<{ goal: string; met: boolean | null }> };
  assert.deepEqual(Object.keys(report.paths).sort(), ["cli", "functions"]);
  for (const [name, p] of Object.entries(report.paths)) {
    const n = (key: string) => p[key] as number;
    assert.equal(n("targets"), 40, name);
    assert.equal(p.complete, true, `${name} finished every target`);
    assert.equal(Object.values(p.statuses as Record<string, number>).reduce((a, b) => a + b, 0), 40, `${name}: one status per target`);
    for (const key of ["wallSeconds", "boundSeconds", "ratio", "storeOpsPerTarget", "peakRssMb"]) assert.ok(Number.isFinite(n(key)) && n(key) > 0, `${name}.${key} = ${n(key)}`);
    assert.ok(n("armReadsPerTarget") >= 1, `${name}: every target is read from ARM`);
    const armRequests = p.armRequests as { counted: number; served: number };
    assert.ok(armRequests.served > 0 && armRequests.counted === armRequests.served, `${name}: the scanner's ARM count is what the emulator served (${JSON.stringify(armRequests)})`);
    assert.ok(n("tdsRoundTripsPerManagedInstance") >= 5, `${name}: a catalog read is at least five TDS round trips (handshake, session settings, catalog)`);
    assert.ok(Number.isInteger(n("throttled")) && n("throttled") === 0, `${name}: nothing throttled at this size`);
    const bound = p.bound as Record<string, number>;
    assert.deepEqual(Object.keys(bound).sort(), [...TERMS].sort());
    for (const term of TERMS) assert.ok(Number.isFinite(bound[term]) && bound[term]! >= 0, `${name}.bound.${term}`);
    assert.ok(TERMS.includes(p.boundBy as string));
    const cpu = p.scannerCpuMsPerTarget as Record<string, number>;
    for (const kind of [...KINDS, "allKindsInTheRun"]) assert.ok(cpu[kind]! > 0, `${name}: CPU of ${kind}`);
    assert.ok(Object.keys(p.peakRssMbByProcess as object).length >= 1);
  }
  const f = report.paths.functions!;
  const c = report.paths.cli!;
  // The estate has no faults: every target is decided, and both paths judge the same estate alike (the Functions
  // path's activity comes from the sweep, which has read every workspace before the scan, as in a running app).
  assert.equal((f.statuses as Record<string, number>).error, 0, JSON.stringify(f.statuses));
  assert.deepEqual(f.statuses, c.statuses);
  // Issue 14: no target queries Log Analytics. The Functions workers take the sweep's verdicts (the warm sweep ran
  // before the clock, and the next is 300 s away); the CLI reads each of the 3 workspaces once for the whole run (a
  // records query and at most a silence query each), whatever the number of targets.
  assert.equal(f.logAnalyticsQueriesPerTarget, 0);
  const cliQueries = (c.logAnalyticsQueriesPerTarget as number) * 40;
  assert.ok(cliQueries >= 3 && cliQueries <= 8, `CLI: ${cliQueries} Log Analytics queries for 40 targets over 3 workspaces`);
  assert.ok((f.armReadsPerTarget as number) >= (c.armReadsPerTarget as number) + 0.9, "the worker resolves each target through ARM first");
  assert.deepEqual(Object.keys(f.peakRssMbByProcess as object).sort(), ["fresh", "timer", "worker-0", "worker-1"]);
  assert.deepEqual(Object.keys(c.peakRssMbByProcess as object), ["cli"]);
  assert.ok((f.firstInvocationMs as number) > 0);
  assert.equal(c.firstInvocationMs, null);
  assert.ok(report.goals.length >= 10 && report.goals.every((g) => g.met === null || typeof g.met === "boolean"));
  assert.match(out, /Functions path .* 40 targets in/);
});
