/**
 * What the benchmark runs, from the environment. The defaults are issue 15's estate: 10,000 targets over 50
 * subscriptions and 20 Log Analytics workspaces, 10% drifted, in enforce mode, with lognormal latencies and every
 * service limit on. BENCH_QUICK=1 is a tiny run for the test suite (seconds, not minutes).
 */
export interface LatencyMedians {
  armMs: number;
  logAnalyticsMs: number;
  tdsMs: number;
  /** The lognormal's sigma (the same for the three services). */
  sigma: number;
}

export interface BenchOptions {
  targets: number;
  subscriptions: number;
  workspaces: number;
  driftRate: number;
  mode: "plan" | "enforce";
  latency: LatencyMedians;
  /** Scaled-out Functions instances (worker processes). */
  workers: number;
  /** The CLI path's concurrency (its --concurrency). */
  cliConcurrency: number;
  paths: Array<"functions" | "cli">;
  /** How often the activity sweep runs during the Functions path. */
  sweepSeconds: number;
  /** Targets of each kind scanned one at a time for the CPU per target by kind. */
  cpuSamplePerKind: number;
  /** Gives up on a path after this long. */
  timeoutSeconds: number;
  seed: number;
  quick: boolean;
  /**
   * BENCH_LIFT_LOG_ANALYTICS=1, for diagnosis only: Log Analytics' rate and concurrency limits off (emulator and
   * scanner), to see what the rest of the pipeline does while each target still queries Log Analytics itself.
   */
  liftLogAnalytics: boolean;
  /** Where the JSON report goes (BENCH_JSON). */
  jsonFile?: string;
}

const number = (name: string, fallback: number, check: (n: number) => boolean = (n) => n > 0): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || !check(value)) throw new Error(`${name}=${raw} is not a valid value`);
  return value;
};

export function benchOptions(): BenchOptions {
  const quick = process.env.BENCH_QUICK === "1";
  const targets = number("BENCH_TARGETS", quick ? 40 : 10_000, Number.isInteger);
  const paths = (process.env.BENCH_PATHS ?? "functions,cli").split(",").map((p) => p.trim()).filter(Boolean);
  for (const p of paths) if (p !== "functions" && p !== "cli") throw new Error(`BENCH_PATHS: unknown path '${p}' (functions, cli)`);
  const mode = process.env.BENCH_MODE ?? "enforce";
  if (mode !== "plan" && mode !== "enforce") throw new Error(`BENCH_MODE=${mode}: plan or enforce`);
  const workers = number("BENCH_WORKERS", quick ? 2 : 4, Number.isInteger);
  return {
    targets,
    subscriptions: number("BENCH_SUBSCRIPTIONS", quick ? 3 : 50, Number.isInteger),
    workspaces: number("BENCH_WORKSPACES", quick ? 3 : 20, Number.isInteger),
    driftRate: number("BENCH_DRIFT", 0.1, (n) => n >= 0 && n <= 1),
    mode,
    latency: {
      armMs: number("BENCH_ARM_MS", quick ? 5 : 60, (n) => n >= 0),
      logAnalyticsMs: number("BENCH_LA_MS", quick ? 5 : 120, (n) => n >= 0),
      tdsMs: number("BENCH_TDS_MS", quick ? 2 : 20, (n) => n >= 0),
      sigma: number("BENCH_SIGMA", 0.5, (n) => n >= 0),
    },
    workers,
    cliConcurrency: number("BENCH_CLI_CONCURRENCY", quick ? 8 : 64, Number.isInteger),
    paths: paths as BenchOptions["paths"],
    sweepSeconds: number("BENCH_SWEEP_SECONDS", 300),
    cpuSamplePerKind: number("BENCH_CPU_SAMPLE", quick ? 2 : 30, (n) => Number.isInteger(n) && n >= 0),
    timeoutSeconds: number("BENCH_TIMEOUT_SECONDS", quick ? 120 : 3_600),
    seed: number("BENCH_SEED", 3, Number.isInteger),
    quick,
    liftLogAnalytics: process.env.BENCH_LIFT_LOG_ANALYTICS === "1",
    ...(process.env.BENCH_JSON ? { jsonFile: process.env.BENCH_JSON } : {}),
  };
}

/** The mean of a lognormal with this median and sigma: median x e^(sigma^2 / 2). */
export const lognormalMean = (medianMs: number, sigma: number) => medianMs * Math.exp((sigma * sigma) / 2);
