import type { AbortSignalLike } from "@azure/abort-controller";
import { AbortError } from "@azure/abort-controller";
import type { PipelinePolicy, PipelineRequest, PipelineResponse, SendRequest } from "@azure/core-rest-pipeline";

/**
 * One ARM throttle per scan, shared by every client: ARM limits reads and writes per subscription, so a burst of
 * parallel targets in one subscription must slow down together. Each attempt (the policy sits per retry, so the
 * SDK's own Retry-After handling still applies) waits while its subscription is paused; a 429's Retry-After
 * pauses the whole subscription, and a low x-ms-ratelimit-remaining-subscription-* header spaces requests out
 * before ARM starts refusing them.
 */
/** What every pacing policy here takes: the pause for a bare 429, and a clock and sleep tests can replace. */
export interface PacingOptions {
  /** Used when a 429 carries no Retry-After. */
  defaultRetryAfterMs?: number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignalLike) => Promise<void>;
}

export interface ArmThrottleOptions extends PacingOptions {
  /** Requests in flight per subscription at most. */
  maxInFlightPerSubscription?: number;
  /** Below this many remaining requests, space requests by `pacingMs`. */
  lowWaterMark?: number;
  pacingMs?: number;
}

export interface ArmThrottleStats {
  requests: number;
  throttled: number;
  pausedMs: number;
}

interface SubscriptionState {
  inFlight: number;
  waiters: Array<() => void>;
  pausedUntil: number;
  remaining: number | undefined;
}

const SUBSCRIPTION_IN_PATH = /\/subscriptions\/([0-9a-f-]{36})(?:\/|$)/i;

export function subscriptionOf(url: string): string | undefined {
  return SUBSCRIPTION_IN_PATH.exec(new URL(url).pathname)?.[1]?.toLowerCase();
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

function remainingOf(headers: { get(name: string): string | undefined }): number | undefined {
  const values = [
    headers.get("x-ms-ratelimit-remaining-subscription-reads"),
    headers.get("x-ms-ratelimit-remaining-subscription-writes"),
  ]
    .filter((v): v is string => v !== undefined && /^\d+$/.test(v))
    .map(Number);
  return values.length ? Math.min(...values) : undefined;
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

export class ArmThrottle {
  private readonly subscriptions = new Map<string, SubscriptionState>();
  private readonly options: Required<ArmThrottleOptions>;
  readonly stats: ArmThrottleStats = { requests: 0, throttled: 0, pausedMs: 0 };

  constructor(options: ArmThrottleOptions = {}) {
    this.options = {
      maxInFlightPerSubscription: options.maxInFlightPerSubscription ?? 64,
      lowWaterMark: options.lowWaterMark ?? 25,
      pacingMs: options.pacingMs ?? 250,
      defaultRetryAfterMs: options.defaultRetryAfterMs ?? 5_000,
      now: options.now ?? Date.now,
      sleep: options.sleep ?? abortableSleep,
    };
  }

  private state(subscription: string): SubscriptionState {
    let state = this.subscriptions.get(subscription);
    if (!state) {
      state = { inFlight: 0, waiters: [], pausedUntil: 0, remaining: undefined };
      this.subscriptions.set(subscription, state);
    }
    return state;
  }

  private async acquire(state: SubscriptionState, signal?: AbortSignalLike): Promise<void> {
    while (state.inFlight >= this.options.maxInFlightPerSubscription) {
      await new Promise<void>((resolve) => state.waiters.push(resolve));
      if (signal?.aborted) {
        state.waiters.shift()?.();
        throw new AbortError("The operation was aborted.");
      }
    }
    state.inFlight++;
    // Re-check after every wake-up: a 429 seen by another request may have paused the subscription meanwhile.
    for (;;) {
      const wait = state.pausedUntil - this.options.now();
      const pace = state.remaining !== undefined && state.remaining < this.options.lowWaterMark ? this.options.pacingMs : 0;
      const delay = Math.max(wait, pace);
      if (delay <= 0) return;
      this.stats.pausedMs += delay;
      try {
        await this.options.sleep(delay, signal);
      } catch (error) {
        this.release(state);
        throw error;
      }
      if (wait <= 0) return;
    }
  }

  private release(state: SubscriptionState): void {
    state.inFlight--;
    state.waiters.shift()?.();
  }

  /** Records what a response says about the subscription's budget. */
  observe(subscription: string, response: PipelineResponse): void {
    const state = this.state(subscription);
    const remaining = remainingOf(response.headers);
    if (remaining !== undefined) state.remaining = remaining;
    if (response.status === 429) {
      this.stats.throttled++;
      const after = retryAfterMs(response.headers, this.options.now()) ?? this.options.defaultRetryAfterMs;
      state.pausedUntil = Math.max(state.pausedUntil, this.options.now() + after);
    }
  }

  policy(): PipelinePolicy {
    return {
      name: "auditguardArmThrottle",
      sendRequest: async (request: PipelineRequest, next: SendRequest): Promise<PipelineResponse> => {
        const subscription = subscriptionOf(request.url);
        if (!subscription) return next(request);
        const state = this.state(subscription);
        await this.acquire(state, request.abortSignal);
        this.stats.requests++;
        try {
          const response = await next(request);
          this.observe(subscription, response);
          return response;
        } finally {
          this.release(state);
        }
      },
    };
  }
}
