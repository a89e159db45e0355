/**
 * Application locks (sp_getapplock) shared by all sessions of one instance. Resources compare as binary
 * (case-sensitive), per the docs. Modes: Shared, Update, IntentShared, IntentExclusive, Exclusive.
 */

export type LockMode = "Shared" | "Update" | "IntentShared" | "IntentExclusive" | "Exclusive";
export const lockModes: readonly LockMode[] = ["Shared", "Update", "IntentShared", "IntentExclusive", "Exclusive"];

/** Lock compatibility matrix (SQL Server lock compatibility for S/U/IS/IX/X). */
const compatible: Record<LockMode, ReadonlySet<LockMode>> = {
  IntentShared: new Set(["IntentShared", "IntentExclusive", "Shared", "Update"]),
  IntentExclusive: new Set(["IntentShared", "IntentExclusive"]),
  Shared: new Set(["IntentShared", "Shared", "Update"]),
  Update: new Set(["IntentShared", "Shared"]),
  Exclusive: new Set(),
};

/** An owner is one session with owner type Session, or one session's current transaction. */
export interface LockOwner {
  sessionId: number;
  type: "Session" | "Transaction";
}

interface Grant {
  owner: string;
  mode: LockMode;
  count: number;
}
interface Waiter {
  owner: string;
  mode: LockMode;
  resolve: (code: number) => void;
}

const key = (o: LockOwner): string => `${o.sessionId}:${o.type}`;

export class AppLockManager {
  private readonly grants = new Map<string, Grant[]>();
  private readonly waiters = new Map<string, Waiter[]>();

  private grantable(resource: string, owner: string, mode: LockMode): boolean {
    return (this.grants.get(resource) ?? []).every((g) => g.owner === owner || compatible[mode].has(g.mode));
  }

  private grant(resource: string, owner: string, mode: LockMode): void {
    const list = this.grants.get(resource) ?? [];
    const mine = list.find((g) => g.owner === owner && g.mode === mode);
    if (mine) mine.count++;
    else list.push({ owner, mode, count: 1 });
    this.grants.set(resource, list);
  }

  /** Return codes as sp_getapplock's: 0 granted at once, 1 after waiting, -1 timeout, -2 cancelled. */
  acquire(resource: string, mode: LockMode, owner: LockOwner, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    const k = key(owner);
    const queued = (this.waiters.get(resource) ?? []).length > 0;
    if (!queued && this.grantable(resource, k, mode)) {
      this.grant(resource, k, mode);
      return Promise.resolve(0);
    }
    if (timeoutMs === 0) return Promise.resolve(-1);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        owner: k,
        mode,
        resolve: (code) => {
          if (timer) clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          resolve(code);
        },
      };
      const leave = (code: number): void => {
        const list = this.waiters.get(resource) ?? [];
        const i = list.indexOf(waiter);
        if (i < 0) return;
        list.splice(i, 1);
        if (list.length === 0) this.waiters.delete(resource);
        waiter.resolve(code);
        this.wake(resource);
      };
      const onAbort = (): void => leave(-2);
      if (timeoutMs > 0) timer = setTimeout(() => leave(-1), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      const list = this.waiters.get(resource) ?? [];
      list.push(waiter);
      this.waiters.set(resource, list);
    });
  }

  /** Returns false when the owner holds no lock on the resource in that mode (or any mode when mode is omitted). */
  release(resource: string, owner: LockOwner): boolean {
    const k = key(owner);
    const list = this.grants.get(resource) ?? [];
    const mine = list.find((g) => g.owner === k);
    if (!mine) return false;
    mine.count--;
    if (mine.count === 0) list.splice(list.indexOf(mine), 1);
    if (list.length === 0) this.grants.delete(resource);
    this.wake(resource);
    return true;
  }

  /** Releases every lock the owner holds (transaction end, session close). */
  releaseAll(owner: LockOwner): void {
    const k = key(owner);
    for (const [resource, list] of [...this.grants]) {
      const kept = list.filter((g) => g.owner !== k);
      if (kept.length === list.length) continue;
      if (kept.length === 0) this.grants.delete(resource);
      else this.grants.set(resource, kept);
      this.wake(resource);
    }
  }

  /** How many requests wait on a resource (for tests and diagnostics). */
  waiting(resource: string): number {
    return this.waiters.get(resource)?.length ?? 0;
  }

  /** Cancels waits of a session (it closed). */
  cancelWaits(sessionId: number): void {
    for (const [resource, list] of [...this.waiters]) {
      for (const w of [...list]) {
        if (w.owner.startsWith(`${sessionId}:`)) {
          list.splice(list.indexOf(w), 1);
          w.resolve(-2);
        }
      }
      if (list.length === 0) this.waiters.delete(resource);
      this.wake(resource);
    }
  }

  private wake(resource: string): void {
    const list = this.waiters.get(resource);
    while (list && list.length > 0 && this.grantable(resource, list[0]!.owner, list[0]!.mode)) {
      const w = list.shift()!;
      this.grant(resource, w.owner, w.mode);
      w.resolve(1);
    }
    if (list && list.length === 0) this.waiters.delete(resource);
  }
}
