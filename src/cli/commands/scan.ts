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
import { compareForReport, reportHeader, summaryFromCells, toReportTarget } from "../../core/report/build.js";
import { renderReportChunks, REPORT_FORMATS } from "../../core/report/render.js";
import type { ReportHeader, ReportTarget } from "../../core/report/model.js";
import { SummaryCells } from "../../core/summary-cells.js";
import { failingRuleIds } from "../../scan/run-scan.js";
import { ResultSpool } from "../result-spool.js";
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

/** Where a run's results are read from: the summary itself (small runs, tests) or the CLI's spool on disk. */
export interface ResultSource {
  read(): AsyncIterable<TargetResult>;
  cells: SummaryCells;
}

function tableRow(r: TargetResult): string[] {
  return [r.target.kind, r.target.name, r.status, r.applied.length ? String(r.applied.length) : "", redact(r.reason ?? "")];
}

function tableOf(summary: ScanRunSummary, rows: string[][], width: number): string {
  // The REASON wraps at spaces; the JSON report carries every reason whole.
  for (const n of summary.notScanned) rows.push([n.target.kind, n.target.name, "not scanned", "", redact(n.reason)]);
  const c = summary.counts;
  return (
    textTable(["KIND", "TARGET", "STATUS", "CHANGES", "REASON"], rows, { width }) +
    `\n${summary.inventory.inScope} targets: ${c.compliant} compliant, ${c.remediated} remediated, ${c.noncompliant} noncompliant, ${c.exempt} exempt, ${c.error} error, ${summary.notScanned.length} not scanned` +
    ` (scan ${summary.scanId}, inventory via ${summary.inventory.source})\n` +
    summary.inventory.unreadable.map((u) => `inventory incomplete: ${redact(u)}\n`).join("")
  );
}

/** The summary table of a run whose results are in the summary. */
export function summaryTable(summary: ScanRunSummary, width = 160): string {
  return tableOf(summary, summary.results.map(tableRow), width);
}

async function summaryTableFrom(summary: ScanRunSummary, source: ResultSource, width: number): Promise<string> {
  const rows: string[][] = [];
  for await (const r of source.read()) rows.push(tableRow(r));
  return tableOf(summary, rows, width);
}

/** A target the run could not reach stays in the report, as an error with its reason, never as a gap. */
function notScannedResult(summary: ScanRunSummary, n: ScanRunSummary["notScanned"][number]): TargetResult {
  return { scanId: summary.scanId, target: n.target, status: "error", reason: n.reason, mode: summary.mode === "per-kind" ? "plan" : summary.mode, startedAt: summary.startedAt, finishedAt: summary.finishedAt, findings: [], plan: [], applied: [] };
}

/** The results of a run held in its summary, as a source (tests, small runs). */
export function summarySource(summary: ScanRunSummary): ResultSource {
  const cells = new SummaryCells();
  for (const r of summary.results) cells.add({ subscriptionId: r.target.subscriptionId, kind: r.target.kind, status: r.status, failingRuleIds: failingRuleIds(r) });
  return { cells, read: async function* () { yield* [...summary.results].sort(compareForReport); } };
}

/**
 * The compliance report of one CLI run, as a header and a stream of targets read from the source: its results and
 * the targets not scanned (as errors with their reason); the run is the only trend point.
 */
