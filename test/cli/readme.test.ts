import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ruleCatalogMarkdown } from "../../scripts/rule-table.js";

test("the README's rule catalog is the registry's", () => {
  const readme = readFileSync(join(process.cwd(), "README.md"), "utf8");
  assert.ok(readme.includes(ruleCatalogMarkdown()), "README rule table is stale: regenerate it with node --import tsx scripts/rule-table.ts");
});
