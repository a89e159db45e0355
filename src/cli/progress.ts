/**
 * Scan progress for a terminal: one redrawn bar on a TTY, plain lines otherwise (CI logs, pipes), so a
 * pipeline's log stays readable and a person at a terminal sees the run move.
 */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): boolean;
}

export interface ProgressReporter {
  start(total: number): void;
  tick(label: string, status: string): void;
  finish(): void;
}

const BAR_WIDTH = 28;

export function createProgressReporter(stream: ProgressStream, now: () => number = Date.now): ProgressReporter {
  let total = 0;
  let done = 0;
  let startedAt = 0;
  const counts = new Map<string, number>();
  const tty = stream.isTTY === true;

  const line = (): string => {
    const ratio = total === 0 ? 1 : done / total;
    const filled = Math.round(ratio * BAR_WIDTH);
    const elapsed = ((now() - startedAt) / 1000).toFixed(1);
    const tally = [...counts.entries()].map(([k, v]) => `${k} ${v}`).join(", ");
    const text = `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${done}/${total} ${elapsed}s${tally ? `  ${tally}` : ""}`;
    return stream.columns ? text.slice(0, Math.max(10, stream.columns - 1)) : text;
  };

  return {
    start(n) {
      total = n;
      done = 0;
      startedAt = now();
      counts.clear();
      if (tty) stream.write(`\r${line()}`);
      else stream.write(`scanning ${n} target${n === 1 ? "" : "s"}\n`);
    },
    tick(label, status) {
      done++;
      counts.set(status, (counts.get(status) ?? 0) + 1);
      if (tty) stream.write(`\r\u001b[2K${line()}`);
      else stream.write(`[${done}/${total}] ${status.padEnd(12)} ${label}\n`);
    },
    finish() {
      if (tty) stream.write(`\r\u001b[2K${line()}\n`);
      else stream.write(`scanned ${done}/${total} in ${((now() - startedAt) / 1000).toFixed(1)}s\n`);
    },
  };
}
