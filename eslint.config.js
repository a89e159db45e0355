// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * The layers, as ARCHITECTURE.md draws them, held by no-restricted-imports per directory. Import specifiers are
 * relative paths, so a pattern names the folder wherever the importing file sits ("../azure/x.js", "../../azure/x.js").
 * Kinds: a kind's module, rules and plan are pure (core may import them through src/kinds/registry.ts); its
 * adapter (adapter.ts, the ARM and T-SQL I/O) belongs to the scan layer, and only src/scan imports the adapters.
 */
const layer = (...folders) => folders.flatMap((f) => [`../${f}/*`, `../../${f}/*`, `../../../${f}/*`, `../${f}`, `../../${f}`]);
const ADAPTERS = ["**/kinds/adapters.js", "**/kinds/adapter.js", "**/kinds/*/adapter.js", "./adapter.js", "./adapters.js", "../adapter.js", "../adapters.js", "../*/adapter.js"];
const boundary = (message, group) => ({ "no-restricted-imports": ["error", { patterns: [{ group, message }] }] });
const KIND_ADAPTER_FILES = ["src/kinds/adapter.ts", "src/kinds/adapters.ts", "src/kinds/*/adapter.ts"];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", ".artifacts/**", "infra/**/*.json"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      // A switch over a union names every member, or says why not with a default: a new kind, action or status
      // added to a union is then a type error wherever it is not handled.
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false }],
      // node:test's describe/it/before/after return promises the runner itself awaits.
      "@typescript-eslint/no-floating-promises": [
        "error",
        { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["describe", "it", "test", "before", "after", "beforeEach", "afterEach", "suite"] }] },
      ],
      // An async function that implements a Promise-returning interface (a credential's getToken, a stub's stop)
      // says so with `async`; one without an await is not a bug.
      "@typescript-eslint/require-await": "off",
      // Re-rejecting what a catch caught (unknown) passes the original error on, as it should.
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingUnknown: true, allowThrowingAny: true }],
      "no-console": "off",
    },
  },
  {
    // Tests read what independent, untyped clients answer (mssql's recordsets, Microsoft's Kusto parser) and assert
    // on it; the any-tracking rules would only make them cast every row first.
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
    },
  },
  {
    // Where rows come off the wire untyped (T-SQL recordsets, KQL cells, Table entities, Resource Graph rows) a
    // scalar is turned into text in one helper per module; the type system cannot tell those values are scalars.
    files: ["src/azure/**/*.ts", "emulator/**/*.ts"],
    rules: { "@typescript-eslint/no-base-to-string": "off" },
  },
  {
    files: ["src/core/**/*.ts"],
    rules: boundary("core is pure: it imports nothing of azure, scan, host, functions, cli or the kinds' adapters", [...layer("azure", "scan", "host", "functions", "cli"), ...ADAPTERS]),
  },
  {
    files: ["src/kinds/**/*.ts"],
    ignores: KIND_ADAPTER_FILES,
    rules: boundary("a kind's module, rules and plan are pure: I/O belongs in its adapter.ts", [...layer("azure", "scan", "host", "functions", "cli"), ...ADAPTERS]),
  },
  {
    files: KIND_ADAPTER_FILES,
    rules: boundary("a kind's adapter is part of the scan layer: it never imports host, functions or cli", layer("host", "functions", "cli")),
  },
  {
    files: ["src/azure/**/*.ts"],
    rules: boundary("azure wraps the SDKs: it imports core and the pure kinds, nothing of scan, host, functions, cli or the kinds' adapters", [...layer("scan", "host", "functions", "cli"), ...ADAPTERS]),
  },
  {
    files: ["src/scan/**/*.ts"],
    rules: boundary("scan never imports host, functions or cli", layer("host", "functions", "cli")),
  },
  {
    files: ["src/host/**/*.ts", "src/cli/**/*.ts"],
    rules: boundary("host and cli use scan, azure, core and the pure kinds; the kinds' adapters only through scan", [...layer("functions"), ...ADAPTERS]),
  },
  {
    files: ["src/functions/**/*.ts"],
    rules: boundary("functions import only host", layer("core", "azure", "scan", "cli", "kinds")),
  },
  {
    files: ["emulator/**/*.ts"],
    rules: boundary("the emulator never imports src: it is Azure, not AuditGuard", ["**/src/*", "**/src/**"]),
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { parserOptions: { projectService: false }, globals: { process: "readonly", console: "readonly", URL: "readonly" } },
  },
);
