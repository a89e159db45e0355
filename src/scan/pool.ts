import { setMaxListeners } from "node:events";

/**
 * A bounded worker pool for the estate run: at most `concurrency` targets in flight, each worker given an
 * abort signal that fires on cancellation or when the overall deadline passes. Every item gets an outcome, in
 * input order, so a run cut short still reports what finished and names what did not.
 */
export type PoolOutcome<R> =
  | { status: "fulfilled"; value: R }
  | { status: "rejected"; reason: unknown }
  | { status: "not-started"; reason: "cancelled" | "deadline" };

export interface PoolOptions {
  concurrency: number;
  signal?: AbortSignal;
  /** Absolute time (ms since epoch) after which no item starts and running ones are aborted. */
  deadline?: number;
  now?: () => number;
  onSettled?: (index: number, outcome: PoolOutcome<unknown>) => void;
}

export async function runPool<T, R>(
  items: readonly T[],
  worker: (item: T, signal: AbortSignal, index: number) => Promise<R>,
  options: PoolOptions,
): Promise<PoolOutcome<R>[]> {
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
  }
  const now = options.now ?? Date.now;
  const outcomes = new Array<PoolOutcome<R>>(items.length);
  const controller = new AbortController();
  // Every worker's SDK calls listen on this one signal; that many listeners is by design, not a leak.
  setMaxListeners(0, controller.signal);
  const abort = (reason: "cancelled" | "deadline") => {
    if (!controller.signal.aborted) controller.abort(new Error(reason === "deadline" ? "scan deadline reached" : "scan cancelled"));
    stopReason ??= reason;
  };
  let stopReason: "cancelled" | "deadline" | undefined;
  const onExternalAbort = () => abort("cancelled");
  if (options.signal?.aborted) abort("cancelled");
  options.signal?.addEventListener("abort", onExternalAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  if (options.deadline !== undefined) {
    const remaining = options.deadline - now();
    if (remaining <= 0) abort("deadline");
    else timer = setTimeout(() => abort("deadline"), remaining);
  }

  let next = 0;
  const lane = async () => {
    for (;;) {
      const index = next++;
      if (index >= items.length) return;
      if (stopReason) {
        outcomes[index] = { status: "not-started", reason: stopReason };
      } else {
        try {
          outcomes[index] = { status: "fulfilled", value: await worker(items[index]!, controller.signal, index) };
        } catch (reason) {
          outcomes[index] = { status: "rejected", reason };
        }
      }
      options.onSettled?.(index, outcomes[index]);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, items.length) }, lane));
  } finally {
    if (timer) clearTimeout(timer);
    options.signal?.removeEventListener("abort", onExternalAbort);
  }
  return outcomes;
}
