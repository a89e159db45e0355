/**
 * Resource Graph's own quota, kept on this side. "Guidance for throttled requests in Azure Resource Graph": a user
 * may send at most 15 queries in every 5-second window (the value "is subject to change"); every answer carries
 * `x-ms-user-quota-remaining` (queries left in the window) and `x-ms-user-quota-resets-after` (hh:mm:ss until the
 * window resets), and past the quota the service answers 429 with Retry-After. Resource Graph is reached through
 * ARM, which throttles the request at the tenant level first ("Understand how Azure Resource Manager throttles
 * requests": throttling happens at two levels), so a query also takes a token of the tenant read bucket
 * (ArmThrottle); at 3 queries a second the quota, not that bucket, is what binds.
 *
 * Alone, this side counts its own queries: a window opens with its first query and holds at most `limit`; it is
 * taken to end a window's length plus a margin after that query was sent (the service's window opens when the
 * query arrives, later). Other processes of the principal share the quota (scaled-out Functions instances), and
 * their queries show only in the headers: an answer's remaining count, less this side's other queries still on the
 * way, lowers what is left here and never raises it, and its reset time pushes the window's end later and never
 * earlier (a reset read too early would send a new window's worth into the old one). Since the service's window
 * may have opened before this side's, a new window starts with one query on the way, and one more for each answer
 * (TCP's slow start): what the first answers say comes before most of the window is spent. When an answer shows
 * fewer left than this side's own queries explain, others are spending: then each process keeps one query on the
 * way and leaves a reserve for the others' queries that no answer shows yet. Every wait is bounded: a reset
 * further off than a window and its margin is cut to that, and a malformed header is ignored.
 */
export interface ResourceGraphQuotaLimit {
  queries: number;
  windowMs: number;
}

/** The documented example quota ("Guidance for throttled requests in Azure Resource Graph"). */
export const RESOURCE_GRAPH_QUOTA: ResourceGraphQuotaLimit = { queries: 15, windowMs: 5_000 };

export const QUOTA_REMAINING_HEADER = "x-ms-user-quota-remaining";
export const QUOTA_RESETS_AFTER_HEADER = "x-ms-user-quota-resets-after";

/**
 * Added to a window's length wherever this side guesses or caps its end: the query's trip to the service, and the
 * header's whole seconds (the page gives hh:mm:ss without saying how it rounds: [unverified]).
 */
export const WINDOW_MARGIN_MS = 1_000;
/** A wait for answers is asked again this often. */
const ANSWER_POLL_MS = 50;
/** Shared, this share of the quota stays unspent, and each process has one query on the way at a time. */
const RESERVE_SHARE = 0.2;
/** Others count as spending from the quota this many windows after an answer last showed it. */
const SHARED_FOR_WINDOWS = 2;

/** `hh:mm:ss` (each part digits, minutes and seconds below 60) in ms, or undefined. */
export function parseResetsAfter(value: string | undefined): number | undefined {
  const match = /^(\d{1,2}):([0-5]\d):([0-5]\d)$/.exec(value?.trim() ?? "");
  if (!match) return undefined;
  return ((Number(match[1]) * 60 + Number(match[2])) * 60 + Number(match[3])) * 1000;
}

/** A non-negative integer count, or undefined. */
export function parseRemaining(value: string | undefined): number | undefined {
  const text = value?.trim() ?? "";
  return /^\d{1,9}$/.test(text) ? Number(text) : undefined;
}

export class ResourceGraphQuota {
  /** When the current window ends, as far as this side can tell; +Infinity: no query has opened it yet. */
  private resetAt = Number.NEGATIVE_INFINITY;
  private left: number;
  private taken = 0;
  /** The first ticket of the current window. */
  private windowFirst = 1;
  /** Queries this side lets be on the way at once: one when a window opens, one more per answer. */
  private inFlightLimit = 1;
  /** When an answer last showed others spending from the quota. */
  private sharedAt = Number.NEGATIVE_INFINITY;
  private readonly pending = new Set<number>();

