import type { ComplianceReport, ReportHeader, ReportTarget, ReportTargets } from "./model.js";
import type { ReportWriter } from "./writer.js";
import { csvWriter } from "./formats/csv.js";
import { htmlWriter } from "./formats/html.js";
import { jsonWriter } from "./formats/json.js";
import { markdownWriter } from "./formats/markdown.js";
import { sarifWriter } from "./formats/sarif.js";

/**
 * Every format of the compliance report, rendered from the same data. Each format is a writer that is handed the
 * header first and then one target at a time, so a report of 50,000 targets streams out in chunks without the
 * targets ever being in memory together (`renderReportChunks`); `renderReport` is the same for a whole report.
 */
export const REPORT_FORMATS = ["json", "html", "csv", "sarif", "markdown"] as const;
export type RenderFormat = (typeof REPORT_FORMATS)[number];

export interface FormatInfo {
  contentType: string;
  fileExtension: string;
}

export interface RenderedReport extends FormatInfo {
  body: string;
}

const FORMATS: Record<RenderFormat, FormatInfo & { writer: (header: ReportHeader) => ReportWriter }> = {
  json: { contentType: "application/json; charset=utf-8", fileExtension: "json", writer: jsonWriter },
  html: { contentType: "text/html; charset=utf-8", fileExtension: "html", writer: htmlWriter },
  csv: { contentType: "text/csv; charset=utf-8", fileExtension: "csv", writer: csvWriter },
  sarif: { contentType: "application/sarif+json; charset=utf-8", fileExtension: "sarif", writer: sarifWriter },
  markdown: { contentType: "text/markdown; charset=utf-8", fileExtension: "md", writer: markdownWriter },
};

export function formatInfo(format: RenderFormat): FormatInfo {
  const { contentType, fileExtension } = FORMATS[format];
  return { contentType, fileExtension };
}

/** The header and targets of a whole report, for the streaming renderer. */
export function splitReport(report: ComplianceReport): { header: ReportHeader; targets: ReportTarget[] } {
  const { targets, ...header } = report;
  return { header, targets };
}

/**
 * The report as string chunks: the header's part first, one chunk per target, then the end. Targets are read
 * once, in the order given (a generator, an async generator reading pages from the results store, an array).
 */
export async function* renderReportChunks(header: ReportHeader, targets: ReportTargets, format: RenderFormat): AsyncGenerator<string, void, undefined> {
  const writer = FORMATS[format].writer(header);
  yield writer.begin();
  for await (const target of targets) {
    const chunk = writer.target(target);
    if (chunk) yield chunk;
  }
  yield writer.end();
}

/** A whole report in one string (what renderReportChunks yields, joined). */
export function renderReport(report: ComplianceReport, format: RenderFormat): RenderedReport {
  const { header, targets } = splitReport(report);
  const writer = FORMATS[format].writer(header);
  const parts = [writer.begin()];
  for (const target of targets) parts.push(writer.target(target));
  parts.push(writer.end());
  return { ...formatInfo(format), body: parts.join("") };
}
