import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator, StartEmulatorOptions } from "../../emulator/server.js";
import { startAzurite } from "../../emulator/storage/azurite.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";

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
  process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
  process.env.IDENTITY_HEADER = emu.identity.header;
  return { emu, azurite };
}

/** Stops what startEstate started (either may be missing when a `before` failed part-way). */
export async function stopEstate(emu: RunningEmulator | undefined, azurite: RunningAzurite | undefined): Promise<void> {
  await emu?.stop();
  await azurite?.stop();
}
