import type { AbortSignalLike } from "@azure/abort-controller";
import { AbortError } from "@azure/abort-controller";
import type { PipelinePolicy, PipelineRequest, PipelineResponse, SendRequest } from "@azure/core-rest-pipeline";
import { RESOURCE_GRAPH_QUOTA, ResourceGraphQuota } from "./resource-graph-quota.js";
import type { ResourceGraphQuotaLimit } from "./resource-graph-quota.js";

/**
 * ARM's throttling, kept on this side. "Understand how Azure Resource Manager throttles requests" (the token bucket
 * algorithm, since 2024): a bucket per subscription, security principal and operation type — reads 250 tokens
 * refilled at 25 per second, writes and deletes 200 at 10 per second —, a global bucket per subscription and type
 * fifteen times as large shared by every principal, and per-principal buckets for tenant-level requests (Resource
 * Graph, the subscription list). Every client of a scan shares one credential, so each bucket here is one of ARM's
 * buckets for that principal, and each request takes a token from its buckets before it is sent, waiting for one
 * when they are empty: a scan faster than the bucket slows down instead of collecting 429s.
 *
 * Other processes may spend the same principal's tokens (scaled-out Functions instances each run this code). Each
 * answer's `x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}` (`-tenant-` for tenant-level requests,
 * `-subscription-global-` for the global bucket, [unverified] header name) says what ARM has left: this side's
 * count never exceeds it, and when ARM's count falls faster than this side's own requests explain, the bucket is
 * shared: a reserve stays in it for the others' requests on the way, and the refill is shared as TCP shares a link
 * (see LocalBucket). The processes together stay inside the bucket instead of finding its bottom by 429s. A 429
 * that still comes (another principal's share of the global bucket, a burst no header foretold) pauses its bucket
 * until Retry-After; the SDK's retry policy resends the request. The policy sits per retry: every attempt takes a
 * token.
 *
 * A Resource Graph query takes a tenant read token and, past ARM, counts against Resource Graph's own per-user
 * quota (15 queries per 5-second window, "Guidance for throttled requests in Azure Resource Graph"), which binds
 * long before the tenant bucket does: its lane waits for both (ResourceGraphQuota).
 */

/** What every pacing policy here takes: the pause for a bare 429, and a clock and sleep tests can replace. */
export interface PacingOptions {
  /** Used when a 429 carries no Retry-After. */
  defaultRetryAfterMs?: number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignalLike) => Promise<void>;
}

export type ArmOperation = "read" | "write" | "delete";

export interface BucketLimit {
  /** Tokens when full: the burst. */
  size: number;
  refillPerSecond: number;
}

export type ArmBucketLimits = Record<ArmOperation, BucketLimit>;

/** "Understand how Azure Resource Manager throttles requests": the default per-principal buckets. */
export const ARM_TOKEN_BUCKETS: ArmBucketLimits = {
  read: { size: 250, refillPerSecond: 25 },
  write: { size: 200, refillPerSecond: 10 },
  delete: { size: 200, refillPerSecond: 10 },
};

/** The same page: the global subscription buckets are fifteen times the per-principal ones. */
export const GLOBAL_BUCKET_MULTIPLIER = 15;

export interface ArmThrottleOptions extends PacingOptions {
  /** Requests in flight per subscription at most. */
  maxInFlightPerSubscription?: number;
  /** The per-principal buckets; default ARM's documented ones. */
  limits?: ArmBucketLimits;
  /** Resource Graph's per-user quota; default the documented 15 queries per 5 s. */
  resourceGraphQuota?: ResourceGraphQuotaLimit;
}

export interface ArmThrottleStats {
  requests: number;
  throttled: number;
  /** Resource Graph queries sent (each also counted as a tenant read in `byScope`). */
  resourceGraphQueries: number;
  /** Time requests spent waiting for a token or a Retry-After pause, summed over requests. */
  pausedMs: number;
  /** Requests per scope (a subscription id, or `tenant`) and operation: what each of ARM's buckets was asked for. */
  byScope: Record<string, Record<ArmOperation, number>>;
}

const SUBSCRIPTION_IN_PATH = /\/subscriptions\/([0-9a-f-]{36})(?:\/|$)/i;
const RESOURCE_GRAPH_PATH = /^\/providers\/microsoft\.resourcegraph\//i;
const PLURAL: Record<ArmOperation, string> = { read: "reads", write: "writes", delete: "deletes" };
/** A process keeps at least this share of a bucket's refill, however many share it, so it never starves. */
const MIN_SHARE = 1 / 32;
/** A shortfall this small is not another process: ARM counts whole tokens, and answers' delays vary (a refill of a tenth of a second is 2.5 reads). */
const COUNT_SLACK = 4;
/** Others' spending is looked for over this long. */
const WINDOW_MS = 2_000;
/** Others count as spending from the bucket this long after an answer last showed it. */
const SHARED_FOR_MS = 5_000;
/** The reserve left for others' requests in flight while the bucket is shared. */
const RESERVE_SHARE = 0.2;
/** The rate is halved at most this often, and wins back the full rate over this long. */
const HALVE_EVERY_MS = 1_000;
const RECOVERY_MS = 20_000;
/** Waits are cut to this, then asked again (the rate may have grown meanwhile). */
const MAX_WAIT_MS = 500;

