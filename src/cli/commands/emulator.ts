import { runEmulator } from "../../../emulator/cli.js";

/** `auditguard emulator`: the local Azure estate, until interrupted (a development tool, not deployed). */
export async function emulatorCommand(options: { fleet: string; writeEndpoints?: string; baselineOut?: string }): Promise<void> {
  const running = await runEmulator({
    fleetFile: options.fleet,
    ...(options.writeEndpoints ? { writeEndpoints: options.writeEndpoints } : {}),
    ...(options.baselineOut ? { baselineOut: options.baselineOut } : {}),
  });
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await running.emulator.stop();
}
