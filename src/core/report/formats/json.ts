import type { ReportHeader, ReportTarget } from "../model.js";
import type { ReportWriter } from "../writer.js";
import { JsonArrayWriter, jsonFrame, STREAMED } from "./json-stream.js";

/** The report itself (schema/report.schema.json), one JSON document laid out as JSON.stringify(report, null, 2). */
export function jsonWriter(header: ReportHeader): ReportWriter {
  const frame = jsonFrame({ ...header, targets: STREAMED });
  const targets = new JsonArrayWriter(frame.indents[0]!);
  return {
    begin: () => frame.pieces[0]!,
    target: (t: ReportTarget) => targets.item(t),
    end: () => `${targets.close()}${frame.pieces[1]!}\n`,
  };
}
