import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { DefaultAzureCredential } from "@azure/identity";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import { runScan } from "../../src/scan/run-scan.js";
import { InventoryError } from "../../src/azure/errors.js";

// The emulated estate with its baseline, but without the identity variables (a workstation, a pipeline whose
// login step failed): the scan must end as "could not read the inventory", never as "0 targets, 0 compliant".
// In a process of its own: MSAL remembers which managed identity source it found for the whole process.
const SUB = "11111111-1111-4111-8111-111111111111";
const RO_SUB = "22222222-2222-4222-8222-222222222222";
let emu: RunningEmulator;

before(async () => {
  emu = await startEmulator({ fleetFile: shippedFleet("test-small.yaml") });
  for (const name of ["IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"]) delete process.env[name];
});
after(() => emu?.stop());

it("a scan that cannot sign in ends with InventoryError naming Resource Graph and every subscription in scope", async () => {
  const generated = emulatorBaseline(emu, endpointsOf(emu)) as Record<string, unknown> & { scope: Record<string, unknown> };
  generated.scope = { ...generated.scope, subscriptions: [SUB, RO_SUB] };
  // DefaultAzureCredential as production builds it; nothing in its chain can sign in here.
  const env = createScanEnvironment(loadBaselineText(JSON.stringify(generated), "b.json"), { credential: new DefaultAzureCredential() });
  await assert.rejects(runScan(env, { trigger: "cli" }), (e: unknown) => {
    assert.ok(e instanceof InventoryError, String(e));
    assert.match(e.unreadable[0]!, /^Resource Graph: (CredentialUnavailableError|AggregateAuthenticationError)/);
    assert.deepEqual(e.unreadable.slice(1).map((u) => u.split(":")[0]), [`subscription ${SUB}`, `subscription ${RO_SUB}`]);
    return true;
  });
});
