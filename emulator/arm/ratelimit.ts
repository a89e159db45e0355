/**
 * ARM's per-subscription request budget: x-ms-ratelimit-remaining-subscription-reads / -writes count down within
 * a window and are restored when it ends; an exhausted budget answers 429 until then.
 */
export interface RateLimitConfig {
  reads: number;
  writes: number;
  windowSeconds: number;
}

interface Bucket {
  windowStart: number;
  reads: number;
  writes: number;
}

export type RateDecision = { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number };

export class SubscriptionRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  constructor(private readonly config: RateLimitConfig, private readonly now: () => number) {}

  take(subscriptionId: string, kind: "read" | "write"): RateDecision {
    const key = subscriptionId.toLowerCase();
    const now = this.now();
    const windowMs = this.config.windowSeconds * 1000;
    let bucket = this.buckets.get(key);
    if (!bucket || now - bucket.windowStart >= windowMs) {
      bucket = { windowStart: now, reads: this.config.reads, writes: this.config.writes };
      this.buckets.set(key, bucket);
    }
    const field = kind === "read" ? "reads" : "writes";
    if (bucket[field] <= 0) return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((bucket.windowStart + windowMs - now) / 1000)) };
    bucket[field]--;
    return { ok: true, remaining: bucket[field] };
  }
}

/** A fixed-window quota per user (Resource Graph: 15 queries per 5 seconds); `remaining` goes negative when exceeded. */
export class UserQuota {
  private readonly windows = new Map<string, { start: number; used: number }>();
  constructor(private readonly limit: number, private readonly windowMs: number, private readonly now: () => number) {}

  take(user: string): { remaining: number; resetsAfter: string; resetsAfterMs: number } {
    const now = this.now();
    let window = this.windows.get(user);
    if (!window || now - window.start >= this.windowMs) {
      window = { start: now, used: 0 };
      this.windows.set(user, window);
    }
    window.used++;
    const resetsAfterMs = window.start + this.windowMs - now;
    const seconds = Math.ceil(resetsAfterMs / 1000);
    return { remaining: this.limit - window.used, resetsAfter: `00:00:${String(seconds).padStart(2, "0")}`, resetsAfterMs };
  }
}
