// Regenerates the JSON Schemas committed under schema/ from the zod schemas in src/core (npm run schemas).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { allEventJsonSchemas } from "../src/core/events/json-schema.js";

const root = process.cwd();
mkdirSync(join(root, "schema", "events"), { recursive: true });
for (const [file, schema] of Object.entries(allEventJsonSchemas())) {
  writeFileSync(join(root, "schema", "events", file), `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`wrote schema/events/${file}`);
}
