import { readFileSync } from "node:fs";
import { evaluate } from "../../core/evaluate.js";
import { plan } from "../../core/plan.js";
import { describeChange } from "../../core/domain.js";
import { parseObservation } from "../../core/observation-schema.js";
import { readBaselineFile } from "./validate.js";
import type { CommandResult } from "../result.js";
import { EXIT, failure, ok } from "../result.js";
import { sqlScript } from "../sql-script.js";

export function planCommand(options: { config: string; observation: string; format?: string; now?: Date }): CommandResult {
  const format = options.format ?? "text";
  if (format !== "text" && format !== "json" && format !== "sql") return failure(`unknown format '${format}': use text, json or sql\n`);
  const read = readBaselineFile(options.config);
  if (!read.ok) return read.result;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(options.observation, "utf8"));
  } catch (error) {
    return failure(`cannot read observation ${options.observation}: ${(error as Error).message}\n`);
  }
  const parsed = parseObservation(raw);
  if (!parsed.ok) return failure(`${parsed.problems.map((p) => `${options.observation}: ${p}`).join("\n")}\n`);
  const now = options.now ?? new Date();
  const findings = evaluate(read.baseline, parsed.observation, now);
  const actions = plan(read.baseline, parsed.observation, findings);
  const exitCode = actions.length ? EXIT.drift : EXIT.ok;
  if (format === "json") return ok(`${JSON.stringify({ target: parsed.observation.target, findings, plan: actions }, null, 2)}\n`, exitCode);
  if (format === "sql") return ok(sqlScript([{ target: parsed.observation.target, actions }], { generatedAt: now.toISOString(), origin: `the observation ${options.observation} (observed ${parsed.observation.observedAt})` }), exitCode);
  const failing = findings.filter((f) => f.status === "fail" || f.status === "error");
  const lines = [`# ${parsed.observation.target.kind} ${parsed.observation.target.id}`];
  lines.push(failing.length ? `# ${failing.length} finding${failing.length === 1 ? "" : "s"}:` : "# no findings");
  for (const f of failing) lines.push(`#   [${f.severity}] ${f.ruleId} (${f.status}): ${f.message}`);
  lines.push(actions.length ? `# plan: ${actions.length} change${actions.length === 1 ? "" : "s"}, in order` : "# plan: nothing to change");
  for (const [i, action] of actions.entries()) {
    lines.push(`-- ${i + 1}. ${action.description} [${action.ruleIds.join(", ") || "ordering step"}]`);
    lines.push(describeChange(action));
  }
  return ok(`${lines.join("\n")}\n`, exitCode);
}