export function subscriptionOf(url: string): string | undefined {
  return SUBSCRIPTION_IN_PATH.exec(new URL(url).pathname)?.[1]?.toLowerCase();
}

/** The bucket a request draws on: GET and HEAD read, DELETE deletes, a Resource Graph query reads, the rest write. */
export function operationOf(method: string, url: string): ArmOperation {
  const m = method.toUpperCase();
  if (m === "GET" || m === "HEAD") return "read";
  if (m === "DELETE") return "delete";
  // A Resource Graph query is a POST that changes nothing; ARM's page counts it with the reads ([unverified]: the
  // emulator counts it so too).
  return isResourceGraphQuery(url) ? "read" : "write";
}

export function isResourceGraphQuery(url: string): boolean {
  return RESOURCE_GRAPH_PATH.test(new URL(url).pathname);
}

/** Retry-After in seconds or as an HTTP date, or the ms form ARM also sends; undefined when absent or bad. */
export function retryAfterMs(headers: { get(name: string): string | undefined }, now: number): number | undefined {
  const ms = headers.get("retry-after-ms") ?? headers.get("x-ms-retry-after-ms");
  if (ms !== undefined && /^\d+$/.test(ms.trim())) return Number(ms);
  const value = headers.get("retry-after");
  if (value === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** setTimeout as a promise that an abort signal rejects; the pacing policies wait with it. */
export const abortableSleep = (ms: number, signal?: AbortSignalLike) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError("The operation was aborted."));
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortError("The operation was aborted."));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/**
 * This side's part of one of ARM's buckets. Alone, it is a copy of the bucket: full at first, a token per request,
 * refilled at the bucket's rate, and each answer's count (less this side's later takes, which ARM may not have
 * counted yet: takes are numbered) corrects it. When an answer shows fewer tokens than this side counted, other
 * processes of the principal are spending from the bucket too. Then this side leaves a reserve in the bucket for
 * their requests already on the way, and shares the refill the way TCP shares a link (additive increase,
 * multiplicative decrease: Chiu and Jain): whenever the shared count has sunk into the reserve, it halves its own
 * refill rate, at most once a second, and otherwise wins it back a little at a time. The processes together then
 * refill at about the bucket's rate, without any of them knowing how many there are.
 */
