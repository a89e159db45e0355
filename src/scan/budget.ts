import { setMaxListeners } from "node:events";
import { CallTimeoutError, ScanStoppedError, TargetBudgetExceeded } from "./errors.js";

/**
 * A target's time budget (scan.targetTimeoutSeconds): one signal that fires when the budget runs out or the scan
 * stops, and a way to run each call under it. Every call gets the signal and is also raced against it, because
 * not every client honours an abort signal (@azure/monitor-query-logs ignores it; a response that stalls after its
 * headers would otherwise hold the target until the scan's deadline). A call that loses the race is abandoned and
 * ends with an error naming it, so a target that ran out of time says which call stalled.
 */
export interface Budget {
  readonly signal: AbortSignal;
  readonly seconds: number;
  /** Milliseconds left, never negative. */
  remainingMs(): number;
  /**
   * Runs `work` under the budget; `call` names it in the error when the budget runs out while it is under way (a
   * function when the work goes through phases, so the error names the phase that stalled).
   */
  call<T>(call: string | (() => string), work: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** Stops the budget's timer and detaches from the scan's signal. */
  dispose(): void;
}

function stopError(signal: AbortSignal, call: string, seconds: number): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof TargetBudgetExceeded) return new CallTimeoutError(call, seconds);
  if (reason instanceof ScanStoppedError) return reason;
  return new ScanStoppedError(`${call} was stopped: ${reason instanceof Error ? reason.message : "the scan was cancelled"}`);
}

export function startBudget(seconds: number, scanSignal?: AbortSignal, now: () => number = () => performance.now()): Budget {
  const controller = new AbortController();
  // Every call of the target listens on this one signal; that many listeners is by design.
  setMaxListeners(0, controller.signal);
  const start = now();
  const ms = seconds * 1000;
  const timer = setTimeout(() => controller.abort(new TargetBudgetExceeded(seconds)), ms);
  const onScanStop = () => {
    const why: unknown = scanSignal?.reason;
    controller.abort(why instanceof ScanStoppedError ? why : new ScanStoppedError(why instanceof Error ? why.message : "the scan was cancelled"));
  };
  if (scanSignal?.aborted) onScanStop();
  else scanSignal?.addEventListener("abort", onScanStop, { once: true });
  const signal = controller.signal;
  return {
    signal,
    seconds,
    remainingMs: () => Math.max(0, ms - (now() - start)),
    call<T>(call: string | (() => string), work: (signal: AbortSignal) => Promise<T>): Promise<T> {
      const name = () => (typeof call === "string" ? call : call());
      if (signal.aborted) return Promise.reject(stopError(signal, name(), seconds));
      return new Promise<T>((resolve, reject) => {
        const onAbort = () => reject(stopError(signal, name(), seconds));
        signal.addEventListener("abort", onAbort, { once: true });
        let running: Promise<T>;
        try {
          running = work(signal);
        } catch (error) {
          running = Promise.reject(error);
        }
        running.then(
          (value) => {
            signal.removeEventListener("abort", onAbort);
            resolve(value);
          },
          (error: unknown) => {
            signal.removeEventListener("abort", onAbort);
            // A call that failed because the budget ran out is reported as the timeout it is.
            reject(signal.aborted ? stopError(signal, name(), seconds) : error);
          },
        );
      });
    },
    dispose() {
      clearTimeout(timer);
      scanSignal?.removeEventListener("abort", onScanStop);
    },
  };
}

/** Sleeps for `ms` unless the signal fires first (then rejects with why it fired). */
export function sleepUnder(signal: AbortSignal, ms: number, call: string, seconds: number): Promise<void> {
  if (signal.aborted) return Promise.reject(stopError(signal, call, seconds));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(stopError(signal, call, seconds));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
