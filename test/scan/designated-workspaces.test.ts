import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseBaseline } from "../../src/core/policy/load.js";
import { designatedWorkspaces } from "../../src/scan/activity-sweep.js";
import { validateCommand } from "../../src/cli/commands/validate.js";

// The baseline's sections and mode keys as its published JSON Schema (schema/auditguard.schema.json, what operators
// write against) declares them, not as the registry lists them: a kind whose section the sweep or the CLI forgot
// fails here.
const schema = JSON.parse(readFileSync(join(process.cwd(), "schema", "auditguard.schema.json"), "utf8")) as {
  properties: Record<string, { properties?: Record<string, unknown> }>;
};
const sectionsWithDiagnosticSetting = Object.entries(schema.properties).flatMap(([name, s]) => (s.properties?.diagnosticSetting ? [name] : []));
const modeKeys = Object.keys(schema.properties.modes?.properties ?? {});
const workspace = (i: number) => `/subscriptions/11111111-1111-4111-8111-111111111111/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law-${i}`;

test("the sweep reads every workspace the baseline designates, one per section with a diagnostic setting", () => {
  assert.ok(sectionsWithDiagnosticSetting.length >= 3, "the schema has the kinds' sections");
  const sections = Object.fromEntries(sectionsWithDiagnosticSetting.map((name, i) => [name, { diagnosticSetting: { workspaceId: workspace(i) } }]));
  const parsed = parseBaseline(JSON.stringify({ version: 1, ...sections }));
  assert.ok(parsed.ok);
  assert.deepEqual([...designatedWorkspaces(parsed.baseline)].sort(), sectionsWithDiagnosticSetting.map((_, i) => workspace(i)).sort());
  const none = parseBaseline(JSON.stringify({ version: 1 }));
  assert.ok(none.ok);
  assert.deepEqual(designatedWorkspaces(none.baseline), [], "no designated workspace, none swept");
});

test("auditguard validate names the mode of every key of the baseline's modes", () => {
  const result = validateCommand(join(process.cwd(), "auditguard.example.yaml"));
  assert.equal(result.exitCode, 0, result.stderr);
  assert.ok(modeKeys.length >= 3);
  for (const key of modeKeys) assert.match(result.stdout, new RegExp(`[ (,]${key}=(off|plan|enforce)[,)]`), key);
});
