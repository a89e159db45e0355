import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { ManagedIdentityCredential } from "@azure/identity";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { generateFleet } from "../../emulator/fleet/generate.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import { runScan } from "../../src/scan/run-scan.js";

// Log Analytics answers 200 queries per 30 s per identity; here the emulator enforces a scaled-down 5 per 2 s so
// the test stays short. A scanner told the limit stays inside it; one that is not (another process spending the
// same identity's quota) meets 429s, pauses on their Retry-After, and still reads every target's activity.
const TARGETS = 14;
let emu: RunningEmulator;

before(async () => {
  const { fleet } = generateFleet({ seed: 21, subscriptions: 1, managedInstances: 0, sqlServers: TARGETS, synapseWorkspaces: 0, driftRate: 0 });
  fleet.logAnalyticsRateLimit = { requests: 5, windowSeconds: 2 };
  emu = await startEmulator({ fleet });
  process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
  process.env.IDENTITY_HEADER = emu.identity.header;
});
after(() => emu?.stop());

async function scanWith(rate: { requests: number; windowSeconds: number }) {
  const generated = emulatorBaseline(emu, endpointsOf(emu)) as Record<string, unknown> & { scan?: Record<string, unknown> };
  generated.mode = "plan";
  generated.scan = { ...(generated.scan ?? {}), logAnalyticsRate: rate };
  const env = createScanEnvironment(loadBaselineText(JSON.stringify(generated), "b.json"), { credential: new ManagedIdentityCredential() });
  const summary = await runScan(env, { trigger: "cli", concurrency: 8 });
  return { summary, stats: env.clients.context.logsRateLimit!.stats };
}

function assertEveryActivityRead(summary: Awaited<ReturnType<typeof scanWith>>["summary"]) {
  assert.equal(summary.results.length, TARGETS);
  const failed = summary.results.filter((r) => r.status === "error" || r.findings.some((f) => f.ruleId.startsWith("activity.") && f.status === "error"));
  assert.deepEqual(failed.map((r) => `${r.target.name}: ${r.reason ?? ""}`), []);
  assert.ok(summary.results.every((r) => r.activityWindow), "every target's activity was read");
}

it("a scanner that knows the limit stays inside it: paced, never throttled", async () => {
  const { summary, stats } = await scanWith({ requests: 5, windowSeconds: 2 });
  assertEveryActivityRead(summary);
  assert.equal(stats.throttled, 0);
  assert.ok(stats.waitedMs > 0, "queries beyond five in two seconds waited");
});

it("a scanner that overshoots is throttled, pauses on Retry-After, and still reads every target", async () => {
  // Let the quota window of the previous scan run out first.
  await new Promise((r) => setTimeout(r, 2100));
  const { summary, stats } = await scanWith({ requests: 1000, windowSeconds: 1 });
  assertEveryActivityRead(summary);
  assert.ok(stats.throttled > 0, "the emulator enforced its quota");
});
