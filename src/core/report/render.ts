import type { ComplianceReport } from "./model.js";
import { renderCsv } from "./formats/csv.js";
import { renderHtml } from "./formats/html.js";
import { renderMarkdown } from "./formats/markdown.js";
import { renderSarif } from "./formats/sarif.js";

/** Every format of the compliance report, rendered from the same data. */
export const REPORT_FORMATS = ["json", "html", "csv", "sarif", "markdown"] as const;
export type RenderFormat = (typeof REPORT_FORMATS)[number];

export interface RenderedReport {
  contentType: string;
  body: string;
  fileExtension: string;
}

export function renderReport(report: ComplianceReport, format: RenderFormat): RenderedReport {
  switch (format) {
    case "json":
      return { contentType: "application/json; charset=utf-8", body: `${JSON.stringify(report, null, 2)}\n`, fileExtension: "json" };
    case "html":
      return { contentType: "text/html; charset=utf-8", body: renderHtml(report), fileExtension: "html" };
    case "csv":
      return { contentType: "text/csv; charset=utf-8", body: renderCsv(report), fileExtension: "csv" };
    case "sarif":
      return { contentType: "application/sarif+json; charset=utf-8", body: renderSarif(report), fileExtension: "sarif" };
    case "markdown":
      return { contentType: "text/markdown; charset=utf-8", body: renderMarkdown(report), fileExtension: "md" };
  }
}
