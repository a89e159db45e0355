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

// A scan that would read faster than ARM's bucket allows ("Understand how Azure Resource Manager throttles
// requests": 250 reads of burst, then 25 per second, per subscription and principal; the emulator enforces exactly
// that by default) is paced to it by the scanner and gets no 429.
const SERVERS = 170; // two reads each (diagnostic settings, auditing policy): 340 reads, 90 more than the burst
let emu: RunningEmulator;

before(async () => {
  const { fleet } = generateFleet({ seed: 4, subscriptions: 1, managedInstances: 0, sqlServers: SERVERS, driftRate: 0 });
  emu = await startEmulator({ fleet });
  process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
  process.env.IDENTITY_HEADER = emu.identity.header;
});

after(async () => {
  await emu?.stop();
});

it("a scan faster than the subscription's read bucket is paced to it: every target read, no 429", async () => {
  const baseline = loadBaselineText(JSON.stringify(emulatorBaseline(emu, endpointsOf(emu))), "baseline.json");
  const env = createScanEnvironment(baseline, { credential: new ManagedIdentityCredential() });
  const summary = await runScan(env, { trigger: "cli", concurrency: 32 });
  assert.equal(summary.results.length, SERVERS);
  assert.deepEqual(summary.counts, { compliant: SERVERS, remediated: 0, noncompliant: 0, exempt: 0, error: 0 });
  const stats = env.clients.context.throttle.stats;
  const [subscription] = emu.fleet.subscriptions;
  const reads = stats.byScope[subscription!.id.toLowerCase()]?.read ?? 0;
  assert.ok(reads > 250 + 25, `more reads than the burst and a second of refill: ${reads}`);
  assert.equal(stats.throttled, 0, "no 429 from ARM");
});
