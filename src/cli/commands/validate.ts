import { readFileSync } from "node:fs";
import { formatProblems, parseBaseline } from "../../core/policy/load.js";
import type { Baseline } from "../../core/policy/schema.js";
import { KINDS } from "../../kinds/registry.js";
import type { CommandResult } from "../result.js";
import { failure, ok } from "../result.js";

export function readBaselineFile(path: string): { ok: true; baseline: Baseline } | { ok: false; result: CommandResult } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return { ok: false, result: failure(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`) };
  }
  const parsed = parseBaseline(text, { fileName: path });
  if (!parsed.ok) {
    const n = parsed.problems.length;
    return { ok: false, result: failure(`${formatProblems(parsed.problems, path)}\n${path}: ${n} problem${n === 1 ? "" : "s"}; nothing was run\n`) };
  }
  return { ok: true, baseline: parsed.baseline };
}

export function validateCommand(path: string): CommandResult {
  const read = readBaselineFile(path);
  if (!read.ok) return read.result;
  const b = read.baseline;
  const kinds = KINDS.map((k) => `${k.modeKey}=${b.modes[k.modeKey] ?? b.mode}`).join(", ");
  return ok(`${path}: valid (mode ${b.mode}; ${kinds})\n`);
}
