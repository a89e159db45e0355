import { RULES } from "../../core/rules/registry.js";
import { textTable } from "../table.js";
import type { CommandResult } from "../result.js";
import { failure, ok } from "../result.js";

export function rulesCommand(options: { format?: string }): CommandResult {
  const format = options.format ?? "table";
  if (format === "json") {
    return ok(`${JSON.stringify(RULES.map(({ id, title, severity, kind, rationale, remedy, remediable }) => ({ id, title, severity, kind, rationale, remedy, remediable })), null, 2)}\n`);
  }
  if (format !== "table") return failure(`unknown format '${format}': use table or json\n`);
  return ok(textTable(["ID", "SEVERITY", "KIND", "FIXES", "TITLE"], RULES.map((r) => [r.id, r.severity, r.kind, r.remediable ? "yes" : "no", r.title])));
}
