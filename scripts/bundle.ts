// Bundles the Functions app for deployment (package.json "main"): one ESM entry that registers the functions,
// with the scanner split into a chunk loaded on first invocation. @azure/functions-core is the worker's own.
// Source maps are written beside the package, to dist/bundle-maps/, not into it: the Functions runtime starts Node
// without --enable-source-maps, so maps in the package would be 18 of its 22 MB and never be read. They are kept
// for reading a minified stack trace by hand and for the test that follows the bundle's static imports.
import { mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const OUT = "dist/bundle";
const MAPS = "dist/bundle-maps";

// Chunk names carry content hashes: without a clean folder, every earlier build's chunks would ship too.
rmSync(OUT, { recursive: true, force: true });
rmSync(MAPS, { recursive: true, force: true });

await build({
  entryPoints: { functions: "src/functions/index.ts" },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  outExtension: { ".js": ".mjs" },
  external: ["@azure/functions-core"],
  // Bundled CommonJS dependencies call require(); give the ESM bundle a real one.
  banner: { js: 'import { createRequire as __agCreateRequire } from "node:module"; const require = __agCreateRequire(import.meta.url);' },
  // "external": the .map files without a sourceMappingURL comment pointing into the package.
  sourcemap: "external",
  minify: true,
  legalComments: "linked",
  logLevel: "warning",
});

mkdirSync(MAPS, { recursive: true });
for (const file of readdirSync(OUT).filter((f) => f.endsWith(".map"))) renameSync(join(OUT, file), join(MAPS, file));
