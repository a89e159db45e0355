import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import ts from "typescript";
import { KIND_IDS, KINDS } from "../../src/kinds/registry.js";
import { KIND_ADAPTERS } from "../../src/kinds/adapters.js";
import { RULES } from "../../src/core/rules/registry.js";

/**
 * A kind is one module (src/kinds/<kind>/) and the registry: no other source file spells a kind's id or branches on
 * it. Read from the source text with TypeScript's own parser, so comments never count and every string, template
 * and literal type does; the TargetKind union in src/core/domain.ts is the one place outside src/kinds that may.
 */
const SRC = join(process.cwd(), "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

const mentionsKind = (text: string) => KIND_IDS.filter((id) => new RegExp(`(^|[^A-Za-z0-9-])${id}($|[^A-Za-z0-9-])`).test(text));
const ARM_TYPES = KINDS.map((k) => k.armType.toLowerCase());
const RULE_PREFIXES = KINDS.map((k) => `${k.rulePrefix}.`);
/** The baseline's per-kind sections and mode keys: spelt only where the baseline's schema defines them. */
const BASELINE_KEYS = new Set<string>(KINDS.flatMap((k) => [k.section, k.modeKey]));
// The baseline's schema is where the sections and mode keys are defined (the kinds read them through it).
const KEYS_ALLOWED_IN = new Set([join("core", "policy", "schema.ts")]);

/** What a string literal's text says of a kind: its id, its ARM type (any case), a rule id under its prefix, its baseline key. */
function kindWordsIn(text: string, keysAllowed: boolean): string[] {
  const lower = text.toLowerCase();
  return [
    ...mentionsKind(text),
    ...ARM_TYPES.filter((t) => lower.includes(t)),
    ...RULE_PREFIXES.filter((p) => text.startsWith(p)),
    ...(keysAllowed || !BASELINE_KEYS.has(text) ? [] : [text]),
  ];
}

function kindLiterals(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const rel = relative(SRC, file);
  const keysAllowed = KEYS_ALLOWED_IN.has(rel);
  const inTargetKindUnion = (node: ts.Node): boolean => {
    for (let n: ts.Node | undefined = node; n; n = n.parent) if (ts.isTypeAliasDeclaration(n) && n.name.text === "TargetKind") return true;
    return false;
  };
  const at = (node: ts.Node, what: string) => `${relative(process.cwd(), file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}: ${what}`;
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      const allowed = rel === join("core", "domain.ts") && inTargetKindUnion(node);
      if (!allowed) for (const word of kindWordsIn(node.text, keysAllowed)) found.push(at(node, word));
    }
    // `baseline.sqlServer`, `modes.sqlManagedInstance`: a kind's section or mode key read by name.
    if (ts.isPropertyAccessExpression(node) && !keysAllowed && BASELINE_KEYS.has(node.name.text)) found.push(at(node, `.${node.name.text}`));
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("kinds live in src/kinds", () => {
  it("no source file outside src/kinds spells a kind's id, ARM type, rule prefix or baseline key (the TargetKind union and the baseline's schema excepted)", () => {
    const outside = sourceFiles(SRC).filter((f) => !relative(SRC, f).startsWith(`kinds${sep}`));
    assert.ok(outside.length > 50, "the scan sees the source tree");
    assert.deepEqual(outside.flatMap(kindLiterals), []);
  });

  it("the check finds a kind id in a string, a template and a literal type, and not in a comment", () => {
    const probe = join(process.cwd(), "dist", "kind-boundary-probe.ts");
    ts.sys.writeFile(probe, `// sql-server in a comment\nconst a = "sql-server";\nconst b = \`x \${a} synapse-workspace\`;\ntype C = "sql-managed-instance";\n`);
    assert.deepEqual(
      kindLiterals(probe).map((s) => s.replace(/^.*:(\d+): /, "$1 ")),
      ["2 sql-server", "3 synapse-workspace", "4 sql-managed-instance"],
    );
  });

  it("the check finds every kind's ARM type in any case, a rule id under its prefix and its baseline keys, and not a prefix inside a word", () => {
    const probe = join(process.cwd(), "dist", "kind-boundary-probe-words.ts");
    const lines = KINDS.flatMap((k) => [
      `const a = "/providers/${k.armType.toUpperCase()}/x";`,
      `const b = "${k.rulePrefix}.anything";`,
      `const c = baseline.${k.section}.diagnosticSetting;`,
      `const d = baseline.modes.${k.modeKey};`,
      `const e = baseline["${k.section}"];`,
      `const f = "not ${k.rulePrefix}.x, ${k.rulePrefix}x.y";`,
    ]);
    ts.sys.writeFile(probe, `${lines.join("\n")}\n`);
    const expected = KINDS.flatMap((k, i) => [
      `${i * 6 + 1} ${k.armType}`,
      `${i * 6 + 2} ${k.rulePrefix}.`,
      `${i * 6 + 3} .${k.section}`,
      `${i * 6 + 4} .${k.modeKey}`,
      `${i * 6 + 5} ${k.section}`,
    ]);
    assert.deepEqual(kindLiterals(probe).map((s) => s.replace(/^.*:(\d+): /, "$1 ")), expected);
  });

  it("every registered kind has its adapter, its rules and its diagnostic-setting rule, in registry order", () => {
    assert.deepEqual(
      KIND_ADAPTERS.map((a) => a.kind),
      KINDS.map((k) => k.id),
    );
    for (const kind of KINDS) {
      const own = RULES.filter((r) => r.kind === kind.id).map((r) => r.id);
      assert.deepEqual(own, kind.rules.map((r) => r.id));
      assert.ok(own.every((id) => id.startsWith(`${kind.rulePrefix}.`)), `${kind.id}: rule ids start with ${kind.rulePrefix}.`);
      assert.equal(own.at(-1), `${kind.rulePrefix}.diagnostic-setting`);
    }
  });
});
