import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import functions from "@azure/functions";
import { installFakeFunctionsCore } from "../support/functions-host.js";
import type { RegisteredFunction } from "../support/functions-host.js";

// Loads the app the way the host does (package.json "main": the esbuild bundle built by npm run build) with the
// worker's @azure/functions-core in place, and checks each registration as the host would receive it.
const registered = installFakeFunctionsCore();
const pkg = JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8")) as { main: string };

test("package.json points the host at the bundled entry", () => {
  assert.equal(pkg.main, "dist/bundle/functions.mjs");
});

test("every function registers with the trigger, schedule, route, queue, connection and auth level it needs", async () => {
  await import(pathToFileURL(join(process.cwd(), pkg.main)).href);
  const byName = new Map(registered.map((f) => [f.name, f]));
  const trigger = (f: RegisteredFunction | undefined) => Object.values(f?.bindings ?? {}).find((b) => b.direction === "in" && /Trigger$/.test(b.type));
  assert.deepEqual([...byName.keys()].sort(), ["activitySweep", "complianceReport", "scanPoison", "scanStatus", "scanWorker", "scheduledScan", "startScan"]);

  assert.deepEqual(pick(trigger(byName.get("scheduledScan")), ["type", "schedule"]), { type: "timerTrigger", schedule: "%AUDITGUARD_SCHEDULE%" });
  assert.deepEqual(pick(trigger(byName.get("activitySweep")), ["type", "schedule"]), { type: "timerTrigger", schedule: "%AUDITGUARD_SWEEP_SCHEDULE%" });
  assert.deepEqual(pick(trigger(byName.get("scanWorker")), ["type", "queueName", "connection"]), { type: "queueTrigger", queueName: "auditguard-scan-requests", connection: "AzureWebJobsStorage" });
  assert.deepEqual(pick(trigger(byName.get("scanPoison")), ["type", "queueName", "connection"]), { type: "queueTrigger", queueName: "auditguard-scan-requests-poison", connection: "AzureWebJobsStorage" });
  assert.deepEqual(pick(trigger(byName.get("complianceReport")), ["type", "methods", "route", "authLevel"]), { type: "httpTrigger", methods: ["GET"], route: "compliance", authLevel: "function" });
  assert.deepEqual(pick(trigger(byName.get("startScan")), ["type", "methods", "route", "authLevel"]), { type: "httpTrigger", methods: ["POST"], route: "scans", authLevel: "admin" });
  assert.deepEqual(pick(trigger(byName.get("scanStatus")), ["type", "methods", "route", "authLevel"]), { type: "httpTrigger", methods: ["GET"], route: "scans/{scanId}", authLevel: "function" });
  for (const name of ["complianceReport", "startScan", "scanStatus"]) {
    assert.equal(Object.values(byName.get(name)!.bindings).find((b) => b.direction === "out")?.type, "http", `${name} answers over HTTP`);
  }
  for (const f of registered) assert.equal(typeof f.handler, "function");
});

test("a registered handler loads the scanner on first use and answers", async () => {
  const report = registered.find((f) => f.name === "complianceReport")!;
  const request = new functions.HttpRequest({ method: "GET", url: "http://localhost/api/compliance?format=pdf" });
  const response = (await report.handler(request, new functions.InvocationContext({ logHandler: () => undefined }))) as { status: number; jsonBody: unknown };
  assert.equal(response.status, 400);
  assert.match(JSON.stringify(response.jsonBody), /format must be one of json, html, csv, sarif, markdown/);
});

test("host.json: timeout, queue batch size, dequeue limit and Base64 messages", () => {
  const host = JSON.parse(readFileSync(join(process.cwd(), "host.json"), "utf8")) as { version: string; functionTimeout: string; extensions: { queues: Record<string, unknown> } };
  assert.equal(host.version, "2.0");
  assert.match(host.functionTimeout, /^00:(0\d|10):00$/, "within the Consumption plan's 10-minute maximum");
  assert.equal(host.extensions.queues.maxDequeueCount, 5);
  assert.equal(host.extensions.queues.messageEncoding, "base64");
  assert.ok(Number(host.extensions.queues.batchSize) >= 1 && Number(host.extensions.queues.batchSize) <= 32);
});

