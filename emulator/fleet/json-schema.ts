import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { fleetSchema } from "./schema.js";

/**
 * The fleet file's JSON Schema for editors (yaml-language-server: $schema=...), generated from the zod schema.
 * emulator/fleets/fleet.schema.json is this output; regenerate with
 * `node --import tsx emulator/fleet/json-schema.ts emulator/fleets/fleet.schema.json`.
 */
export function fleetJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(fleetSchema, { io: "input", unrepresentable: "any" }),
    title: "AuditGuard emulator fleet",
  } as Record<string, unknown>;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2]) {
  writeFileSync(process.argv[2], `${JSON.stringify(fleetJsonSchema(), null, 2)}\n`);
}
