// The README's rule catalog table, generated from the registry so the two cannot drift (a test compares them).
import { RULES } from "../src/core/rules/registry.js";

export function ruleCatalogMarkdown(): string {
  const rows = RULES.map((r) => `| \`${r.id}\` | ${r.severity} | ${r.kind} | ${r.remediable ? "yes" : "reports"} | ${r.title} |`);
  return ["| id | severity | applies to | fixed by AuditGuard | checks that |", "|---|---|---|---|---|", ...rows].join("\n");
}

if (process.argv[1]?.endsWith("rule-table.ts")) console.log(ruleCatalogMarkdown());
