import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ESLint } from "eslint";
import type { Linter } from "eslint";
import tseslint from "typescript-eslint";

/**
 * The import boundaries of eslint.config.js, proved on snippets at representative paths: the very rule objects the
 * config uses (its exported BOUNDARIES), with the TypeScript parser but without the type-checked rules, so a snippet
 * lints in milliseconds. The expectations are ARCHITECTURE.md's layer table ("may import"), not the config's lists.
 */
const ROOT = process.cwd();
let eslint: ESLint;

before(async () => {
  const config = (await import(pathToFileURL(join(ROOT, "eslint.config.js")).href)) as { BOUNDARIES: Linter.Config[] };
  assert.ok(config.BOUNDARIES.length >= 9, "one boundary per folder");
  eslint = new ESLint({
    cwd: ROOT,
    overrideConfigFile: true,
    overrideConfig: [{ files: ["**/*.ts"], languageOptions: { parser: tseslint.parser, sourceType: "module" } }, ...config.BOUNDARIES],
  });
});

/** The boundary rules one import breaks, statically (`import ... from`) or dynamically (`import()`). */
async function broken(path: string, specifier: string, how: "static" | "dynamic"): Promise<string[]> {
  const code = how === "static" ? `import * as m from ${JSON.stringify(specifier)};\nexport { m };\n` : `export async function f() {\n  return import(${JSON.stringify(specifier)});\n}\n`;
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, path) });
  assert.ok(result, path);
  assert.deepEqual(result.messages.filter((m) => m.fatal), [], `${path}: the snippet parses`);
  return result.messages.map((m) => m.ruleId ?? "");
}

// [file, specifier, allowed?] from ARCHITECTURE.md's table.
const CASES: Array<[string, string, boolean]> = [
  // src/core: core and the pure kinds; pure, so no I/O package.
  ["src/core/probe.ts", "./domain.js", true],
  ["src/core/report/probe.ts", "../../kinds/registry.js", true],
  ["src/core/probe.ts", "zod", true],
  ["src/core/probe.ts", "node:crypto", true],
  ["src/core/probe.ts", "../azure/clients.js", false],
  ["src/core/rules/probe.ts", "../../scan/run-scan.js", false],
  ["src/core/probe.ts", "../host/handlers.js", false],
  ["src/core/probe.ts", "../cli/auditguard.js", false],
  ["src/core/probe.ts", "../kinds/adapters.js", false],
  ["src/core/probe.ts", "../../emulator/server.js", false],
  ["src/core/probe.ts", "node:fs", false],
  ["src/core/probe.ts", "fs/promises", false],
  ["src/core/probe.ts", "node:net", false],
  ["src/core/probe.ts", "node:https", false],
  ["src/core/probe.ts", "node:child_process", false],
  ["src/core/probe.ts", "tedious", false],
  ["src/core/probe.ts", "mssql", false],
  ["src/core/probe.ts", "@azure/identity", false],
  // a pure kind file: core and the other pure kind files.
  ["src/kinds/sql-server/index.ts", "../server-auditing/kind.js", true],
  ["src/kinds/sql-server/index.ts", "../../core/domain.js", true],
  ["src/kinds/sql-server/index.ts", "../../azure/arm-auditing.js", false],
  ["src/kinds/sql-server/index.ts", "../../scan/errors.js", false],
  ["src/kinds/sql-server/index.ts", "./adapter.js", false],
  ["src/kinds/registry.ts", "./adapters.js", false],
  ["src/kinds/sql-server/index.ts", "../../../emulator/server.js", false],
  ["src/kinds/sql-server/index.ts", "node:http", false],
  ["src/kinds/sql-server/index.ts", "@azure/arm-sql", false],
  // a kind's adapter: also azure and scan.
  ["src/kinds/sql-server/adapter.ts", "../../azure/arm-auditing.js", true],
  ["src/kinds/sql-server/adapter.ts", "../../scan/errors.js", true],
  ["src/kinds/sql-server/adapter.ts", "../../host/handlers.js", false],
  ["src/kinds/sql-server/adapter.ts", "../../../emulator/server.js", false],
  // src/azure: core and the pure kinds (and the SDKs).
  ["src/azure/probe.ts", "../kinds/registry.js", true],
  ["src/azure/probe.ts", "tedious", true],
  ["src/azure/probe.ts", "../scan/budget.js", false],
  ["src/azure/probe.ts", "../kinds/adapters.js", false],
  // src/scan: core, kinds (adapters included), azure.
  ["src/scan/probe.ts", "../kinds/adapters.js", true],
  ["src/scan/probe.ts", "../azure/clients.js", true],
  ["src/scan/probe.ts", "../host/services.js", false],
  ["src/scan/probe.ts", "../cli/auditguard.js", false],
  // src/host: scan, azure, core, the pure kinds.
  ["src/host/probe.ts", "../scan/run-scan.js", true],
  ["src/host/probe.ts", "../kinds/registry.js", true],
  ["src/host/probe.ts", "../cli/auditguard.js", false],
  ["src/host/probe.ts", "../functions/index.js", false],
  ["src/host/probe.ts", "../kinds/adapters.js", false],
  ["src/host/probe.ts", "../../emulator/server.js", false],
  // src/functions: host only.
  ["src/functions/probe.ts", "../host/handlers.js", true],
  ["src/functions/probe.ts", "@azure/functions", true],
  ["src/functions/probe.ts", "../core/domain.js", false],
  ["src/functions/probe.ts", "../scan/run-scan.js", false],
  ["src/functions/probe.ts", "../kinds/registry.js", false],
  ["src/functions/probe.ts", "../../emulator/server.js", false],
  // src/cli: scan, azure, core, the pure kinds, the emulator.
  ["src/cli/commands/probe.ts", "../../../emulator/server.js", true],
  ["src/cli/probe.ts", "../scan/run-scan.js", true],
  ["src/cli/probe.ts", "../functions/index.js", false],
  ["src/cli/probe.ts", "../kinds/adapters.js", false],
  // emulator/: nothing of src.
  ["emulator/arm/probe.ts", "../../src/core/domain.js", false],
  ["emulator/probe.ts", "./server.js", true],
];

describe("eslint.config.js holds ARCHITECTURE.md's import boundaries, for import and import()", () => {
  for (const [path, specifier, allowed] of CASES) {
    it(`${path}: ${specifier} is ${allowed ? "allowed" : "forbidden"}`, async () => {
      assert.deepEqual(await broken(path, specifier, "static"), allowed ? [] : ["no-restricted-imports"], "import ... from");
      assert.deepEqual(await broken(path, specifier, "dynamic"), allowed ? [] : ["no-restricted-syntax"], "import()");
    });
  }

  it("a type-only import is held like any other in pure code", async () => {
    const [result] = await eslint.lintText(`import type { TokenCredential } from "@azure/core-auth";\nexport type T = TokenCredential;\n`, { filePath: join(ROOT, "src/core/probe.ts") });
    assert.deepEqual(result?.messages.map((m) => m.ruleId), ["no-restricted-imports"]);
  });
});
