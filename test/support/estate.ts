import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator, StartEmulatorOptions } from "../../emulator/server.js";
import { startAzurite } from "../../emulator/storage/azurite.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";
import { ManagedIdentityCredential } from "@azure/identity";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import type { ScanEnvironment } from "../../src/scan/environment.js";

/** Points the App Service managed-identity endpoint at the emulator (ManagedIdentityCredential reads it when built). */
export function useEmulatorIdentity(emu: RunningEmulator): void {
  process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
  process.env.IDENTITY_HEADER = emu.identity.header;
}

/**
 * The scanner's environment on the emulated estate, as `auditguard emulator` writes its baseline, in enforce mode,
 * signed in through the emulator's managed identity.
 */
export function enforcingScanEnvironment(emu: RunningEmulator): ScanEnvironment {
  useEmulatorIdentity(emu);
  const generated = emulatorBaseline(emu, endpointsOf(emu));
  generated.mode = "enforce";
  return createScanEnvironment(loadBaselineText(JSON.stringify(generated), "b.json"), { credential: new ManagedIdentityCredential() });
}

/**
 * A test file's Azure: the emulator and Azurite, with the App Service managed-identity endpoint pointed at the
 * emulator (ManagedIdentityCredential reads IDENTITY_ENDPOINT and IDENTITY_HEADER when it is constructed).
 */
export async function startEstate(options: StartEmulatorOptions): Promise<{ emu: RunningEmulator; azurite: RunningAzurite }> {
  const emu = await startEmulator(options);
  let azurite: RunningAzurite;
  try {
    azurite = await startAzurite();
  } catch (error) {
    await emu.stop();
    throw error;
  }
  useEmulatorIdentity(emu);
  return { emu, azurite };
}

/** Stops what startEstate started (either may be missing when a `before` failed part-way). */
export async function stopEstate(emu: RunningEmulator | undefined, azurite: RunningAzurite | undefined): Promise<void> {
  await emu?.stop();
  await azurite?.stop();
}