export class LocalBucket {
  private tokens: number;
  private at: number;
  /** The refill this side uses, per ms: the bucket's, or less while it shares the bucket. */
  private ratePerMs: number;
  private taken = 0;
  private lastTicket = 0;
  /** Tickets of requests not answered yet. */
  private readonly pending = new Set<number>();
  /**
   * ARM's counts of the last WINDOW_MS (while its bucket was not full), oldest first, each with how many of this
   * side's takes it surely includes: the take itself and every earlier one already answered.
   */
  private answers: Array<{ ticket: number; remaining: number; at: number; counted: number }> = [];
  /** When an answer last showed others spending from the bucket, and when this side last halved its rate. */
  private sharedAt = Number.NEGATIVE_INFINITY;
  private halvedAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly limit: BucketLimit,
    now: number,
  ) {
    this.tokens = limit.size;
    this.at = now;
    this.ratePerMs = this.fullRatePerMs;
  }

  private get fullRatePerMs(): number {
    return this.limit.refillPerSecond / 1000;
  }

  private shared(now: number): boolean {
    return now - this.sharedAt < SHARED_FOR_MS;
  }

  /** Kept in the bucket while others spend from it: their requests on the way, which no answer here shows yet. */
  private reserve(now: number): number {
    return this.shared(now) ? this.limit.size * RESERVE_SHARE : 0;
  }

  private refill(now: number): void {
    if (now <= this.at) return;
    const elapsed = now - this.at;
    this.tokens = Math.min(this.limit.size, this.tokens + elapsed * this.ratePerMs);
    this.ratePerMs = Math.min(this.fullRatePerMs, this.ratePerMs + (this.fullRatePerMs * elapsed) / RECOVERY_MS);
    this.at = now;
  }

  /** How long until a whole token is here beyond the reserve (0: now); long waits are cut, to be asked again. */
  waitMs(now: number): number {
    this.refill(now);
    const missing = 1 + this.reserve(now) - this.tokens;
    return missing <= 0 ? 0 : Math.min(MAX_WAIT_MS, Math.ceil(missing / this.ratePerMs));
  }

  /** Takes a token (the caller waited for it) and returns the take's ticket. */
  take(now: number): number {
    this.refill(now);
    this.tokens -= 1;
    this.pending.add(++this.taken);
    return this.taken;
  }

  /** The request of `ticket` has its answer (or failed without one). */
  settle(ticket: number): void {
    this.pending.delete(ticket);
  }

  /** Empties the bucket (ARM said it is empty: a 429). */
  drain(now: number): void {
    this.refill(now);
    this.tokens = Math.min(this.tokens, 0);
  }

  /** What ARM said it had left right after the request of `ticket` took its token. */
  sync(ticket: number, remaining: number, now: number): void {
    if (ticket <= this.lastTicket) return; // an older answer than one already taken into account
    this.lastTicket = ticket;
    this.refill(now);
    const armHas = remaining - (this.taken - ticket);
    if (remaining >= this.limit.size - 1) {
      // ARM's bucket is full: nobody is short of tokens.
      this.answers = [];
      // Up to it, less every other request of this side still on the way (ARM may not have counted it yet).
      this.ratePerMs = this.fullRatePerMs;
      this.tokens = Math.min(this.limit.size, Math.max(this.tokens, remaining - (this.pending.size - 1)));
      return;
    }
    // Since an earlier answer the bucket refilled and this side's requests took tokens: if ARM's count moved down by
    // more than that (taking every take of this side not surely counted then as counted now, and beyond what
    // whole-token counts and varying delays can hide), others spent the rest.
    while (this.answers.length > 1 && now - this.answers[1]!.at >= WINDOW_MS) this.answers.shift();
    const first = this.answers[0];
    if (first && this.fullRatePerMs * (now - first.at) - (remaining - first.remaining) - (this.taken - first.counted) > COUNT_SLACK) this.sharedAt = now;
    let earlierPending = 0;
    for (const t of this.pending) if (t < ticket) earlierPending++;
    this.answers.push({ ticket, remaining, at: now, counted: ticket - earlierPending });
    if (this.shared(now) && armHas < this.reserve(now) && now - this.halvedAt >= HALVE_EVERY_MS) {
      this.ratePerMs = Math.max(this.fullRatePerMs * MIN_SHARE, this.ratePerMs / 2);
      this.halvedAt = now;
    }
    // Down to ARM's count, never up: alone, this side's count is exact (it takes before ARM does), and shared, what
    // ARM has left is not all this side's. A later request that reached ARM first is counted twice here: a token
    // less, never one too many.
    this.tokens = Math.min(this.tokens, armHas);
  }
}

/** The buckets one request draws on, waited for in arrival order, with a Retry-After pause of their own. */
interface Lane {
  buckets: Array<{ bucket: LocalBucket; header: string }>;
  /** Resource Graph's quota, for the lane of its queries. */
  quota?: ResourceGraphQuota;
  turn: Promise<void>;
  pausedUntil: number;
}

interface Tickets {
  buckets: number[];
  quota?: number;
}

interface SubscriptionSlots {
  inFlight: number;
  waiters: Array<() => void>;
}

export class ArmThrottle {
  private readonly lanes = new Map<string, Lane>();
  private readonly slots = new Map<string, SubscriptionSlots>();
  private readonly options: Required<ArmThrottleOptions>;
  readonly stats: ArmThrottleStats = { requests: 0, throttled: 0, resourceGraphQueries: 0, pausedMs: 0, byScope: {} };
  private resourceGraphLane?: Lane;

  constructor(options: ArmThrottleOptions = {}) {
    this.options = {
      maxInFlightPerSubscription: options.maxInFlightPerSubscription ?? 64,
      limits: options.limits ?? ARM_TOKEN_BUCKETS,
      resourceGraphQuota: options.resourceGraphQuota ?? RESOURCE_GRAPH_QUOTA,
      defaultRetryAfterMs: options.defaultRetryAfterMs ?? 5_000,
      now: options.now ?? Date.now,
      sleep: options.sleep ?? abortableSleep,
    };
  }

