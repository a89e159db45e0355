// No Bicep compiler is reachable here, so the templates are parsed with tree-sitter-bicep and held to what a
// compile would refuse first (syntax, undeclared symbols, unknown functions, module params) and to the facts the
// deployment depends on (documented role GUIDs, every app setting the app reads, no secrets).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseBicep } from "../support/bicep.js";

const infra = join(process.cwd(), "infra");
const files = ["main.bicep", ...readdirSync(join(infra, "modules")).filter((f) => f.endsWith(".bicep")).map((f) => `modules/${f}`)];
const sources = new Map(files.map((f) => [f, readFileSync(join(infra, f), "utf8")]));

const parsed = new Map(await Promise.all(files.map(async (f) => [f, await parseBicep(sources.get(f)!)] as const)));

// learn.microsoft.com/azure/azure-resource-manager/bicep/bicep-functions: the functions a template here may call.
const BICEP_FUNCTIONS = new Set([
  "any", "array", "base64", "base64ToJson", "base64ToString", "bool", "coalesce", "concat", "contains", "dataUri",
  "dateTimeAdd", "deployment", "empty", "endsWith", "environment", "extensionResourceId", "filter", "first",
  "flatten", "format", "guid", "indexOf", "int", "intersection", "items", "join", "json", "last", "lastIndexOf",
  "length", "loadFileAsBase64", "loadJsonContent", "loadTextContent", "managementGroup", "map", "max", "min",
  "newGuid", "padLeft", "range", "reduce", "reference", "replace", "resourceGroup", "resourceId", "skip", "sort",
  "split", "startsWith", "string", "subscription", "subscriptionResourceId", "substring", "take", "tenant",
  "tenantResourceId", "toLower", "toUpper", "trim", "union", "uniqueString", "uri", "uriComponent", "utcNow",
]);
const BICEP_DECORATORS = new Set(["allowed", "batchSize", "description", "discriminator", "export", "maxLength", "maxValue", "metadata", "minLength", "minValue", "sealed", "secure"]);

test("every Bicep file parses without a syntax error (tree-sitter-bicep)", () => {
  for (const [file, bicep] of parsed) {
    assert.deepEqual(bicep.syntaxProblems, [], `${file}: ${JSON.stringify(bicep.syntaxProblems)}`);
  }
});

test("the parser finds the faults these checks rely on (a dropped brace, a misspelt symbol, an unknown function)", async () => {
  const main = sources.get("main.bicep")!;
  const broken = await parseBicep(main.replace(/\n}\n/, "\n\n"));
  assert.ok(broken.syntaxProblems.length > 0, "a removed closing brace went unnoticed");
  const misspelt = await parseBicep(main.replace("location: location", "location: locaton"));
  assert.deepEqual(misspelt.unresolved.map((u) => u.text), ["locaton"]);
  const unknown = await parseBicep(main.replace("toLower(", "toLowerCase("));
  assert.ok(unknown.functionsCalled.includes("toLowerCase") && !BICEP_FUNCTIONS.has("toLowerCase"));
});

test("every symbol read is declared, and every function and decorator is one Bicep has", () => {
  for (const [file, bicep] of parsed) {
    assert.deepEqual(bicep.unresolved, [], `${file}: undeclared ${JSON.stringify(bicep.unresolved)}`);
    for (const fn of bicep.functionsCalled) assert.ok(BICEP_FUNCTIONS.has(fn), `${file}: unknown function ${fn}()`);
    for (const d of bicep.decorators) assert.ok(BICEP_DECORATORS.has(d), `${file}: unknown decorator @${d}`);
  }
});

test("every declared param is used", () => {
  for (const [file, bicep] of parsed) {
    const reads = sources.get(file)!.replace(/^\s*(@[^\n]*|param [^\n]*)$/gm, "");
    for (const p of bicep.params) assert.match(reads, new RegExp(`\\b${p.name}\\b`), `${file}: param ${p.name} is declared but never used`);
  }
});

test("symbolic names are unique within each file", () => {
  for (const [file, bicep] of parsed) {
    assert.deepEqual(bicep.declared.filter((n, i) => bicep.declared.indexOf(n) !== i), [], `${file}: duplicate symbols`);
  }
});

