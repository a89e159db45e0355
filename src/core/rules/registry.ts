import type { TargetKind } from "../domain.js";
import type { Rule } from "./rule.js";
import { activityRules } from "./activity.js";
import { KINDS } from "../../kinds/registry.js";

/**
 * The rule catalog, in the order reports list it: each registered kind's rules, then the activity rules, which
 * apply to every kind. Ids are stable: reports, exemptions and alerts refer to them.
 */
export const RULES: readonly Rule[] = [...KINDS.flatMap((k) => k.rules), ...activityRules];

const byId = new Map(RULES.map((r) => [r.id, r]));
if (byId.size !== RULES.length) throw new Error("duplicate rule id in the catalog");

export function ruleById(id: string): Rule | undefined {
  return byId.get(id);
}

export function rulesFor(kind: TargetKind): Rule[] {
  return RULES.filter((r) => r.kind === kind || r.kind === "activity");
}

// A dependency names a rule of the catalog, and following dependencies never comes back to where it started.
for (const rule of RULES) {
  const path = new Set<string>();
  const walk = (id: string): void => {
    if (path.has(id)) throw new Error(`rule dependencies form a cycle through ${id}`);
    const r = byId.get(id);
    if (!r) throw new Error(`rule ${rule.id} depends on ${id}, which is not in the catalog`);
    path.add(id);
    for (const dep of r.dependsOn ?? []) walk(dep);
    path.delete(id);
  };
  walk(rule.id);
}
