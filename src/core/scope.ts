import type { Baseline, Mode } from "./policy/schema.js";
import type { Target, TargetKind } from "./domain.js";
import { sameAzureName } from "./names.js";
import { kindOf } from "../kinds/registry.js";

/** Which targets the baseline covers, which it exempts, and what it may do to each kind. */
export function inScope(baseline: Baseline, target: Target): boolean {
  const scope = baseline.scope;
  if (!scope.kinds.includes(target.kind)) return false;
  if (scope.subscriptions.length && !scope.subscriptions.some((s) => sameAzureName(s, target.subscriptionId))) return false;
  if (scope.resourceGroups.length) {
    const qualified = `${target.subscriptionId}/${target.resourceGroup}`;
    if (!scope.resourceGroups.some((entry) => sameAzureName(entry, target.resourceGroup) || sameAzureName(entry, qualified))) return false;
  }
  const tag = (name: string) => Object.entries(target.tags).find(([k]) => sameAzureName(k, name))?.[1];
  for (const [name, value] of Object.entries(scope.includeTags)) if (tag(name) !== value) return false;
  for (const [name, value] of Object.entries(scope.excludeTags)) if (tag(name) === value) return false;
  return true;
}

export function modeFor(baseline: Baseline, kind: TargetKind): Mode {
  return baseline.modes[kindOf(kind).modeKey] ?? baseline.mode;
}

const MODE_ORDER: Record<Mode, number> = { off: 0, plan: 1, enforce: 2 };

/** The least of several modes: a request may lower what the baseline allows, never raise it. */
export function lowestMode(first: Mode, ...others: ReadonlyArray<Mode | undefined>): Mode {
  return others.reduce<Mode>((low, m) => (m !== undefined && MODE_ORDER[m] < MODE_ORDER[low] ? m : low), first);
}

export type ExemptionStatus =
  | { state: "none" }
  | { state: "active"; reason: string; expires?: string; rules?: string[]; source: "tag" | "list" }
  | { state: "expired"; reason: string; expires: string };

export function exemptionFor(baseline: Baseline, target: Target, now: Date): ExemptionStatus {
  const { tag, resources } = baseline.exemptions;
  const tagValue = Object.entries(target.tags).find(([k]) => sameAzureName(k, tag.name))?.[1];
  // Tag values are case-sensitive in Azure; the exemption tag's value is matched leniently all the same ("True").
  if (tagValue !== undefined && sameAzureName(tagValue, tag.value)) {
    return { state: "active", reason: `tagged ${tag.name}=${tagValue}`, source: "tag" };
  }
  const entry = resources.find((r) => sameAzureName(r.resourceId, target.id));
  if (!entry) return { state: "none" };
  // An exemption holds through the whole of its expiry day (UTC).
  const end = new Date(`${entry.expires}T23:59:59.999Z`);
  if (now.getTime() > end.getTime()) return { state: "expired", reason: entry.reason, expires: entry.expires };
  return { state: "active", reason: entry.reason, expires: entry.expires, ...(entry.rules ? { rules: entry.rules } : {}), source: "list" };
}

export function exempts(status: ExemptionStatus, ruleId: string): boolean {
  return status.state === "active" && (!status.rules || status.rules.includes(ruleId));
}
