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

function kindLiterals(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const inTargetKindUnion = (node: ts.Node): boolean => {
    for (let n: ts.Node | undefined = node; n; n = n.parent) if (ts.isTypeAliasDeclaration(n) && n.name.text === "TargetKind") return true;
    return false;
  };
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      const allowed = relative(SRC, file) === join("core", "domain.ts") && inTargetKindUnion(node);
      if (!allowed) for (const id of mentionsKind(node.text)) found.push(`${relative(process.cwd(), file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}: ${id}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("kinds live in src/kinds", () => {
  it("no source file outside src/kinds spells a kind's id (the TargetKind union excepted)", () => {
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
