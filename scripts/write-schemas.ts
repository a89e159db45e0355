// Regenerates the committed JSON Schemas from their zod schemas (npm run schemas): the baseline, events and report
// under schema/, and the emulator's fleet file.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { allEventJsonSchemas } from "../src/core/events/json-schema.js";
import { baselineSchema } from "../src/core/policy/schema.js";
import { reportJsonSchema } from "../src/core/report/json-schema.js";
import { fleetJsonSchema } from "../emulator/fleet/json-schema.js";

const root = process.cwd();
const write = (relative: string, value: unknown) => {
  writeFileSync(join(root, relative), `${JSON.stringify(value, null, 2)}\n`);
  console.log(`wrote ${relative}`);
};

mkdirSync(join(root, "schema", "events"), { recursive: true });
for (const [file, schema] of Object.entries(allEventJsonSchemas())) write(join("schema", "events", file), schema);
write(join("schema", "auditguard.schema.json"), {
  $id: "urn:auditguard:schema:baseline:1",
  title: "AuditGuard baseline",
  ...z.toJSONSchema(baselineSchema, { io: "input", target: "draft-2020-12" }),
});
write(join("schema", "report.schema.json"), reportJsonSchema());
write(join("emulator", "fleets", "fleet.schema.json"), fleetJsonSchema());
