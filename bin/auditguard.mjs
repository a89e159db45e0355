#!/usr/bin/env node
// The `auditguard` command (package.json "bin"). In a checkout, straight after `npm ci`, it runs the TypeScript
// sources through tsx (a dev dependency), so there is nothing to build first and nothing stale to run; where tsx
// or the sources are absent (an install without dev dependencies) it runs the compiled CLI from `npm run build`.
// A shim rather than a `prepare` build: `prepare` would compile and bundle on every `npm ci`, in CI and in azd's
// prepackage hook too, which build again right after.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";

const source = new URL("../src/cli/auditguard.ts", import.meta.url);
const built = new URL("../dist/src/cli/auditguard.js", import.meta.url);

function hasTsx() {
  try {
    createRequire(import.meta.url).resolve("tsx/esm/api");
    return true;
  } catch {
    return false;
  }
}

let entry = built;
if (existsSync(source) && hasTsx()) {
  const { register } = await import("tsx/esm/api");
  register();
  entry = source;
} else if (!existsSync(built)) {
  process.stderr.write("auditguard: not built; run `npm run build` (or install the dev dependencies)\n");
  process.exit(2);
}
const { main } = await import(entry.href);
await main(process.argv);
