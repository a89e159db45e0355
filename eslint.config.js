// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * The layers, as ARCHITECTURE.md draws them, held per directory by no-restricted-imports (static imports and
 * re-exports) and no-restricted-syntax (import() expressions, which no-restricted-imports never sees), both made from
 * one list of what each folder may not import. Import specifiers are relative paths, so a folder is named wherever the
 * importing file sits ("../azure/x.js", "../../azure/x.js").
 * Kinds: a kind's module, rules and plan are pure (core may import them through src/kinds/registry.ts); its
 * adapter (adapter.ts, the ARM and T-SQL I/O) belongs to the scan layer, and only src/scan imports the adapters.
 * Pure code (core, the pure kind files) also imports no package that does I/O: Node's network, file and process
 * modules, tedious, mssql, the Azure SDKs.
 */
const forbid = (name, patterns, regex) => ({ name, patterns, regex });
const folders = (...names) =>
  forbid(
    names.join(", "),
    names.flatMap((f) => [`../${f}/*`, `../../${f}/*`, `../../../${f}/*`, `../${f}`, `../../${f}`, `../../../${f}`]),
    `^(\\.\\./)+(${names.join("|")})(/|$)`,
  );
const ADAPTERS = forbid(
  "the kinds' adapters",
  ["**/kinds/adapters.js", "**/kinds/adapter.js", "**/kinds/*/adapter.js", "./adapter.js", "./adapters.js", "../adapter.js", "../adapters.js", "../*/adapter.js"],
  "(^|/)kinds/(adapters?|[^/]+/adapter)\\.js$|^\\.\\.?/(adapters?|[^/]+/adapter)\\.js$",
);
const EMULATOR = folders("emulator");
const IO_MODULES = ["fs", "fs/promises", "net", "http", "https", "http2", "tls", "dgram", "dns", "dns/promises", "child_process", "cluster", "worker_threads", "inspector", "readline", "repl"];
const IO_PACKAGES = forbid(
  "packages that do I/O (Node's file, network and process modules, tedious, mssql, @azure/*)",
  [...IO_MODULES.flatMap((m) => [m, `node:${m}`]), "tedious", "tedious/*", "mssql", "mssql/*", "@azure/*"],
  `^(node:)?(${IO_MODULES.join("|")})$|^(tedious|mssql)(/|$)|^@azure/`,
);
const SRC = forbid("src", ["**/src/*", "**/src/**"], "(^|/)src(/|$)");

/** The rules that hold one folder's boundary: `message` says what it may import; `forbidden`, what it may not. */
function boundary(message, ...forbidden) {
  // esquery's regex literal ends at the first "/", so a slash in the pattern is written \x2F.
  const selector = (regex) => `ImportExpression[source.value=/${regex.replaceAll("/", "\\x2F")}/]`;
  return {
    "no-restricted-imports": ["error", { patterns: forbidden.map((f) => ({ group: f.patterns, message: `${message} (not ${f.name})` })) }],
    "no-restricted-syntax": ["error", ...forbidden.map((f) => ({ selector: selector(f.regex), message: `${message} (not ${f.name})` }))],
  };
}

const KIND_ADAPTER_FILES = ["src/kinds/adapter.ts", "src/kinds/adapters.ts", "src/kinds/*/adapter.ts"];

/** Each folder's boundary, as ARCHITECTURE.md's layer table states it (test/core/import-boundaries.test.ts lints against these). */
export const BOUNDARIES = [
  {
    files: ["src/core/**/*.ts"],
    rules: boundary("core is pure: it imports core and the pure kinds only", folders("azure", "scan", "host", "functions", "cli"), ADAPTERS, EMULATOR, IO_PACKAGES),
  },
  {
    files: ["src/kinds/**/*.ts"],
    ignores: KIND_ADAPTER_FILES,
    rules: boundary("a kind's module, rules and plan are pure: I/O belongs in its adapter.ts", folders("azure", "scan", "host", "functions", "cli"), ADAPTERS, EMULATOR, IO_PACKAGES),
  },
  {
    files: KIND_ADAPTER_FILES,
    rules: boundary("a kind's adapter is part of the scan layer: it never imports host, functions or cli", folders("host", "functions", "cli"), EMULATOR),
  },
  {
    files: ["src/azure/**/*.ts"],
    rules: boundary("azure wraps the SDKs: it imports core and the pure kinds", folders("scan", "host", "functions", "cli"), ADAPTERS, EMULATOR),
  },
  {
    files: ["src/scan/**/*.ts"],
    rules: boundary("scan imports core, the kinds and azure", folders("host", "functions", "cli"), EMULATOR),
  },
  {
    files: ["src/host/**/*.ts"],
    rules: boundary("host uses scan, azure, core and the pure kinds; the kinds' adapters only through scan", folders("functions", "cli"), ADAPTERS, EMULATOR),
  },
  {
    files: ["src/cli/**/*.ts"],
    rules: boundary("cli uses scan, azure, core, the pure kinds and the emulator; the kinds' adapters only through scan", folders("functions"), ADAPTERS),
  },
  {
    files: ["src/functions/**/*.ts"],
    rules: boundary("functions import only host", folders("core", "azure", "scan", "cli", "kinds"), EMULATOR),
  },
  {
    files: ["emulator/**/*.ts"],
    rules: boundary("the emulator never imports src: it is Azure, not AuditGuard", SRC),
  },
];

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
  ...BOUNDARIES,
  {
    files: ["**/*.js", "**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { parserOptions: { projectService: false }, globals: { process: "readonly", console: "readonly", URL: "readonly" } },
  },
);
