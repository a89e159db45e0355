import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TargetResult } from "../core/domain.js";
import { STATUS_ORDER } from "../core/report/build.js";
import { SummaryCells } from "../core/summary-cells.js";
import { failingRuleIds } from "../scan/run-scan.js";

/**
 * The CLI's results on disk, not in memory: each result is appended to a file of its status as it arrives, and read
 * back once per output, noncompliant first, so the report of 50,000 targets is written without holding them. What
 * the summary needs (counts by subscription, kind, status and rules) is kept as it arrives: a handful of cells.
 */
export class ResultSpool {
  private readonly dir = mkdtempSync(join(tmpdir(), "auditguard-results-"));
  readonly cells = new SummaryCells();
  private count = 0;

  add(result: TargetResult): void {
    appendFileSync(join(this.dir, `${result.status}.ndjson`), `${JSON.stringify(result)}\n`, { mode: 0o600 });
    this.cells.add({ subscriptionId: result.target.subscriptionId, kind: result.target.kind, status: result.status, failingRuleIds: failingRuleIds(result) });
    this.count++;
  }

  get size(): number {
    return this.count;
  }

  /** Every result, in the report's order of statuses (within a status, in the order they finished). */
  async *read(): AsyncGenerator<TargetResult> {
    for (const status of STATUS_ORDER) {
      let handle;
      try {
        handle = await open(join(this.dir, `${status}.ndjson`), "r");
      } catch {
        continue;
      }
      try {
        for await (const line of handle.readLines()) if (line) yield JSON.parse(line) as TargetResult;
      } finally {
        await handle.close();
      }
    }
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