test("local.settings.sample.json lists every setting the app reads, with local defaults", () => {
  const sample = JSON.parse(readFileSync(join(process.cwd(), "local.settings.sample.json"), "utf8")) as { Values: Record<string, string> };
  for (const key of ["FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage", "AUDITGUARD_SCHEDULE", "AUDITGUARD_BASELINE_PATH", "AUDITGUARD_EVENTS_QUEUE", "AUDITGUARD_TABLE_PREFIX", "AUDITGUARD_EVENT_SOURCE"]) {
    assert.ok(key in sample.Values, `${key} is in the sample`);
  }
  assert.equal(sample.Values.AzureWebJobsStorage, "UseDevelopmentStorage=true");
  assert.equal(sample.Values.AUDITGUARD_SCHEDULE, "0 0 * * * *", "hourly by default");
});

test("the deployed package carries no source maps: the runtime would never load them", () => {
  const shipped = readdirSync(join(process.cwd(), "dist/bundle"));
  assert.deepEqual(shipped.filter((f) => f.endsWith(".map")), []);
  for (const f of shipped.filter((f) => f.endsWith(".mjs"))) assert.doesNotMatch(readFileSync(join(process.cwd(), "dist/bundle", f), "utf8"), /sourceMappingURL=/, f);
  assert.ok(existsSync(join(process.cwd(), "dist/bundle-maps", "functions.mjs.map")), "the maps are built beside the package");
});

function pick(value: Record<string, unknown> | undefined, keys: string[]) {
  return Object.fromEntries(keys.map((k) => [k, value?.[k]]));
}

test("registering the functions loads @azure/functions and the registrations only; the scanner waits for the first call", () => {
  // What the entry imports statically, followed through the bundle's chunks, by the sources its source maps name
  // (built beside the package, in dist/bundle-maps: the package ships no maps).
  const dir = join(process.cwd(), "dist/bundle");
  const maps = join(process.cwd(), "dist/bundle-maps");
  const seen = new Set<string>();
  const sources = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = readFileSync(join(dir, file), "utf8");
    for (const s of (JSON.parse(readFileSync(join(maps, `${file}.map`), "utf8")) as { sources: string[] }).sources) sources.add(s);
    for (const m of code.matchAll(/(?:^|[;}\s])import\s*(?:\{[^}]*\}\s*from\s*|[\w$]+\s+from\s*)?"\.\/([^"]+)"/g)) visit(m[1]!);
  };
  visit(pkg.main.replace("dist/bundle/", ""));
  // A package's own source maps name it as webpack://<package>/…; ours are paths, theirs under node_modules/.
  const packageOf = (path: string) => {
    const parts = path.split("/");
    return parts.slice(0, parts[0]!.startsWith("@") ? 2 : 1).join("/");
  };
  const owners = new Set(
    [...sources].map((s) => (s.startsWith("webpack://") ? packageOf(s.slice("webpack://".length)) : s.includes("node_modules/") ? packageOf(s.split("node_modules/").at(-1)!) : s.replace(/^(\.\.\/)+/, ""))),
  );
  // @azure/functions and what it depends on; then only the registration modules.
  const functionsPkg = JSON.parse(readFileSync(join(process.cwd(), "node_modules/@azure/functions/package.json"), "utf8")) as { dependencies?: Record<string, string> };
  const library = new Set(["@azure/functions", ...Object.keys(functionsPkg.dependencies ?? {})]);
  const unexpected = [...owners].filter((o) => !library.has(o) && !o.startsWith("src/functions/") && o !== "src/host/queue-names.ts");
  assert.deepEqual(unexpected, [], "loaded at registration");
});
