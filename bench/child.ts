import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { extname, join } from "node:path";

/**
 * The benchmark runs each party in a process of its own (the emulator, storage, the Functions instances, the
 * CLI), as they would run apart in production. They talk in JSON lines: commands on the child's stdin, answers on
 * its stdout (stderr is the child's own log). A child stops when its stdin closes.
 */

// Run from the compiled dist/ (npm run bench builds first) so the scanner runs as JavaScript, as deployed; from
// source (node --import tsx bench/scan-bench.ts) the children load TypeScript through tsx too.
const LOADER = import.meta.filename.endsWith(".ts") ? ["--import", "tsx"] : [];
// BENCH_PROFILE_DIR: a V8 CPU profile of every child, to open in Chrome DevTools.
const PROFILE = process.env.BENCH_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];

export class Child {
  private readonly lines: AsyncIterator<string>;
  readonly exited: Promise<number | null>;

  private constructor(
    readonly name: string,
    private readonly process: ChildProcess,
  ) {
    this.lines = createInterface({ input: process.stdout! })[Symbol.asyncIterator]();
    this.exited = new Promise((resolve) => process.once("exit", (code) => resolve(code)));
  }

  /** Starts bench/<script> (beside this file, .ts or .js alike) with `args` as its first argument (JSON). */
  static start(name: string, script: string, args: unknown, env: Record<string, string> = {}): Child {
    const file = join(import.meta.dirname, `${script}${extname(import.meta.filename)}`);
    const child = spawn(process.execPath, [...PROFILE, ...LOADER, file, JSON.stringify(args)], {
      cwd: process.cwd(),
      env: { ...process.env, ...env },
      stdio: ["pipe", "pipe", "inherit"],
    });
    return new Child(name, child);
  }

  /** The child's next answer. */
  async next<T>(): Promise<T> {
    const line = await this.lines.next();
    if (line.done) throw new Error(`${this.name} ended before answering (exit code ${String(await this.exited)})`);
    return JSON.parse(line.value) as T;
  }

  send(command: unknown): void {
    this.process.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  async ask<T>(command: unknown): Promise<T> {
    this.send(command);
    return this.next<T>();
  }

  /** Closes its stdin (the child's signal to finish), reads its last answer and waits for it to exit. */
  async finish<T>(): Promise<T> {
    this.process.stdin!.end();
    const last = await this.next<T>();
    const timer = setTimeout(() => this.process.kill(), 30_000);
    await this.exited;
    clearTimeout(timer);
    return last;
  }

  kill(): void {
    if (this.process.exitCode === null) this.process.kill();
  }
}

/** In a child: its argument, its commands (until stdin closes), and how it answers. */
export const childArgument = <T>(): T => JSON.parse(process.argv[2] ?? "{}") as T;

export async function* commands<T>(): AsyncGenerator<T> {
  for await (const line of createInterface({ input: process.stdin })) if (line.trim()) yield JSON.parse(line) as T;
}

export function answer(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * CPU of this process's main thread (the event loop), ms, from Linux's /proc/self/task/<pid>/stat (utime and stime,
 * fields 14 and 15, in clock ticks: proc(5)); undefined where there is no /proc. process.cpuUsage() also counts
 * libuv's pool and V8's GC helper threads, which a single-thread floor must not.
 */
const CLOCK_TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: fields are counted after its ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

/** A child's own footprint: its peak resident memory (sampled) and the CPU it spent since it started measuring. */
export class Footprint {
  private peak = process.memoryUsage.rss();
  private readonly timer = setInterval(() => this.sample(), 100);
  private cpuFrom = process.cpuUsage();
  private threadFrom = mainThreadCpuMs();

  constructor() {
    this.timer.unref();
  }

  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }

  /** Counts CPU from now (module loading and setup before it are not the workload's). */
  resetCpu(): void {
    this.cpuFrom = process.cpuUsage();
    this.threadFrom = mainThreadCpuMs();
  }

  /** The main thread's CPU since measuring started; the whole process's where the thread's cannot be read. */
  threadCpuMs(): number {
    const now = mainThreadCpuMs();
    return now !== undefined && this.threadFrom !== undefined ? now - this.threadFrom : this.cpuMs();
  }

  cpuMs(): number {
    const used = process.cpuUsage(this.cpuFrom);
    return (used.user + used.system) / 1000;
  }

  report(): { peakRssMb: number; cpuMs: number; mainThreadCpuMs: number } {
    this.sample();
    return { peakRssMb: this.peak / 1024 / 1024, cpuMs: this.cpuMs(), mainThreadCpuMs: this.threadCpuMs() };
  }
}
