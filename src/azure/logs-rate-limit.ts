import type { AbortSignalLike } from "@azure/abort-controller";
import { AbortError } from "@azure/abort-controller";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import { abortableSleep, retryAfterMs } from "./arm-throttle.js";
import type { PacingOptions } from "./arm-throttle.js";

/**
 * Log Analytics answers at most 200 queries per 30 seconds per Microsoft Entra identity (Azure Monitor service
 * limits, "Log queries and language"), whatever the workspace. A scan queries each target's logs, so a large
 * estate scanned at full concurrency would spend most of its queries on 429s. This keeps one identity's queries
 * inside the limit (a sliding window, first come first served) within this process, and a 429 that still arrives
 * (another process with the same identity, such as another Functions instance) pauses every query here until its
 * Retry-After, for one window at most. The policy sits per retry, so the SDK's own
 * Retry-After handling still applies and each retry takes a slot too.
 */
/** `now` defaults to performance.now: a monotonic clock, so a wall-clock step does not stall the window. */
export interface LogsRateLimitOptions extends PacingOptions {
  requests: number;
  windowMs: number;
}

export interface LogsRateLimitStats {
  requests: number;
  throttled: number;
  waitedMs: number;
}

export class LogsRateLimit {
  readonly stats: LogsRateLimitStats = { requests: 0, throttled: 0, waitedMs: 0 };
  /** Send times inside the window, oldest first. */
  private readonly sent: number[] = [];
  private pausedUntil = 0;
  private turn: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignalLike) => Promise<void>;
  /**
   * The window as paced here: a little longer than the service's, because the service counts a query when it
   * arrives, and a query sent just as a slot frees here can arrive before the service's window has moved on.
   */
  private readonly windowMs: number;

  constructor(private readonly options: LogsRateLimitOptions) {
    if (!(options.requests >= 1) || !(options.windowMs > 0)) throw new Error("a Log Analytics rate limit needs at least one request per window");
    this.now = options.now ?? (() => performance.now());
    this.sleep = options.sleep ?? abortableSleep;
    this.windowMs = options.windowMs + Math.min(1_000, options.windowMs * 0.1);
  }

  /** Waits for a slot; slots are handed out in arrival order so no query starves. */
  private acquire(signal?: AbortSignalLike): Promise<void> {
    const mine = this.turn.then(async () => {
      for (;;) {
        const now = this.now();
        while (this.sent.length && this.sent[0]! <= now - this.windowMs) this.sent.shift();
        const wait = Math.max(this.pausedUntil - now, this.sent.length >= this.options.requests ? this.sent[0]! + this.windowMs - now : 0);
        // A query given up while it queued must not spend a slot.
        if (signal?.aborted) throw new AbortError("The operation was aborted.");
        if (wait <= 0) {
          this.sent.push(now);
          return;
        }
        this.stats.waitedMs += wait;
        await this.sleep(wait, signal);
      }
    });
    // A waiter that gives up (aborted) must not block the ones behind it.
    this.turn = mine.catch(() => undefined);
    return mine;
  }

  policy(): PipelinePolicy {
    return {
      name: "auditguardLogsRateLimit",
      sendRequest: async (request, next) => {
        await this.acquire(request.abortSignal);
        this.stats.requests++;
        const response = await next(request);
        if (response.status === 429) {
          this.stats.throttled++;
          // Retry-After may be an HTTP date, so it is read against the wall clock; the pause is capped at one
          // window, so a far-off Retry-After cannot stall every query in the process (the SDK's retry still
          // honours the full value for the request it concerns).
          const after = retryAfterMs(response.headers, Date.now()) ?? this.options.defaultRetryAfterMs ?? 5_000;
          this.pausedUntil = Math.max(this.pausedUntil, this.now() + Math.min(after, this.options.windowMs));
        }
        return response;
      },
    };
  }
}
