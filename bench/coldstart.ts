// npm run bench:coldstart: what loading the Functions app costs the host, next to loading @azure/functions
// alone, each measured in fresh processes in one run (median of several), and their ratio.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const RUNS = Number(process.env.COLDSTART_RUNS ?? 9);
const pkg = JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8")) as { main: string };
const entry = join(process.cwd(), pkg.main);
if (!existsSync(entry)) throw new Error(`${pkg.main} is missing: run npm run build first`);

function importMs(specifier: string): number {
  // A fresh process each time: nothing cached. The registrations run in the library's test mode here (no
  // worker), which does the same module loading the host pays for.
  const script = `const t = performance.now(); await import(${JSON.stringify(specifier)}); process.stdout.write(String(performance.now() - t));`;
  return Number(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const base: number[] = [];
const app: number[] = [];
for (let i = 0; i < RUNS; i++) {
  base.push(importMs("@azure/functions"));
  app.push(importMs(pathToFileURL(entry).href));
}
const b = median(base);
const a = median(app);
console.log(`cold start (median of ${RUNS} fresh processes each):`);
console.log(`  @azure/functions alone: ${b.toFixed(1)} ms`);
console.log(`  AuditGuard app (${pkg.main}): ${a.toFixed(1)} ms`);
console.log(`  ratio: ${(a / b).toFixed(2)}`);
