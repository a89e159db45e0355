import type { Target } from "../core/domain.js";
import type { LeaseHolder, ResultsStore } from "../azure/results-store.js";

/**
 * The per-target remediation lease: taken before anything is changed, renewed while the work goes on, released
 * at the end. It is short (a minute) and renewed every third of it, so a scanner that crashed holds a target for a
 * minute at most, and whoever finds its lease expired takes it over and says whose it was.
 */
export const LEASE_TTL_MS = 60_000;

export interface HeldLease {
  /** Set when a renewal found the lease gone (expired and taken by another owner): the work must stop. */
  lost(): string | undefined;
  release(): Promise<void>;
}

export type LockOutcome = { acquired: true; lease: HeldLease; tookOver?: string } | { acquired: false; reason: string };

export type TargetLock = (target: Target) => Promise<LockOutcome>;

const ago = (ms: number) => `${Math.max(0, Math.round(ms / 1000))} s ago`;

export function describeHolder(holder: LeaseHolder, now = Date.now()): string {
  return `${holder.owner} (since ${new Date(holder.acquiredAt).toISOString()}, renewed ${ago(now - holder.renewedAt)})`;
}

export function storeLock(store: ResultsStore, owner: string, ttlMs = LEASE_TTL_MS): TargetLock {
  return async (target) => {
    const outcome = await store.acquireLease(target.id, owner, ttlMs);
    if (!outcome.acquired) return { acquired: false, reason: `another scanner holds this target's remediation lease: ${describeHolder(outcome.holder)}; left for it` };
    let lostReason: string | undefined;
    const timer = setInterval(() => {
      store.renewLease(target.id, owner, ttlMs).then(
        (held) => {
          if (!held) lostReason ??= "the remediation lease was lost (it expired and another scanner took it)";
        },
        () => undefined, // a failed renewal is retried at the next beat; the lease lasts three of them
      );
    }, Math.max(1_000, Math.floor(ttlMs / 3)));
    timer.unref?.();
    return {
      acquired: true,
      ...(outcome.tookOverFrom ? { tookOver: `took over the remediation lease of ${describeHolder(outcome.tookOverFrom)}, which had expired: that scanner stopped renewing it (it probably crashed)` } : {}),
      lease: {
        lost: () => lostReason,
        release: async () => {
          clearInterval(timer);
          await store.releaseLease(target.id, owner);
        },
      },
    };
  };
}
