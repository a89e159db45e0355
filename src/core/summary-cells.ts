import type { TargetKind, TargetStatus } from "./domain.js";

/**
 * A scan's summary as a handful of cells: how many targets share a subscription, kind, status and set of failing
 * rules. Their number grows with the estate's diversity, not its size, so the report's counts for any filter of
 * subscription, kind, status and rule come from them without reading a single result.
 */
export interface SummaryCell {
  subscriptionId: string;
  kind: TargetKind;
  status: TargetStatus;
  failingRuleIds: string[];
  targets: number;
}

export interface SummaryFilter {
  subscriptionIds?: readonly string[];
  kinds?: readonly TargetKind[];
  statuses?: readonly TargetStatus[];
  ruleIds?: readonly string[];
}

export class SummaryCells {
  private readonly byKey = new Map<string, SummaryCell>();

  constructor(cells: readonly SummaryCell[] = []) {
    for (const c of cells) this.add(c, c.targets);
  }

  add(entry: Omit<SummaryCell, "targets">, targets = 1): void {
    const rules = [...new Set(entry.failingRuleIds)].sort();
    const subscriptionId = entry.subscriptionId.toLowerCase();
    const key = [subscriptionId, entry.kind, entry.status, rules.join(",")].join("|");
    const cell = this.byKey.get(key);
    if (cell) cell.targets += targets;
    else this.byKey.set(key, { subscriptionId, kind: entry.kind, status: entry.status, failingRuleIds: rules, targets });
  }

  cells(): SummaryCell[] {
    return [...this.byKey.values()].sort((a, b) => (a.subscriptionId + a.kind + a.status).localeCompare(b.subscriptionId + b.kind + b.status));
  }

  /** The cells a filter selects (any of its subscriptions, kinds, statuses; failing any of its rules). */
  matching(filter: SummaryFilter): SummaryCell[] {
    const subs = filter.subscriptionIds?.length ? new Set(filter.subscriptionIds.map((s) => s.toLowerCase())) : undefined;
    return this.cells().filter(
      (c) =>
        (!subs || subs.has(c.subscriptionId)) &&
        (!filter.kinds?.length || filter.kinds.includes(c.kind)) &&
        (!filter.statuses?.length || filter.statuses.includes(c.status)) &&
        (!filter.ruleIds?.length || c.failingRuleIds.some((r) => filter.ruleIds!.includes(r))),
    );
  }
}
