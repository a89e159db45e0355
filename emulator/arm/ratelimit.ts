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
