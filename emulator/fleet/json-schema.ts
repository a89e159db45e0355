import { z } from "zod";
import { fleetSchema } from "./schema.js";

/**
 * The fleet file's JSON Schema for editors (yaml-language-server: $schema=...), generated from the zod schema.
 * emulator/fleets/fleet.schema.json is this output; `npm run schemas` regenerates it with the others.
 */
export function fleetJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(fleetSchema, { io: "input", unrepresentable: "any" }),
    title: "AuditGuard emulator fleet",
  } as Record<string, unknown>;
}