test("every module exists, gets only params it declares and every param it requires", () => {
  for (const [file, bicep] of parsed) {
    for (const m of bicep.modules) {
      const target = join(dirname(file), m.path).replace(/\\/g, "/");
      assert.ok(existsSync(join(infra, target)), `${file}: module ${m.path} not found`);
      const module = parsed.get(target);
      assert.ok(module, `${file}: module ${m.path} is not among the checked files`);
      const declared = new Set(module.params.map((p) => p.name));
      for (const p of m.params) assert.ok(declared.has(p), `${file}: module ${m.symbol} passes ${p}, which ${m.path} does not declare`);
      for (const p of module.params) {
        if (!p.hasDefault && !p.nullable) assert.ok(m.params.includes(p.name), `${file}: module ${m.symbol} leaves required param ${p.name} of ${m.path} unset`);
      }
    }
  }
});

test("resource types carry an explicit apiVersion", () => {
  for (const [file, bicep] of parsed) {
    assert.ok(bicep.resourceTypes.length > 0 || bicep.modules.length > 0 || file === "modules/workspace-reader.bicep", file);
    for (const type of bicep.resourceTypes) {
      assert.match(type, /^[A-Za-z]+\.[A-Za-z]+\/[\w/]+@\d{4}-\d{2}-\d{2}(-preview)?$/, `${file}: ${type}`);
    }
  }
});

test("no hard-coded secrets, keys or connection strings", () => {
  for (const [file, src] of sources) {
    assert.doesNotMatch(src, /AccountKey=|SharedAccessSignature=|listKeys\(|password\s*[:=]\s*'/i, file);
  }
});

test("every app setting of local.settings.sample.json is set by the template (except the listed local-only ones)", () => {
  // FUNCTIONS_WORKER_RUNTIME: Flex Consumption rejects it; the runtime is functionAppConfig.runtime.
  // AzureWebJobsStorage: replaced by the identity-based AzureWebJobsStorage__accountName.
  // AZURE_CLIENT_ID: only for a user-assigned identity; the deployment uses the system-assigned one.
  const localOnly = new Set(["FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage", "AZURE_CLIENT_ID"]);
  const sample = JSON.parse(readFileSync(join(process.cwd(), "local.settings.sample.json"), "utf8")) as { Values: Record<string, string> };
  const all = [...sources.values()].join("\n");
  for (const key of Object.keys(sample.Values)) {
    if (localOnly.has(key)) continue;
    assert.match(all, new RegExp(`^\\s+${key}:`, "m"), `app setting ${key} is not set`);
  }
  assert.match(sources.get("modules/functionapp.bicep")!, /AzureWebJobsStorage__accountName:/);
  assert.match(sources.get("modules/functionapp.bicep")!, /runtime:\s*\{\s*name: 'node'\s*version: '22'/);
});

test("role definition GUIDs are the documented built-in roles", () => {
  // learn.microsoft.com/azure/role-based-access-control/built-in-roles (general, monitor, databases, storage)
  const documented: Record<string, string> = {
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "749f88d5-cbae-40b8-bcfc-e573ddc772fa": "Monitoring Contributor",
    "056cd41c-7e88-42e1-933e-88ba6a50c9c3": "SQL Security Manager",
    "73c42c96-874c-492b-b04d-ab87d138a893": "Log Analytics Reader",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
  };
  const used = new Set([...sources.values()].flatMap((s) => [...s.matchAll(/'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'/g)].map((m) => m[1]!)));
  for (const g of used) assert.ok(g in documented, `role GUID ${g} is not a documented built-in role`);
  for (const g of Object.keys(documented)) assert.ok(used.has(g), `${documented[g]} (${g}) is never assigned`);
});

test("azd parameters file feeds main.bicep's required params", () => {
  const params = JSON.parse(readFileSync(join(infra, "main.parameters.json"), "utf8")) as { parameters: Record<string, { value: unknown }> };
  assert.equal(params.parameters["environmentName"]?.value, "${AZURE_ENV_NAME}");
  assert.equal(params.parameters["location"]?.value, "${AZURE_LOCATION}");
  const main = sources.get("main.bicep")!;
  for (const key of Object.keys(params.parameters)) assert.match(main, new RegExp(`^param\\s+${key}\\b`, "m"), key);
});
