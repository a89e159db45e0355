import { accessSync, constants, statSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, extname, join, resolve } from "node:path";
import type { TokenCredential } from "@azure/core-auth";
import { createScanEnvironment } from "../../scan/environment.js";
import { runScan } from "../../scan/run-scan.js";
import type { ScanRunSummary } from "../../scan/run-scan.js";
import type { ResultsStore } from "../../azure/results-store.js";
import type { JsonQueue } from "../../azure/queues.js";
import type { TargetResult } from "../../core/domain.js";
import { describeChange } from "../../core/domain.js";
import { redact } from "../../core/redaction.js";
import { buildReport } from "../../core/report/build.js";
import { renderReport, renderReportChunks, REPORT_FORMATS, splitReport } from "../../core/report/render.js";
import type { RenderFormat } from "../../core/report/render.js";
import { readBaselineFile } from "./validate.js";
import { createProgressReporter } from "../progress.js";
import type { ProgressStream } from "../progress.js";
import { textTable } from "../table.js";
import { sqlScript } from "../sql-script.js";
import type { CommandResult } from "../result.js";
import { EXIT, failure } from "../result.js";

/**
 * `auditguard scan`: the whole-estate run from a terminal or a pipeline. Everything that can be checked before
 * the scan is (format, mode, concurrency, the baseline, where the report goes), so a mistake costs nothing; after
 * the scan the summary is always printed, and a report that cannot be written where asked is kept elsewhere.
 * Exit codes: result.ts.
 */
export const SCAN_FORMATS = ["table", ...REPORT_FORMATS, "sql"] as const;
export type ScanFormat = (typeof SCAN_FORMATS)[number];

const BY_EXTENSION: Record<string, ScanFormat> = { ".json": "json", ".html": "html", ".htm": "html", ".csv": "csv", ".sarif": "sarif", ".md": "markdown", ".sql": "sql", ".txt": "table" };

export interface ScanCommandOptions {
  config: string;
  mode?: string;
  concurrency?: string;
  /** Defaults to the --output file's extension (.html, .json, .csv, .sarif, .md, .sql), else table. */
  format?: string;
  output?: string;
  /** Width the summary's REASON column wraps to (a terminal's columns); 160 when not given. */
  columns?: number;
  /** For tests and the demo: a credential, results store and events queue built elsewhere. */
  credential?: TokenCredential;
  store?: ResultsStore;
  events?: JsonQueue;
  progress?: ProgressStream;
  signal?: AbortSignal;
}

export function summaryTable(summary: ScanRunSummary, width = 160): string {
  // The REASON wraps at spaces; the JSON report carries every reason whole.
  const rows = summary.results.map((r) => [r.target.kind, r.target.name, r.status, r.applied.length ? String(r.applied.length) : "", redact(r.reason ?? "")]);
  for (const n of summary.notScanned) rows.push([n.target.kind, n.target.name, "not scanned", "", redact(n.reason)]);
  const c = summary.counts;
  return (
    textTable(["KIND", "TARGET", "STATUS", "CHANGES", "REASON"], rows, { width }) +
    `\n${summary.inventory.inScope} targets: ${c.compliant} compliant, ${c.remediated} remediated, ${c.noncompliant} noncompliant, ${c.exempt} exempt, ${c.error} error, ${summary.notScanned.length} not scanned` +
    ` (scan ${summary.scanId}, inventory via ${summary.inventory.source})\n` +
    summary.inventory.unreadable.map((u) => `inventory incomplete: ${redact(u)}\n`).join("")
  );
}

/** A target the run could not reach stays in the report, as an error with its reason, never as a gap. */
function notScannedResult(summary: ScanRunSummary, n: ScanRunSummary["notScanned"][number]): TargetResult {
  return { scanId: summary.scanId, target: n.target, status: "error", reason: n.reason, mode: summary.mode === "per-kind" ? "plan" : summary.mode, startedAt: summary.startedAt, finishedAt: summary.finishedAt, findings: [], plan: [], applied: [] };
}

