import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { TokenCredential } from "@azure/core-auth";
import { createScanEnvironment } from "../../scan/environment.js";
import { runScan } from "../../scan/run-scan.js";
import type { ScanRunSummary } from "../../scan/run-scan.js";
import type { ResultsStore } from "../../azure/results-store.js";
import type { JsonQueue } from "../../azure/queues.js";
import { redact } from "../../core/redaction.js";
import { buildReport } from "../../core/report/build.js";
import { renderReport } from "../../core/report/render.js";
import { readBaselineFile } from "./validate.js";
import { createProgressReporter } from "../progress.js";
import type { ProgressStream } from "../progress.js";
import { textTable } from "../table.js";
import type { CommandResult } from "../result.js";
import { EXIT, failure } from "../result.js";

/**
 * `auditguard scan`: the whole-estate run from a terminal or a pipeline. Exit 0 when every target is compliant,
 * remediated or exempt; 1 when drift, errors or unscanned targets remain; 2 on usage or configuration errors.
 */
export const SCAN_FORMATS = ["table", "json", "html", "csv", "sarif", "markdown"] as const;
export type ScanFormat = (typeof SCAN_FORMATS)[number];

export interface ScanCommandOptions {
  config: string;
  mode?: string;
  concurrency?: string;
  format?: string;
  output?: string;
  /** For tests and the demo: a credential, results store and events queue built elsewhere. */
  credential?: TokenCredential;
  store?: ResultsStore;
  events?: JsonQueue;
  progress?: ProgressStream;
  signal?: AbortSignal;
}

export function summaryTable(summary: ScanRunSummary): string {
  // The table stays readable on a terminal; the JSON format carries every reason whole.
  const short = (text: string) => (text.length > 160 ? `${text.slice(0, 157)}...` : text);
  const rows = [...summary.results.map((r) => [r.target.kind, r.target.name, r.status, r.applied.length ? String(r.applied.length) : "", short(redact(r.reason ?? "").replace(/\s+/g, " "))])];
  for (const n of summary.notScanned) rows.push([n.target.kind, n.target.name, "not scanned", "", n.reason]);
  const c = summary.counts;
  return (
    textTable(["KIND", "TARGET", "STATUS", "CHANGES", "REASON"], rows) +
    `\n${summary.inventory.inScope} targets: ${c.compliant} compliant, ${c.remediated} remediated, ${c.noncompliant} noncompliant, ${c.exempt} exempt, ${c.error} error, ${summary.notScanned.length} not scanned` +
    ` (scan ${summary.scanId}, inventory via ${summary.inventory.source})\n`
  );
}

/** The compliance report of one CLI run: its results, and the run itself as the only trend point. */
export function reportOf(summary: ScanRunSummary) {
  return buildReport({
    results: summary.results,
    runs: [{ scanId: summary.scanId, finishedAt: summary.finishedAt, counts: summary.counts }],
    now: new Date(summary.finishedAt),
    version: "0.1.0",
  });
}

export function scanExitCode(summary: ScanRunSummary): number {
  const c = summary.counts;
  return c.noncompliant + c.error + summary.notScanned.length > 0 ? EXIT.drift : EXIT.ok;
}

export async function scanCommand(options: ScanCommandOptions): Promise<CommandResult> {
  const format = (options.format ?? "table") as ScanFormat;
  if (!SCAN_FORMATS.includes(format)) return failure(`unknown format '${options.format}': use ${SCAN_FORMATS.join(", ")}\n`);
  if (options.mode !== undefined && !["off", "plan", "enforce"].includes(options.mode)) return failure(`unknown mode '${options.mode}': use off, plan or enforce\n`);
  const concurrency = options.concurrency === undefined ? undefined : Number(options.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)) return failure(`--concurrency must be a whole number from 1 to 256\n`);
  const read = readBaselineFile(options.config);
  if (!read.ok) return read.result;
  let env;
  try {
    env = createScanEnvironment(read.baseline, { ...(options.credential ? { credential: options.credential } : {}), baseDir: dirname(resolve(options.config)) });
  } catch (error) {
    return failure(`cannot prepare the scan: ${redact((error as Error).message)}\n`);
  }
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
    return { exitCode: EXIT.drift, stdout: "", stderr: `scan failed: ${redact((error as Error).message)}\n` };
  }
  progress?.finish();
  const body = format === "table" ? summaryTable(summary) : renderReport(reportOf(summary), format).body;
  const notes = summary.deliveryErrors.map((e) => `warning: ${e}\n`).join("");
  if (options.output) {
    writeFileSync(options.output, body);
    return { exitCode: scanExitCode(summary), stdout: format === "table" ? "" : summaryTable(summary), stderr: `${notes}wrote ${options.output}\n` };
  }
  return { exitCode: scanExitCode(summary), stdout: body, stderr: notes };
}
