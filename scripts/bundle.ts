// Bundles the Functions app for deployment (package.json "main"): one ESM entry that registers the functions,
// with the scanner split into a chunk loaded on first invocation. @azure/functions-core is the worker's own.
import { rmSync } from "node:fs";
import { build } from "esbuild";

// Chunk names carry content hashes: without a clean folder, every earlier build's chunks would ship too.
rmSync("dist/bundle", { recursive: true, force: true });

await build({
  entryPoints: { functions: "src/functions/index.ts" },
  outdir: "dist/bundle",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  outExtension: { ".js": ".mjs" },
  external: ["@azure/functions-core"],
  // Bundled CommonJS dependencies call require(); give the ESM bundle a real one.
  banner: { js: 'import { createRequire as __agCreateRequire } from "node:module"; const require = __agCreateRequire(import.meta.url);' },
  sourcemap: true,
  minify: true,
  legalComments: "linked",
  logLevel: "warning",
});
