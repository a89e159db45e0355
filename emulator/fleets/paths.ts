import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** The path of a fleet shipped in emulator/fleets, from source (tsx) or from the compiled dist/ tree alike. */
export function shippedFleet(name: string): string {
  for (const candidate of [join(here, name), join(here, "..", "..", "..", "emulator", "fleets", name)]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`fleet ${name} not found next to ${here}`);
}
