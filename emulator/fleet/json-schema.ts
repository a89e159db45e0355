import { z } from "zod";
import { miStateSchema } from "../mi/state-schema.js";
import { fleetSchema } from "./schema.js";

/**
 * The fleet file's JSON Schema for editors (yaml-language-server: $schema=...), generated from the zod schema.
 * emulator/fleets/fleet.schema.json is this output; `npm run schemas` regenerates it with the others.
 * A Managed Instance's `sql:` block is validated by emulator/mi/state-schema.ts when the fleet loads; its JSON
 * Schema is put in place here so editors check it too.
 */
export function fleetJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(fleetSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  const sql = z.toJSONSchema(miStateSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  delete sql.$schema;
  const visit = (node: unknown): void => {
    if (!node || typeof node !== "object") return;
    const n = node as Record<string, unknown>;
    const props = n.properties as Record<string, unknown> | undefined;
    if (props && "dnsZone" in props && "sql" in props) props.sql = sql;
    for (const v of Object.values(n)) visit(v);
  };
  visit(schema);
  return { ...schema, title: "AuditGuard emulator fleet" };
}
