// A fresh Functions instance on the deployed bundle (package.json's main, dist/bundle/functions.mjs), loaded as the
// Node.js worker loads it (test/support/functions-host.ts provides the worker's @azure/functions-core): its first
// invocation includes loading the bundle's scanner chunk and building the app's services from its settings. Then it
// runs the invocations it is given one at a time, each with the CPU it took, for the CPU per target by kind.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import functions from "@azure/functions";
import { installFakeFunctionsCore } from "../test/support/functions-host.js";
import { answer, commands, Footprint } from "./child.js";

const { InvocationContext } = functions;
const footprint = new Footprint();
const registered = installFakeFunctionsCore();
const main = (JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8")) as { main: string }).main;
const loadStarted = performance.now();
await import(pathToFileURL(join(process.cwd(), main)).href);
const registrationMs = performance.now() - loadStarted;
const worker = registered.find((f) => f.name === "scanWorker");
if (!worker) throw new Error(`${main} registers no scanWorker`);
answer({ ready: true, registrationMs });

const errors: string[] = [];
for await (const command of commands<{ message: unknown; dequeueCount?: number }>()) {
  const context = new InvocationContext({
    functionName: "scanWorker",
    triggerMetadata: { dequeueCount: command.dequeueCount ?? 1 },
    logHandler: (level, ...args) => {
      if (level === "error") errors.push(args.join(" "));
    },
  });
  const cpu = process.cpuUsage();
  const started = performance.now();
  let ok = true;
  try {
    await worker.handler(command.message, context);
  } catch (error) {
    ok = false;
    errors.push((error as Error).message);
  }
  const used = process.cpuUsage(cpu);
  answer({ ok, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 });
}
answer({ errors: errors.slice(0, 5), ...footprint.report() });
process.exit(0);
