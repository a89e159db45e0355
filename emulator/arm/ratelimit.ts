/**
 * ARM's throttling as "Understand how Azure Resource Manager throttles requests" describes it since 2024: a token
 * bucket per subscription, per security principal and per operation type (reads 250 tokens refilled at 25 per
 * second, writes and deletes 200 at 10 per second), a global bucket per subscription and operation type fifteen
 * times as large shared by all principals, and the same per-principal buckets for tenant-level requests. A request
 * takes one token from each bucket it falls under; with one empty, ARM answers 429 with Retry-After.
 */
export type OperationType = "read" | "write" | "delete";

export interface BucketConfig {
  /** Tokens the bucket holds when full (the burst). */
  size: number;
  refillPerSecond: number;
}

export interface ArmThrottlingConfig {
  reads: BucketConfig;
  writes: BucketConfig;
  deletes: BucketConfig;
  /** The global subscription buckets are this many times the per-principal ones (15 in the docs). */
  globalMultiplier: number;
}

export const DOCUMENTED_ARM_THROTTLING: ArmThrottlingConfig = {
  reads: { size: 250, refillPerSecond: 25 },
  writes: { size: 200, refillPerSecond: 10 },
  deletes: { size: 200, refillPerSecond: 10 },
  globalMultiplier: 15,
};

interface Bucket {
  tokens: number;
  at: number;
}

export type ThrottleDecision =
  | { ok: true; remaining: Record<string, number> }
  | { ok: false; retryAfterSeconds: number; scope: "subscription" | "global" | "tenant"; remaining: Record<string, number> };

const PLURAL: Record<OperationType, "reads" | "writes" | "deletes"> = { read: "reads", write: "writes", delete: "deletes" };

export class TokenBucketThrottle {
  private readonly buckets = new Map<string, Bucket>();
  constructor(private readonly config: ArmThrottlingConfig, private readonly now: () => number) {}

  /**
   * Takes a token for one request and returns the `x-ms-ratelimit-remaining-*` headers it answers with: the
   * principal's bucket (`subscription-reads`) and the global one (`subscription-global-reads`, [unverified] header
   * name), or `tenant-reads` for tenant-level requests.
   */
  take(subscriptionId: string | undefined, principal: string, type: OperationType): ThrottleDecision {
    const plural = PLURAL[type];
    const base = this.config[plural];
    const global = { size: base.size * this.config.globalMultiplier, refillPerSecond: base.refillPerSecond * this.config.globalMultiplier };
    const scopes = subscriptionId
      ? [
          { key: `sub:${subscriptionId.toLowerCase()}:${principal.toLowerCase()}:${type}`, config: base, header: `x-ms-ratelimit-remaining-subscription-${plural}`, scope: "subscription" as const },
          { key: `global:${subscriptionId.toLowerCase()}:${type}`, config: global, header: `x-ms-ratelimit-remaining-subscription-global-${plural}`, scope: "global" as const },
        ]
      : [{ key: `tenant:${principal.toLowerCase()}:${type}`, config: base, header: `x-ms-ratelimit-remaining-tenant-${plural}`, scope: "tenant" as const }];
    const now = this.now();
    const buckets = scopes.map((s) => ({ ...s, bucket: this.refilled(s.key, s.config, now) }));
    const empty = buckets.find((b) => b.bucket.tokens < 1);
    const remaining = (): Record<string, number> => Object.fromEntries(buckets.map((b) => [b.header, Math.max(0, Math.floor(b.bucket.tokens))]));
    if (empty) {
      // The time until the empty bucket holds one whole token again.
      const seconds = Math.max(1, Math.ceil((1 - empty.bucket.tokens) / empty.config.refillPerSecond));
      return { ok: false, retryAfterSeconds: seconds, scope: empty.scope, remaining: remaining() };
    }
    for (const b of buckets) b.bucket.tokens -= 1;
    return { ok: true, remaining: remaining() };
  }

  private refilled(key: string, config: BucketConfig, now: number): Bucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: config.size, at: now };
      this.buckets.set(key, bucket);
      return bucket;
    }
    bucket.tokens = Math.min(config.size, bucket.tokens + ((now - bucket.at) / 1000) * config.refillPerSecond);
    bucket.at = now;
    return bucket;
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
