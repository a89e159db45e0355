import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import type { Node } from "yaml";
import { baselineSchema } from "./schema.js";
import type { Baseline } from "./schema.js";

/**
 * Parses a baseline from YAML or JSON text and reports every problem with its path and, for YAML, its line and
 * column, so a bad file is fixed in one pass. Nothing runs on a file with problems.
 */
export interface BaselineProblem {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export type BaselineParse = { ok: true; baseline: Baseline } | { ok: false; problems: BaselineProblem[] };

const SECRET_KEY = /(password|passwd|secret|token|accesskey|accountkey|connectionstring|sas|clientsecret|storageaccountaccesskey)$/i;

function pathText(path: ReadonlyArray<PropertyKey>): string {
  return path.length ? path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "") : "(root)";
}

function findSecretKeys(value: unknown, path: PropertyKey[] = []): PropertyKey[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => findSecretKeys(v, [...path, i]));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => (SECRET_KEY.test(k.replace(/[-_]/g, "")) ? [[...path, k]] : findSecretKeys(v, [...path, k])));
  }
  return [];
}

function nodeAt(root: Node | null, path: ReadonlyArray<PropertyKey>): Node | null {
  let node: Node | null = root;
  let last: Node | null = root;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => (item.key as { value?: unknown } | null)?.value === key);
      if (!pair) return last;
      node = (pair.value as Node | null) ?? (pair.key as Node);
    } else if (isSeq(node) && typeof key === "number") {
      node = (node.items[key] as Node | undefined) ?? null;
    } else {
      return last;
    }
    if (node) last = node;
  }
  return node ?? last;
}

export function parseBaseline(text: string, options: { format?: "yaml" | "json"; fileName?: string } = {}): BaselineParse {
  const format = options.format ?? (options.fileName?.toLowerCase().endsWith(".json") ? "json" : "yaml");
  const lineCounter = new LineCounter();
  let raw: unknown;
  let root: Node | null = null;
  if (format === "json") {
    try {
      raw = JSON.parse(text);
    } catch (error) {
      return { ok: false, problems: [{ path: "(root)", message: `invalid JSON: ${(error as Error).message}` }] };
    }
  } else {
    const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length) {
      return {
        ok: false,
        problems: doc.errors.map((e) => {
          const pos = lineCounter.linePos(e.pos[0]);
          return { path: "(root)", message: `invalid YAML: ${e.message.split("\n")[0]}`, line: pos.line, column: pos.col };
        }),
      };
    }
    raw = doc.toJS();
    root = doc.contents;
  }
  const locate = (path: ReadonlyArray<PropertyKey>): Pick<BaselineProblem, "line" | "column"> => {
    if (format !== "yaml") return {};
    const node = nodeAt(root, path);
    if (!node?.range) return {};
    const pos = lineCounter.linePos(node.range[0]);
    return { line: pos.line, column: pos.col };
  };

  const problems: BaselineProblem[] = findSecretKeys(raw).map((path) => ({
    path: pathText(path),
    message: "secrets do not belong in the baseline: AuditGuard authenticates with its managed identity",
    ...locate(path),
  }));
  const result = baselineSchema.safeParse(raw ?? {});
  if (!result.success) {
    for (const issue of result.error.issues) {
      const keys = issue.code === "unrecognized_keys" ? issue.keys : [undefined];
      for (const key of keys) {
        const path = key === undefined ? issue.path : [...issue.path, key];
        const message = issue.code === "unrecognized_keys" ? `unknown setting '${key}'` : issue.message;
        if (problems.some((p) => p.path === pathText(path))) continue;
        problems.push({ path: pathText(path), message, ...locate(path) });
      }
    }
  }
  if (problems.length) {
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || a.path.localeCompare(b.path));
    return { ok: false, problems };
  }
  return { ok: true, baseline: result.data! };
}

export function formatProblems(problems: readonly BaselineProblem[], fileName = "baseline"): string {
  return problems.map((p) => `${fileName}${p.line ? `:${p.line}:${p.column ?? 1}` : ""}: ${p.path}: ${p.message}`).join("\n");
}

export class BaselineError extends Error {
  constructor(readonly problems: BaselineProblem[], fileName?: string) {
    super(`the baseline has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n${formatProblems(problems, fileName)}`);
    this.name = "BaselineError";
  }
}

export function loadBaselineText(text: string, fileName?: string): Baseline {
  const parsed = parseBaseline(text, fileName ? { fileName } : {});
  if (!parsed.ok) throw new BaselineError(parsed.problems, fileName);
  return parsed.baseline;
}
