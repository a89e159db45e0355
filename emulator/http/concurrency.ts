/**
 * A per-user concurrency limit with a bounded wait queue, as Log Analytics applies it to queries ("User query
 * throttling" in "Azure Monitor service limits"): at most `concurrent` running per user, further ones wait in
 * arrival order; past `queueLength` waiting, or after `queueTimeoutMs` waiting, a query is refused.
 */
export type Admission = { ok: true; release: () => void } | { ok: false; reason: "queue-full" | "queue-timeout" };

interface Waiter {
  admit: () => void;
  timer: ReturnType<typeof setTimeout>;
}

export class PerUserConcurrency {
  private readonly running = new Map<string, number>();
  private readonly queues = new Map<string, Waiter[]>();

  constructor(private readonly limits: { concurrent: number; queueLength: number; queueTimeoutMs: number }) {}

  acquire(user: string): Promise<Admission> {
    const running = this.running.get(user) ?? 0;
    if (running < this.limits.concurrent) {
      this.running.set(user, running + 1);
      return Promise.resolve({ ok: true, release: this.releaser(user) });
    }
    const queue = this.queues.get(user) ?? [];
    if (queue.length >= this.limits.queueLength) return Promise.resolve({ ok: false, reason: "queue-full" });
    this.queues.set(user, queue);
    return new Promise<Admission>((resolve) => {
      const waiter: Waiter = {
        admit: () => {
          clearTimeout(waiter.timer);
          resolve({ ok: true, release: this.releaser(user) });
        },
        timer: setTimeout(() => {
          queue.splice(queue.indexOf(waiter), 1);
          resolve({ ok: false, reason: "queue-timeout" });
        }, this.limits.queueTimeoutMs),
      };
      queue.push(waiter);
    });
  }

  /** Queries running for `user` now (tests read it). */
  runningFor(user: string): number {
    return this.running.get(user) ?? 0;
  }

  private releaser(user: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queues.get(user)?.shift();
      // The slot passes straight to the next waiter; otherwise it is freed.
      if (next) next.admit();
      else this.running.set(user, (this.running.get(user) ?? 1) - 1);
    };
  }
}