/** The compliance report of one CLI run: its results (unscanned targets as errors), the run as the only trend point. */
export function reportOf(summary: ScanRunSummary) {
  const results = [...summary.results, ...summary.notScanned.map((n) => notScannedResult(summary, n))];
  const report = buildReport({ results, runs: [], now: new Date(summary.finishedAt) });
  report.trend = [{ scanId: summary.scanId, finishedAt: summary.finishedAt, byStatus: report.summary.byStatus }];
  return report;
}

export function scanExitCode(summary: ScanRunSummary): number {
  const c = summary.counts;
  if (summary.inventory.unreadable.length || c.error || summary.notScanned.length) return EXIT.cannotScan;
  return c.noncompliant ? EXIT.drift : EXIT.ok;
}

/**
 * Why a scan could not run, as the exit code and message a pipeline acts on. The inventory's own error
 * (InventoryError, from src/azure/errors.ts) and the credential errors of @azure/identity are matched by name:
 * they may come from another copy of the module, and the name is their documented identity.
 */
const SIGN_IN_ERRORS = new Set(["CredentialUnavailableError", "AuthenticationError", "AggregateAuthenticationError", "AuthenticationRequiredError"]);

export function scanFailure(error: unknown): CommandResult {
  const e = (typeof error === "object" && error !== null ? error : {}) as { name?: string; message?: string; unreadable?: unknown };
  const message = redact(e.message ?? String(error));
  if (e.name === "InventoryError") {
    const unreadable = Array.isArray(e.unreadable) ? e.unreadable.map(String) : [];
    return failure(`could not scan: ${message}\n${unreadable.map((u) => `  unreadable: ${redact(u)}\n`).join("")}`, EXIT.cannotScan);
  }
  if (e.name && SIGN_IN_ERRORS.has(e.name)) return failure(`could not scan: sign-in failed (${e.name}): ${message}\n`, EXIT.cannotScan);
  if (e.name === "AbortError") return failure(`could not scan: the scan was cancelled\n`, EXIT.cannotScan);
  return failure(`could not scan: ${message}\n`, EXIT.cannotScan);
}

