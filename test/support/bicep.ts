// Reads Bicep with tree-sitter-bicep (the grammar the Bicep editors use), so the infra tests check a real parse
// tree instead of regular expressions over the text. No Bicep compiler is reachable here; this is the next best
// authority on syntax, and the symbol checks below catch what a compile would refuse next.
import { createRequire } from "node:module";
import { Language, Parser, type Node } from "web-tree-sitter";

const require = createRequire(import.meta.url);

let parser: Promise<Parser> | undefined;

// One initialisation for every caller: Parser.init() run twice over breaks the shared wasm module.
function bicepParser(): Promise<Parser> {
  parser ??= (async () => {
    await Parser.init();
    const language = await Language.load(require.resolve("tree-sitter-bicep/tree-sitter-bicep.wasm"));
    const p = new Parser();
    p.setLanguage(language);
    return p;
  })();
  return parser;
}

export interface SyntaxProblem {
  line: number;
  column: number;
  text: string;
}

export interface BicepParam {
  name: string;
  hasDefault: boolean;
  nullable: boolean;
}

export interface BicepModule {
  symbol: string;
  path: string;
  params: string[];
}

export interface BicepFile {
  syntaxProblems: SyntaxProblem[];
  params: BicepParam[];
  /** Params, vars, resources, modules, types and functions: the symbols an expression can read. */
  declared: string[];
  resourceTypes: string[];
  modules: BicepModule[];
  /** Identifiers read as values that are neither declared in the file nor loop or lambda variables. */
  unresolved: SyntaxProblem[];
  /** Called function names (namespace-qualified calls such as sys.x() excluded). */
  functionsCalled: string[];
  decorators: string[];
}

const DECLARATIONS = new Set([
  "parameter_declaration",
  "variable_declaration",
  "resource_declaration",
  "module_declaration",
  "output_declaration",
  "type_declaration",
  "user_defined_function",
]);

function at(node: Node): { line: number; column: number } {
  return { line: node.startPosition.row + 1, column: node.startPosition.column + 1 };
}

function walk(node: Node, visit: (n: Node) => void): void {
  visit(node);
  for (const child of node.namedChildren) if (child) walk(child, visit);
}

function stringValue(node: Node | null | undefined): string | undefined {
  if (!node || node.type !== "string") return undefined;
  return node.namedChildren.every((c) => c?.type === "string_content") ? node.text.slice(1, -1) : undefined;
}

function objectKeys(object: Node): Map<string, Node> {
  const keys = new Map<string, Node>();
  for (const prop of object.namedChildren) {
    if (prop?.type !== "object_property") continue;
    const key = prop.namedChild(0);
    const value = prop.namedChild(1);
    if (key && value) keys.set(key.type === "string" ? key.text.slice(1, -1) : key.text, value);
  }
  return keys;
}

/** The object body of a resource or module declaration, looking through `if (...)` and `[for ...]`. */
function bodyOf(declaration: Node): Node | undefined {
  let found: Node | undefined;
  walk(declaration, (n) => {
    if (!found && n.type === "object" && n.parent && ["module_declaration", "resource_declaration", "if_statement", "for_statement"].includes(n.parent.type)) found = n;
  });
  return found;
}

/** The leftmost expression of a member or subscript chain: the `()` of `().id`. */
function chainStart(node: Node): Node {
  let n = node;
  while ((n.type === "member_expression" || n.type === "subscript_expression") && n.childForFieldName("object")) n = n.childForFieldName("object")!;
  return n;
}

// tree-sitter-bicep 1.1.0 reads an array element `subscription().id` as two elements, the identifier
// `subscription` and `().id` (an empty parenthesized_expression): undo that so the call is seen as a call.
function isCallSplitByArrayQuirk(identifier: Node): boolean {
  const next = identifier.nextNamedSibling;
  if (identifier.parent?.type !== "array" || !next) return false;
  const start = chainStart(next);
  return start.type === "parenthesized_expression" && start.namedChildCount === 0 && start.startIndex === identifier.endIndex;
}