  private lane(scope: string, operation: ArmOperation): Lane {
    const key = `${scope}:${operation}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      const limit = this.options.limits[operation];
      const now = this.options.now();
      const plural = PLURAL[operation];
      lane = {
        buckets:
          scope === "tenant"
            ? [{ bucket: new LocalBucket(limit, now), header: `x-ms-ratelimit-remaining-tenant-${plural}` }]
            : [
                { bucket: new LocalBucket(limit, now), header: `x-ms-ratelimit-remaining-subscription-${plural}` },
                {
                  bucket: new LocalBucket({ size: limit.size * GLOBAL_BUCKET_MULTIPLIER, refillPerSecond: limit.refillPerSecond * GLOBAL_BUCKET_MULTIPLIER }, now),
                  header: `x-ms-ratelimit-remaining-subscription-global-${plural}`,
                },
              ],
        turn: Promise.resolve(),
        pausedUntil: 0,
      };
      this.lanes.set(key, lane);
    }
    return lane;
  }

  /** Resource Graph's queries: the tenant read bucket (shared with the tenant lane) and the quota. */
  private graphLane(): Lane {
    this.resourceGraphLane ??= {
      buckets: this.lane("tenant", "read").buckets,
      quota: new ResourceGraphQuota(this.options.resourceGraphQuota),
      turn: Promise.resolve(),
      pausedUntil: 0,
    };
    return this.resourceGraphLane;
  }

  /** Waits, in arrival order, until every bucket of the lane has a token and no pause holds; returns the tickets. */
  private takeTokens(lane: Lane, signal?: AbortSignalLike): Promise<Tickets> {
    const mine = lane.turn.then(async () => {
      for (;;) {
        if (signal?.aborted) throw new AbortError("The operation was aborted.");
        const now = this.options.now();
        const wait = Math.max(lane.pausedUntil - now, lane.quota?.waitMs(now) ?? 0, ...lane.buckets.map((b) => b.bucket.waitMs(now)));
        if (wait <= 0) {
          const tickets: Tickets = { buckets: lane.buckets.map((b) => b.bucket.take(now)) };
          if (lane.quota) tickets.quota = lane.quota.take(now);
          return tickets;
        }
        this.stats.pausedMs += wait;
        await this.options.sleep(wait, signal);
      }
    });
    // A waiter that gives up (aborted) must not block the ones behind it.
    lane.turn = mine.then(
      () => undefined,
      () => undefined,
    );
    return mine;
  }

  private async acquireSlot(subscription: string, signal?: AbortSignalLike): Promise<SubscriptionSlots> {
    let slots = this.slots.get(subscription);
    if (!slots) {
      slots = { inFlight: 0, waiters: [] };
      this.slots.set(subscription, slots);
    }
    while (slots.inFlight >= this.options.maxInFlightPerSubscription) {
      await new Promise<void>((resolve) => slots.waiters.push(resolve));
      if (signal?.aborted) {
        slots.waiters.shift()?.();
        throw new AbortError("The operation was aborted.");
      }
    }
    slots.inFlight++;
    return slots;
  }

  private static releaseSlot(slots: SubscriptionSlots): void {
    slots.inFlight--;
    slots.waiters.shift()?.();
  }

  /** Takes what an answer says about the lane's buckets into account. */
  private observe(lane: Lane, tickets: Tickets, response: PipelineResponse): void {
    const now = this.options.now();
    lane.buckets.forEach((b, i) => {
      const value = response.headers.get(b.header);
      if (value !== undefined && /^\d+$/.test(value.trim())) b.bucket.sync(tickets.buckets[i]!, Number(value), now);
    });
    if (lane.quota && tickets.quota !== undefined) lane.quota.observe(tickets.quota, response.headers, now);
    if (response.status === 429) {
      this.stats.throttled++;
      const after = retryAfterMs(response.headers, now);
      if (lane.quota) {
        // Resource Graph's quota ends with its window: the quota caps the pause to one window and its margin.
        lane.quota.exhaust(after, now);
      } else {
        lane.pausedUntil = Math.max(lane.pausedUntil, now + (after ?? this.options.defaultRetryAfterMs));
      }
      // Which bucket ran dry the answer does not say in a header: the principal's is the one this side can refill.
      lane.buckets[0]!.bucket.drain(now);
    }
  }

  private count(scope: string, operation: ArmOperation): void {
    const counts = (this.stats.byScope[scope] ??= { read: 0, write: 0, delete: 0 });
    counts[operation]++;
    this.stats.requests++;
  }

  policy(): PipelinePolicy {
    return {
      name: "auditguardArmThrottle",
      sendRequest: async (request: PipelineRequest, next: SendRequest): Promise<PipelineResponse> => {
        const subscription = subscriptionOf(request.url);
        const operation = operationOf(request.method, request.url);
        const scope = subscription ?? "tenant";
        const slots = subscription ? await this.acquireSlot(subscription, request.abortSignal) : undefined;
        try {
          const lane = isResourceGraphQuery(request.url) ? this.graphLane() : this.lane(scope, operation);
          const tickets = await this.takeTokens(lane, request.abortSignal);
          this.count(scope, operation);
          if (lane.quota) this.stats.resourceGraphQueries++;
          try {
            const response = await next(request);
            this.observe(lane, tickets, response);
            return response;
          } finally {
            lane.buckets.forEach((b, i) => b.bucket.settle(tickets.buckets[i]!));
            if (lane.quota && tickets.quota !== undefined) lane.quota.settle(tickets.quota);
          }
        } finally {
          if (slots) ArmThrottle.releaseSlot(slots);
        }
      },
    };
  }
}