/** Why a report cannot be written to `path`, checked before the scan; undefined when it can. */
export function outputProblem(path: string): string | undefined {
  const full = resolve(path);
  try {
    if (statSync(full).isDirectory()) return `--output ${path} is a directory; give a file name`;
    accessSync(full, constants.W_OK);
    return undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") return `cannot write --output ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
  const dir = dirname(full);
  try {
    if (!statSync(dir).isDirectory()) return `cannot write --output ${path}: ${dir} is not a directory`;
    accessSync(dir, constants.W_OK);
  } catch (error) {
    return `cannot write --output ${path}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? `the directory ${dir} does not exist` : ((error as NodeJS.ErrnoException).code ?? (error as Error).message)}`;
  }
  return undefined;
}

/** Writes the chunks to a temporary file beside `path`, then renames it into place: a failure leaves no half file. */
async function writeChunks(path: string, chunks: AsyncIterable<string>): Promise<void> {
  const full = resolve(path);
  const partial = join(dirname(full), `.${basename(full)}.${process.pid}.partial`);
  const handle = await open(partial, "w");
  try {
    for await (const chunk of chunks) await handle.write(chunk);
    await handle.close();
    await rename(partial, full);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw error;
  }
}

function pendingActions(r: TargetResult) {
  const applied = new Set(r.applied.map(describeChange));
  return r.plan.filter((a) => !applied.has(describeChange(a)));
}

function scriptOf(summary: ScanRunSummary): string {
  const targets = summary.results.map((r) => ({ target: r.target, actions: pendingActions(r) })).filter((t) => t.actions.length);
  return sqlScript(targets, { generatedAt: summary.finishedAt, origin: `scan ${summary.scanId} (mode ${summary.mode})` });
}

/** The report's chunks in the asked format (the summary table and the SQL script are one chunk each). */
function chunksOf(summary: ScanRunSummary, format: ScanFormat, width: number): AsyncIterable<string> {
  if (format === "table") return (async function* () { yield summaryTable(summary, width); })();
  if (format === "sql") return (async function* () { yield scriptOf(summary); })();
  const { header, targets } = splitReport(reportOf(summary));
  return renderReportChunks(header, targets, format);
}

function bodyOf(summary: ScanRunSummary, format: ScanFormat, width: number): string {
  if (format === "table") return summaryTable(summary, width);
  if (format === "sql") return scriptOf(summary);
  return renderReport(reportOf(summary), format as RenderFormat).body;
}

export async function scanCommand(options: ScanCommandOptions): Promise<CommandResult> {
  const inferred = options.format === undefined && options.output ? BY_EXTENSION[extname(options.output).toLowerCase()] : undefined;
  const format = (options.format ?? inferred ?? "table") as ScanFormat;
  if (!SCAN_FORMATS.includes(format)) return failure(`unknown format '${options.format}': use ${SCAN_FORMATS.join(", ")}\n`);
  if (options.mode !== undefined && !["off", "plan", "enforce"].includes(options.mode)) return failure(`unknown mode '${options.mode}': use off, plan or enforce\n`);
  const concurrency = options.concurrency === undefined ? undefined : Number(options.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)) return failure(`--concurrency must be a whole number from 1 to 256\n`);
  if (options.output !== undefined) {
    const problem = outputProblem(options.output);
    if (problem) return failure(`${problem}; nothing was run\n`);
  }
  const read = readBaselineFile(options.config);
  if (!read.ok) return read.result;
  let env;
  try {
    env = createScanEnvironment(read.baseline, { ...(options.credential ? { credential: options.credential } : {}), baseDir: dirname(resolve(options.config)) });
  } catch (error) {
    return failure(`cannot prepare the scan: ${redact((error as Error).message)}\n`);
  }
  const width = options.columns ?? 160;
  const progress = options.progress ? createProgressReporter(options.progress) : undefined;
  let summary: ScanRunSummary;
  try {
    summary = await runScan(env, {
      trigger: "cli",
      ...(options.mode ? { mode: options.mode as "off" | "plan" | "enforce" } : {}),
      ...(concurrency ? { concurrency } : {}),
      ...(options.store ? { store: options.store } : {}),
      ...(options.events ? { events: options.events } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onStart: (targets) => progress?.start(targets.length),
      onResult: (r) => progress?.tick(r.target.name, r.status),
    });
  } catch (error) {
    return scanFailure(error);
  }
  progress?.finish();
  const notes = summary.deliveryErrors.map((e) => `warning: ${e}\n`).join("");
  const exitCode = scanExitCode(summary);
  if (!options.output) return { exitCode, stdout: bodyOf(summary, format, width), stderr: notes };
  const stdout = format === "table" ? "" : summaryTable(summary, width);
  try {
    await writeChunks(options.output, chunksOf(summary, format, width));
    return { exitCode, stdout, stderr: `${notes}wrote ${options.output}\n` };
  } catch (error) {
    // The scan ran (and in enforce mode changed things): its summary is printed and its report kept.
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    const extension = format === "table" ? "txt" : format === "markdown" ? "md" : format;
    const fallback = join(tmpdir(), `auditguard-${summary.scanId}.${extension}`);
    try {
      await writeChunks(fallback, chunksOf(summary, format, width));
      return { exitCode: EXIT.usage, stdout: summaryTable(summary, width), stderr: `${notes}could not write ${options.output}: ${reason}; the report is in ${fallback}\n` };
    } catch {
      return { exitCode: EXIT.usage, stdout: `${summaryTable(summary, width)}${format === "table" ? "" : `\n${bodyOf(summary, format, width)}`}`, stderr: `${notes}could not write ${options.output} (${reason}) nor ${fallback}: the report follows the summary on standard output\n` };
    }
  }
}
