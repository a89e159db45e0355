import type { Target } from "../core/domain.js";

/**
 * The order targets are scanned (and queued) in: one subscription after another in turn, round-robin, each
 * subscription's targets by id, subscriptions by id. ARM meters reads per subscription and principal (a token
 * bucket each, "Understand how Azure Resource Manager throttles requests"), so concurrent lanes that take targets
 * in this order draw on every subscription's bucket at once instead of draining one while the others sit full.
 * Stable: the same estate gives the same order.
 */
export function interleaveBySubscription<T extends Pick<Target, "id" | "subscriptionId">>(targets: readonly T[]): T[] {
  const bySubscription = new Map<string, T[]>();
  for (const target of [...targets].sort((a, b) => a.id.localeCompare(b.id))) {
    const key = target.subscriptionId.toLowerCase();
    let list = bySubscription.get(key);
    if (!list) bySubscription.set(key, (list = []));
    list.push(target);
  }
  const queues = [...bySubscription.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, list]) => list);
  const out: T[] = [];
  for (let round = 0; out.length < targets.length; round++) {
    for (const queue of queues) if (round < queue.length) out.push(queue[round]!);
  }
  return out;
}
