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

test("azure.yaml: the prepackage hook refuses to package without a valid auditguard.yaml", async () => {
  const { spawnSync } = await import("node:child_process");
  const { copyFileSync, mkdtempSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const hook = azd.services.api!.hooks!.prepackage!.run;
  const steps = hook.split("&&").map((s) => s.trim());
  const validate = steps.find((s) => / validate auditguard\.yaml$/.test(s));
  assert.ok(validate, "the hook validates the baseline");
  assert.ok(steps.indexOf(validate) < steps.findIndex((s) => s === "npm run build"), "before building");
  // The validate step as the hook runs it (sh, from the project folder), against a folder's auditguard.yaml.
  const run = (dir: string) => spawnSync("sh", ["-c", validate.replace("bin/auditguard.mjs", join(root, "bin/auditguard.mjs"))], { cwd: dir, encoding: "utf8" });
  const dir = mkdtempSync(join(tmpdir(), "auditguard-azd-"));
  assert.equal(run(dir).status, 2, "no auditguard.yaml: stop");
  writeFileSync(join(dir, "auditguard.yaml"), "version: 1\nmode: sometimes\n");
  const bad = run(dir);
  assert.equal(bad.status, 2, "an invalid one: stop");
  assert.match(bad.stderr, /auditguard\.yaml:2:7: mode/);
  copyFileSync(join(root, "auditguard.example.yaml"), join(dir, "auditguard.yaml"));
  const good = run(dir);
  assert.equal(good.status, 0, good.stderr);
});
