// No Bicep compiler is reachable here, so these checks hold the templates to what a compile would catch first
// (structure, references, declared params, unique symbols) and to the facts the deployment depends on
// (documented role GUIDs, every app setting the app reads, no secrets).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";

const infra = join(process.cwd(), "infra");
const files = ["main.bicep", ...readdirSync(join(infra, "modules")).filter((f) => f.endsWith(".bicep")).map((f) => `modules/${f}`)];
const sources = new Map(files.map((f) => [f, readFileSync(join(infra, f), "utf8")]));

/** Source without comments and string contents, so brackets inside either don't count. */
// One left-to-right pass, so '//' inside a string (a URL) is not a comment and a quote inside a comment is no string.
const TOKENS = /'(?:[^'\\\n]|\\.)*'|\/\/.*$|\/\*[\s\S]*?\*\//gm;
function code(src: string): string {
  return src.replace(TOKENS, (t) => (t.startsWith("'") ? "''" : ""));
}
function withoutComments(src: string): string {
  return src.replace(TOKENS, (t) => (t.startsWith("'") ? t : ""));
}

test("every Bicep file has balanced braces, brackets and parentheses", () => {
  for (const [file, src] of sources) {
    const stack: string[] = [];
    const pairs: Record<string, string> = { "}": "{", "]": "[", ")": "(" };
    for (const ch of code(src)) {
      if ("{[(".includes(ch)) stack.push(ch);
      else if (ch in pairs) assert.equal(stack.pop(), pairs[ch], `${file}: unbalanced ${ch}`);
    }
    assert.deepEqual(stack, [], `${file}: unclosed ${stack.join("")}`);
  }
});

test("every module path exists", () => {
  for (const [file, src] of sources) {
    for (const m of src.matchAll(/^module\s+\w+\s+'([^']+)'/gm)) {
      assert.ok(existsSync(join(infra, dirname(file), m[1]!)), `${file}: module ${m[1]} not found`);
    }
  }
});

test("every identifier used as a param is declared, and every declared param is used", () => {
  for (const [file, src] of sources) {
    const body = code(src);
    const declared = [...body.matchAll(/^param\s+(\w+)/gm)].map((m) => m[1]!);
    for (const p of declared) {
      // Strings are kept here: a param may only be used inside an interpolation.
      const uses = withoutComments(src).split(/\n/).filter((l) => !l.startsWith("param ") && new RegExp(`\\b${p}\\b`).test(l));
      assert.ok(uses.length > 0, `${file}: param ${p} is declared but never used`);
    }
    // Interpolations reference symbols too: every ${x...} root must be a param, var, resource, module or function.
    const symbols = new Set([...body.matchAll(/^(?:param|var|resource|module|output)\s+(\w+)/gm)].map((m) => m[1]!));
    for (const m of src.matchAll(/\$\{(\w+)/g)) {
      const root = m[1]!;
      const isFunction = new RegExp(`\\$\\{${root}\\(`).test(src);
      assert.ok(symbols.has(root) || isFunction, `${file}: \${${root}} refers to nothing declared`);
    }
  }
});

test("symbolic names are unique within each file", () => {
  for (const [file, src] of sources) {
    const names = [...code(src).matchAll(/^(?:param|var|resource|module)\s+(\w+)/gm)].map((m) => m[1]!);
    assert.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), [], `${file}: duplicate symbols`);
  }
});

test("module params passed from main.bicep are declared by the module", () => {
  const main = sources.get("main.bicep")!;
  for (const m of main.matchAll(/^module\s+\w+\s+'([^']+)'[^\n]*\n([\s\S]*?)^}/gm)) {
    const module = sources.get(m[1]!)!;
    const params = /params:\s*\{([\s\S]*?)\n {2}\}/.exec(m[2]!)?.[1] ?? "";
    for (const p of params.matchAll(/^ {4}(\w+):/gm)) {
      assert.match(module, new RegExp(`^param\\s+${p[1]}\\b`, "m"), `${m[1]}: no param ${p[1]}`);
    }
  }
});

test("resource types carry an explicit apiVersion", () => {
  for (const [file, src] of sources) {
    for (const m of src.matchAll(/^resource\s+\w+\s+'([^']+)'/gm)) {
      assert.match(m[1]!, /^[A-Za-z]+\.[A-Za-z]+\/[\w/]+@\d{4}-\d{2}-\d{2}(-preview)?$/, `${file}: ${m[1]}`);
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