  constructor(readonly limit: ResourceGraphQuotaLimit = RESOURCE_GRAPH_QUOTA) {
    this.left = limit.queries;
  }

  private get longestMs(): number {
    return this.limit.windowMs + WINDOW_MARGIN_MS;
  }

  private shared(now: number): boolean {
    return now - this.sharedAt < SHARED_FOR_WINDOWS * this.limit.windowMs;
  }

  private roll(now: number): void {
    if (now < this.resetAt) return;
    // A new window opens with the next query; until then none is open.
    this.resetAt = Number.POSITIVE_INFINITY;
    this.left = this.limit.queries;
    this.windowFirst = this.taken + 1;
    this.inFlightLimit = 1;
  }

  /** A window no query has opened yet opens now, and ends a window and its margin later at the latest. */
  private open(now: number): void {
    if (this.resetAt === Number.POSITIVE_INFINITY) this.resetAt = now + this.longestMs;
  }

  /** How long until a query may be sent (0: now); never more than a window and its margin. */
  waitMs(now: number): number {
    this.roll(now);
    const shared = this.shared(now);
    // Shared, a few queries stay in the window for the others' queries on the way, which no answer here shows yet.
    const reserve = shared ? Math.ceil(this.limit.queries * RESERVE_SHARE) : 0;
    if (this.left < 1 + reserve) return Math.max(1, Math.min(this.resetAt - now, this.longestMs));
    // The rest wait for answers, which say where the service's window stands (answers settle them meanwhile).
    if (this.pending.size >= (shared ? 1 : this.inFlightLimit)) return ANSWER_POLL_MS;
    return 0;
  }

  /** Counts a query (the caller waited for it) and returns its ticket. */
  take(now: number): number {
    this.roll(now);
    this.open(now);
    this.left -= 1;
    this.pending.add(++this.taken);
    return this.taken;
  }

  /** The query of `ticket` has its answer (or failed without one): one more may be on the way (TCP's slow start). */
  settle(ticket: number): void {
    if (this.pending.delete(ticket) && ticket >= this.windowFirst) this.inFlightLimit = Math.min(this.limit.queries, this.inFlightLimit + 1);
  }

  /** What an answer's headers say; either may be absent or malformed, and is then ignored. */
  observe(ticket: number, headers: { get(name: string): string | undefined }, now: number): void {
    const remaining = parseRemaining(headers.get(QUOTA_REMAINING_HEADER));
    const resetsAfter = parseResetsAfter(headers.get(QUOTA_RESETS_AFTER_HEADER));
    if (remaining === undefined && resetsAfter === undefined) return;
    this.roll(now);
    if (resetsAfter !== undefined) {
      // Later, never earlier, and never past a window from now.
      const serverReset = now + Math.min(resetsAfter, this.longestMs);
      if (serverReset > this.resetAt || this.resetAt === Number.POSITIVE_INFINITY) this.resetAt = serverReset;
    }
    if (remaining !== undefined) {
      // Fewer left than this side's own queries of the window explain: others spend from the quota too.
      if (ticket >= this.windowFirst && remaining < this.limit.queries - (this.taken - this.windowFirst + 1)) this.sharedAt = now;
      // This side's other queries on the way may not be in the service's count yet: each counts as spent.
      const othersOnTheWay = this.pending.size - (this.pending.has(ticket) ? 1 : 0);
      this.left = Math.min(this.left, remaining - othersOnTheWay);
      // A count without a reset time still ends: a window from now at most.
      this.open(now);
    }
  }

  /**
   * A 429: nothing is left until Retry-After (the service's word on when its window resets, capped to a window and
   * its margin), or without one, until a whole window has passed.
   */
  exhaust(retryAfterMs: number | undefined, now: number): void {
    this.roll(now);
    this.left = Math.min(this.left, 0);
    this.resetAt = retryAfterMs !== undefined ? now + Math.min(retryAfterMs, this.longestMs) : Math.max(this.resetAt === Number.POSITIVE_INFINITY ? 0 : this.resetAt, now + this.limit.windowMs);
  }
}
