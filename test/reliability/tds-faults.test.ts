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

// Seeded TDS faults: 5% of requests drop the connection, 2% of logins are refused with a transient error, and
// one instance accepts connections but never answers. Every instance ends with a definite status, the hanging
// one as an error that says why, transient faults are retried, and nothing is applied twice.
const SEED = Number(process.env.FAULT_SEED ?? 5);
let emu: RunningEmulator;
let hanging = "";

before(async () => {
  const { fleet } = generateFleet({ seed: SEED, subscriptions: 1, managedInstances: 24, sqlServers: 0, synapseWorkspaces: 0, driftRate: 0.6 });
  const names = (fleet).subscriptions.flatMap((s) => s.resourceGroups!.flatMap((g) => (g.managedInstances ?? []).map((m) => m.name)));
  hanging = names[3]!;
  (fleet).faults = { seed: SEED, hanging: [hanging], tds: { dropConnectionRate: 0.05, refuseLoginRate: 0.02 } };
  emu = await startEmulator({ fleet });
});
after(() => emu?.stop());

it(`every Managed Instance ends with a definite status under TDS faults (seed ${SEED})`, async () => {
  process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
  process.env.IDENTITY_HEADER = emu.identity.header;
  const generated = emulatorBaseline(emu, endpointsOf(emu));
  generated.mode = "enforce";
  // The budget covers every call of a target (login, catalog, ARM, Log Analytics): room for all of them on a busy machine.
  generated.scan = { targetTimeoutSeconds: 5, concurrency: 8 };
  const env = createScanEnvironment(loadBaselineText(JSON.stringify(generated), "b.json"), { credential: new ManagedIdentityCredential() });

  const first = await runScan(env, { trigger: "cli" });
  assert.equal(first.notScanned.length, 0);
  assert.equal(first.results.length, 24);
  for (const r of first.results) {
    assert.ok(["compliant", "remediated", "noncompliant", "exempt", "error"].includes(r.status));
    assert.equal(new Set(r.applied.map((a) => a.description)).size, r.applied.length, `${r.target.name}: no change applied twice`);
  }
  const hung = first.results.find((r) => r.target.name === hanging)!;
  assert.equal(hung.status, "error");
  assert.match(hung.reason ?? "", /could not read the instance's server audits: .*(timeout|Timeout|ETIMEOUT)/);
  const otherErrors = first.results.filter((r) => r.status === "error" && r.target.name !== hanging);
  assert.ok(otherErrors.length <= 2, `transient faults were retried: ${otherErrors.map((r) => `${r.target.name}: ${r.reason}`).join(" | ")}`);

  const second = await runScan(env, { trigger: "cli" });
  const fixedBefore = new Set(first.results.filter((r) => r.status === "remediated").map((r) => r.target.id));
  assert.deepEqual(second.results.filter((r) => fixedBefore.has(r.target.id) && r.applied.length).map((r) => r.target.name), [], "what was fixed is not fixed again");
});
