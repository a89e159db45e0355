// azure.yaml held to the azd schema (Azure/azure-dev schemas/v1.0/azure.yaml.json: name pattern, a function
// service needs project and host, remoteBuild only for functions) and to the repository it deploys.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

const root = process.cwd();
const azd = parse(readFileSync(join(root, "azure.yaml"), "utf8")) as {
  name: string;
  infra: { provider: string; path: string; module: string };
  services: Record<string, { project: string; language: string; host: string; remoteBuild?: boolean; hooks?: Record<string, { shell: string; run: string }> }>;
};
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { main: string; scripts: Record<string, string> };

test("azure.yaml: a valid azd project whose infra module exists", () => {
  assert.match(azd.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  assert.equal(azd.infra.provider, "bicep");
  assert.ok(existsSync(join(root, azd.infra.path, `${azd.infra.module}.bicep`)));
  assert.ok(existsSync(join(root, azd.infra.path, `${azd.infra.module}.parameters.json`)));
});

test("azure.yaml: one function service, found by the tag the Bicep puts on the Function App, deployed as built", () => {
  const entries = Object.entries(azd.services);
  assert.equal(entries.length, 1);
  const [name, service] = entries[0]!;
  assert.equal(service.host, "function");
  assert.ok(existsSync(join(root, service.project, "host.json")));
  assert.match(readFileSync(join(root, "infra/modules/functionapp.bicep"), "utf8"), new RegExp(`'azd-service-name': '${name}'`));
  // The bundle is built locally (prepackage); Oryx's default remote build for JavaScript would rebuild without it.
  assert.equal(service.remoteBuild, false);
  const hook = service.hooks?.prepackage?.run ?? "";
  for (const script of hook.matchAll(/npm run (\S+)/g)) assert.ok(script[1]! in pkg.scripts, `npm run ${script[1]} is not a script`);
  assert.match(hook, /npm run build/);
  assert.match(pkg.main, /^dist\/bundle\//);
});

test(".funcignore ships the bundle, host.json, package.json and the baseline, and nothing else", () => {
  const lines = readFileSync(join(root, ".funcignore"), "utf8").split("\n").filter((l) => l.trim() && !l.startsWith("#"));
  assert.equal(lines[0], "*");
  const kept = lines.filter((l) => l.startsWith("!")).map((l) => l.slice(1));
  assert.deepEqual(new Set(kept), new Set(["dist/", "dist/bundle/", "dist/bundle/**", "host.json", "package.json", "auditguard.yaml"]));
});
