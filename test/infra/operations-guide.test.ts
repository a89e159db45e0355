// The operator's guide explains every rule of the catalog; a rule added without its section fails here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RULES } from "../../src/core/rules/registry.js";

test("docs/operations.md has a section for every rule in the catalog, with its rationale and remedy", () => {
  const guide = readFileSync(join(process.cwd(), "docs", "operations.md"), "utf8");
  for (const rule of RULES) {
    assert.ok(guide.includes(`### \`${rule.id}\``), `no section for ${rule.id}`);
    assert.ok(guide.includes(rule.rationale), `${rule.id}: rationale out of date`);
    assert.ok(guide.includes(rule.remedy), `${rule.id}: remedy out of date`);
  }
});