export async function parseBicep(source: string): Promise<BicepFile> {
  const tree = (await bicepParser()).parse(source);
  if (!tree) throw new Error("tree-sitter returned no tree");
  const root = tree.rootNode;

  const syntaxProblems: SyntaxProblem[] = [];
  walk(root, (n) => {
    if (n.isError || n.isMissing) syntaxProblems.push({ ...at(n), text: n.isMissing ? `missing ${n.type}` : n.text.slice(0, 60) });
  });

  const declared: string[] = [];
  const params: BicepParam[] = [];
  const resourceTypes: string[] = [];
  const modules: BicepModule[] = [];
  for (const decl of root.namedChildren) {
    if (!decl || !DECLARATIONS.has(decl.type)) continue;
    const name = decl.namedChild(0)?.text;
    if (!name) continue;
    // Outputs live in their own namespace: `output storageAccountName` beside `param storageAccountName` is valid.
    if (decl.type === "output_declaration") continue;
    declared.push(name);
    if (decl.type === "parameter_declaration") {
      const type = decl.namedChildren.find((c) => c?.type === "type" || c?.type === "nullable_type");
      params.push({ name, hasDefault: decl.namedChildren.length > 2, nullable: type?.type === "nullable_type" || (type?.text.endsWith("?") ?? false) });
    }
    if (decl.type === "resource_declaration") {
      const type = stringValue(decl.namedChild(1));
      if (type) resourceTypes.push(type);
    }
    if (decl.type === "module_declaration") {
      const body = bodyOf(decl);
      const paramsNode = body ? objectKeys(body).get("params") : undefined;
      modules.push({ symbol: name, path: stringValue(decl.namedChild(1)) ?? "", params: paramsNode?.type === "object" ? [...objectKeys(paramsNode).keys()] : [] });
    }
  }

  // Loop and lambda variables are scoped to their expression; treating them as file-wide keeps this simple and
  // still catches a misspelt param, var or resource, which is what a compile would refuse.
  const local = new Set<string>();
  walk(root, (n) => {
    if (n.type === "loop_variable" || n.type === "loop_enumerator") local.add(n.text);
    const initializer = n.type === "for_statement" ? n.childForFieldName("initializer") : null;
    if (initializer?.type === "identifier") local.add(initializer.text);
    if (n.type === "lambda_expression") {
      const first = n.namedChild(0);
      if (first?.type === "identifier") local.add(first.text);
      for (const c of first?.type === "lambda_parameters" || first?.type === "arguments" ? first.namedChildren : []) if (c) local.add(c.text);
    }
  });

  const known = new Set([...declared, ...local]);
  const unresolved: SyntaxProblem[] = [];
  const functionsCalled: string[] = [];
  const decorators: string[] = [];
  walk(root, (n) => {
    if (n.type === "identifier" && isCallSplitByArrayQuirk(n)) {
      functionsCalled.push(n.text);
      return;
    }
    if (n.type === "call_expression") {
      const fn = n.childForFieldName("function");
      if (fn?.type === "identifier") (n.parent?.type === "decorator" ? decorators : functionsCalled).push(fn.text);
      return;
    }
    if (n.type !== "identifier") return;
    const parent = n.parent;
    if (!parent) return;
    const isDeclarationName = DECLARATIONS.has(parent.type) && parent.namedChild(0)?.id === n.id;
    const isPropertyKey = parent.type === "object_property" && parent.namedChild(0)?.id === n.id;
    const isFunctionName = parent.type === "call_expression" && parent.childForFieldName("function")?.id === n.id;
    const isLoopInitializer = parent.type === "for_statement" && parent.childForFieldName("initializer")?.id === n.id;
    const isLambdaParam = parent.type === "lambda_expression" && parent.namedChild(0)?.id === n.id;
    const isNamespace = parent.type === "member_expression" && parent.childForFieldName("object")?.id === n.id && parent.parent?.type === "call_expression" && ["sys", "az"].includes(n.text);
    if (isDeclarationName || isPropertyKey || isFunctionName || isLoopInitializer || isLambdaParam || isNamespace) return;
    if (!known.has(n.text)) unresolved.push({ ...at(n), text: n.text });
  });

  return { syntaxProblems, params, declared, resourceTypes, modules, unresolved, functionsCalled, decorators };
}