export function reportOf(summary: ScanRunSummary, source: ResultSource = summarySource(summary)): { header: ReportHeader; targets: AsyncIterable<ReportTarget> } {
  const cells = new SummaryCells(source.cells.cells());
  for (const n of summary.notScanned) cells.add({ subscriptionId: n.target.subscriptionId, kind: n.target.kind, status: "error", failingRuleIds: [] });
  const header = reportHeader({ summary: summaryFromCells(cells.cells(), summary.finishedAt), runs: [], now: new Date(summary.finishedAt) });
  header.trend = [{ scanId: summary.scanId, finishedAt: summary.finishedAt, byStatus: header.summary.byStatus }];
  const targets = async function* () {
    for await (const r of source.read()) yield toReportTarget(r);
    for (const n of summary.notScanned) yield toReportTarget(notScannedResult(summary, n));
  };
  return { header, targets: targets() };
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

async function scriptOf(summary: ScanRunSummary, source: ResultSource): Promise<string> {
  const targets: Array<{ target: TargetResult["target"]; actions: ReturnType<typeof pendingActions> }> = [];
  for await (const r of source.read()) {
    const actions = pendingActions(r);
    if (actions.length) targets.push({ target: r.target, actions });
  }
  return sqlScript(targets, { generatedAt: summary.finishedAt, origin: `scan ${summary.scanId} (mode ${summary.mode})` });
}

/** The report's chunks in the asked format, read from the source as they are written (the table and the script are one chunk each). */
function chunksOf(summary: ScanRunSummary, source: ResultSource, format: ScanFormat, width: number): AsyncIterable<string> {
  if (format === "table") return (async function* () { yield await summaryTableFrom(summary, source, width); })();
  if (format === "sql") return (async function* () { yield await scriptOf(summary, source); })();
  const { header, targets } = reportOf(summary, source);
  return renderReportChunks(header, targets, format);
}

async function bodyOf(summary: ScanRunSummary, source: ResultSource, format: ScanFormat, width: number): Promise<string> {
  let out = "";
  for await (const chunk of chunksOf(summary, source, format, width)) out += chunk;
  return out;
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
  // Results go to disk as they come, not into memory: a run of any size is written out from there.
  const spool = new ResultSpool();
  try {
    return await scanAndReport(env, options, format, width, spool, progress, concurrency);
  } finally {
    spool.dispose();
  }
}

async function scanAndReport(
  env: ReturnType<typeof createScanEnvironment>,
  options: ScanCommandOptions,
  format: ScanFormat,
  width: number,
  spool: ResultSpool,
  progress: ReturnType<typeof createProgressReporter> | undefined,
  concurrency: number | undefined,
): Promise<CommandResult> {
  let summary: ScanRunSummary;
  try {
    summary = await runScan(env, {
      keepResults: false,
      trigger: "cli",
      ...(options.mode ? { mode: options.mode as "off" | "plan" | "enforce" } : {}),
      ...(concurrency ? { concurrency } : {}),
      ...(options.store ? { store: options.store } : {}),
      ...(options.events ? { events: options.events } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onStart: (targets) => progress?.start(targets.length),
      onResult: (r) => {
        spool.add(r);
        progress?.tick(r.target.name, r.status);
      },
    });
  } catch (error) {
    return scanFailure(error);
  }
  progress?.finish();
  const notes = summary.deliveryErrors.map((e) => `warning: ${e}\n`).join("");
  const exitCode = scanExitCode(summary);
  if (!options.output) return { exitCode, stdout: await bodyOf(summary, spool, format, width), stderr: notes };
  const table = () => summaryTableFrom(summary, spool, width);
  const stdout = format === "table" ? "" : await table();
  try {
    await writeChunks(options.output, chunksOf(summary, spool, format, width));
    return { exitCode, stdout, stderr: `${notes}wrote ${options.output}\n` };
  } catch (error) {
    // The scan ran (and in enforce mode changed things): its summary is printed and its report kept.
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    const extension = format === "table" ? "txt" : format === "markdown" ? "md" : format;
    const fallback = join(tmpdir(), `auditguard-${summary.scanId}.${extension}`);
    try {
      await writeChunks(fallback, chunksOf(summary, spool, format, width));
      return { exitCode: EXIT.usage, stdout: await table(), stderr: `${notes}could not write ${options.output}: ${reason}; the report is in ${fallback}\n` };
    } catch {
      return { exitCode: EXIT.usage, stdout: `${await table()}${format === "table" ? "" : `\n${await bodyOf(summary, spool, format, width)}`}`, stderr: `${notes}could not write ${options.output} (${reason}) nor ${fallback}: the report follows the summary on standard output\n` };
    }
  }
}
