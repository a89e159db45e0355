import type { ReportTarget } from "./model.js";

/**
 * A format's renderer for one report: `begin` is everything the header decides, `target` one target's part (in
 * the order targets arrive), `end` what closes the document. Writers keep only what a format must carry to its
 * end (counts, at most a short line per target), never the targets themselves.
 */
export interface ReportWriter {
  begin(): string;
  target(target: ReportTarget): string;
  end(): string;
}
