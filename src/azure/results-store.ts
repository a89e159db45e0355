import { createHash } from "node:crypto";
import { TableTransaction, odata } from "@azure/data-tables";
import type { TableClient, TableEntity, TableEntityResult } from "@azure/data-tables";
import type { StatusCounts, TargetKind, TargetStatus } from "../core/domain.js";
import { emptyCounts } from "../core/domain.js";
import type { SummaryCell } from "../core/summary-cells.js";
import { decodePayload, encodePayload, invertedTimeKey, toTableKey } from "./table-payload.js";
import { storeOp, tableClients } from "./table-clients.js";
import type { StoreConnection, StoreStats } from "./table-clients.js";

/**
 * Scan results in Azure Table storage, laid out so every per-target cost is a constant number of operations:
 *
 * - `<prefix>Latest`: the latest result of each target (partition: subscription). A write never replaces a newer
 *   result: it compares the stored scan's start time under the entity's ETag (optimistic concurrency).
 * - `<prefix>Results`: every result of every scan (partition: the scan), the scan's snapshot the report pages through
 *   with filters and a continuation token; pruned with the scan.
 * - `<prefix>Runs`: per scan, a run record (found by a point read), one progress row per target (written as
 *   `pending` when the scan is queued, so a message naming anything else is refused), a few counter shards updated
 *   with ETag compare-and-swap (the last worker sees the total reach the expected count without listing anything),
 *   the close claim and, once closed, the scan's summary.
 * - `<prefix>Leases`: short leases, renewed while held, that keep two scanners from remediating one target at once.
 *
 * Every failure leaves here as a StoreError naming what could not be done, so an outage never reads as a target's
 * fault.
 */
export type { StatusCounts, TargetStatus };
export type ProgressStatus = TargetStatus | "pending" | "attempt-failed" | "poisoned" | "refused";

export interface StoredResult {
  scanId: string;
  /** When the scan that produced it started: orders results of one target across scans. */
  scanStartedAt: string;
  targetId: string;
  kind: TargetKind;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  status: TargetStatus;
  reason?: string;
  scannedAt: string;
  failingRuleIds: string[];
  /** The whole TargetResult as the scan produced it. */
  detail: unknown;
}

export interface ScanRun {
  scanId: string;
  trigger: "timer" | "http" | "cli" | "queue";
  mode: "off" | "plan" | "enforce";
  startedAt: string;
  finishedAt?: string;
  /** How many targets the run enqueued or scanned. */
  expectedTargets: number;
  counts: StatusCounts;
  /** Every expected target has a final result. */
  complete: boolean;
  /** Closed: counted, summarised and announced (complete, or cut short by its deadline or an inventory failure). */
  closed?: boolean;
  /** Targets that never got a final result when the scan was closed. */
  notScanned?: number;
  /** Why the scan could not run or was cut short (e.g. the inventory could not be read). */
  problem?: string;
}

export interface ResultFilter {
  subscriptionIds?: readonly string[];
  kinds?: readonly TargetKind[];
  statuses?: readonly TargetStatus[];
  ruleIds?: readonly string[];
}

export interface Progress {
  targetId: string;
  status: ProgressStatus;
  reason: string;
  at: string;
  attempts: number;
  kind?: TargetKind;
  subscriptionId?: string;
  failingRuleIds: string[];
  etag: string;
}

export interface LeaseHolder {
  owner: string;
  acquiredAt: number;
  renewedAt: number;
  expiresAt: number;
}

export type LeaseOutcome =
  | { acquired: true; tookOverFrom?: LeaseHolder }
  | { acquired: false; holder: LeaseHolder };

export interface Page<T> {
  items: T[];
  continuationToken?: string;
}


const COUNTER_SHARDS = 8;
const BATCH = 100; // Table storage's entity group transaction limit
const CAS_ATTEMPTS = 20;

const statusOf = (error: unknown) => (error as { statusCode?: number }).statusCode;
const isNotFound = (error: unknown) => statusOf(error) === 404;
const isConflict = (error: unknown) => statusOf(error) === 409 || statusOf(error) === 412;

/** Rule ids become boolean columns so a rule filter runs in the service, not after reading every result. */
export const ruleColumn = (ruleId: string) => `f_${ruleId.replace(/[^A-Za-z0-9]/g, "_")}`;

const progressPartition = (scanId: string) => `p-${toTableKey(scanId)}`;
const counterPartition = (scanId: string) => `c-${toTableKey(scanId)}`;
const shardOf = (targetId: string) => String(createHash("sha256").update(targetId.toLowerCase()).digest()[0]! % COUNTER_SHARDS).padStart(2, "0");

/** Orders two results of one target: later scan start first, then scan id (two scans started the same millisecond). */
function isNewer(a: { scanStartedAt: string; scanId: string }, b: { scanStartedAt: string; scanId: string }): boolean {
  const ta = Date.parse(a.scanStartedAt);
  const tb = Date.parse(b.scanStartedAt);
  return ta !== tb ? ta > tb : a.scanId > b.scanId;
}

/** A continuation token of ours: base64url JSON of Table storage's next keys, validated when it comes back. */
function encodeToken(token: string | undefined): string | undefined {
  return token === undefined ? undefined : Buffer.from(token, "utf8").toString("base64url");
}

export class InvalidContinuationError extends Error {}

function decodeToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  if (!/^[A-Za-z0-9_-]{1,2000}$/.test(token)) throw new InvalidContinuationError("the continuation token is not one this service issued");
  const inner = Buffer.from(token, "base64url").toString("utf8");
  // data-tables' own token is base64 JSON of {nextPartitionKey, nextRowKey}; anything else is refused.
  try {
    const parsed = JSON.parse(Buffer.from(inner, "base64").toString("utf8")) as Record<string, unknown>;
    const keys = Object.keys(parsed);
    if (!keys.every((k) => k === "nextPartitionKey" || k === "nextRowKey") || !keys.every((k) => typeof parsed[k] === "string")) throw new Error("shape");
  } catch {
    throw new InvalidContinuationError("the continuation token is not one this service issued");
  }
  return inner;
}

export class ResultsStore {
  readonly stats: StoreStats = { requests: 0 };

  private constructor(
    private readonly latest: TableClient,
    private readonly results: TableClient,
    private readonly runs: TableClient,
    private readonly leases: TableClient,
  ) {}

  static async open(connection: StoreConnection, prefix = "AuditGuard"): Promise<ResultsStore> {
    const { make, stats } = tableClients(connection, prefix);
    const store = new ResultsStore(make("Latest"), make("Results"), make("Runs"), make("Leases"));
    Object.assign(store, { stats });
    await store.op("create its tables", () => Promise.all([store.latest, store.results, store.runs, store.leases].map((t) => t.createTable())));
    return store;
  }

  private op<T>(what: string, work: () => Promise<T>): Promise<T> {
    return storeOp(what, work, [InvalidContinuationError]);
  }

  // ---- results ---------------------------------------------------------------------------------------------

  private static resultEntity(partitionKey: string, rowKey: string, result: StoredResult) {
    const { head, overflow } = encodePayload(result.detail);
    const columns: Record<string, string | boolean> = {
      scanId: result.scanId,
      scanStartedAt: result.scanStartedAt,
      targetId: result.targetId,
      kind: result.kind,
      name: result.name,
      subscriptionId: result.subscriptionId.toLowerCase(),
      resourceGroup: result.resourceGroup,
      status: result.status,
      reason: result.reason ?? "",
      scannedAt: result.scannedAt,
      failingRuleIds: result.failingRuleIds.join(","),
    };
    for (const rule of result.failingRuleIds) columns[ruleColumn(rule)] = true;
    const main: TableEntity = { partitionKey, rowKey, ...columns, ...head };
    const extra: TableEntity[] = overflow.map((props, i) => ({ partitionKey, rowKey: `${rowKey}~${i + 1}`, ...props }));
    return { main, extra };
  }

  /** Stores one target's result in its scan and, unless a newer one is there, as the target's latest. */
  async saveResult(result: StoredResult): Promise<{ latest: "written" | "kept-newer" }> {
    const targetKey = toTableKey(result.targetId);
    await this.op("store the result in its scan", async () => {
      const { main, extra } = ResultsStore.resultEntity(toTableKey(result.scanId), targetKey, result);
      const transaction = new TableTransaction();
      transaction.upsertEntity(main, "Replace");
      for (const part of extra) transaction.upsertEntity(part, "Replace");
      await this.results.submitTransaction(transaction.actions);
    });
    return this.op("store the target's latest result", async () => {
      const partition = toTableKey(result.subscriptionId);
      const { main, extra } = ResultsStore.resultEntity(partition, targetKey, result);
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        let existing: TableEntityResult<Record<string, unknown>> | undefined;
        try {
          existing = await this.latest.getEntity<Record<string, unknown>>(partition, targetKey, { queryOptions: { select: ["scanId", "scanStartedAt"] } });
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
        if (existing && isNewer({ scanStartedAt: String(existing.scanStartedAt ?? ""), scanId: String(existing.scanId ?? "") }, result)) return { latest: "kept-newer" as const };
        const transaction = new TableTransaction();
        if (existing) transaction.updateEntity(main, "Replace", { etag: existing.etag });
        else transaction.createEntity(main);
        for (const part of extra) transaction.upsertEntity(part, "Replace");
        try {
          await this.latest.submitTransaction(transaction.actions);
          return { latest: "written" as const };
        } catch (error) {
          // Another worker wrote this target's latest in between: read again and decide again.
          if (!isConflict(error) && !/Precondition|EntityAlreadyExists|UpdateConditionNotSatisfied/i.test(String((error as Error).message))) throw error;
        }
      }
      throw new Error(`the latest result of ${result.targetId} kept changing under ${CAS_ATTEMPTS} attempts`);
    });
  }

  private async readResult(table: TableClient, entity: TableEntityResult<Record<string, unknown>>): Promise<StoredResult> {
    const parts = Number(entity.payloadEntities ?? 1);
    const overflow: Array<Record<string, unknown>> = [];
    for (let i = 1; i < parts; i++) overflow.push(await table.getEntity<Record<string, unknown>>(entity.partitionKey!, `${entity.rowKey!}~${i}`));
    const failing = String(entity.failingRuleIds ?? "");
    return {
      scanId: String(entity.scanId),
      scanStartedAt: String(entity.scanStartedAt ?? ""),
      targetId: String(entity.targetId),
      kind: entity.kind as TargetKind,
      name: String(entity.name),
      subscriptionId: String(entity.subscriptionId),
      resourceGroup: String(entity.resourceGroup),
      status: entity.status as TargetStatus,
      ...(entity.reason ? { reason: String(entity.reason) } : {}),
      scannedAt: String(entity.scannedAt),
      failingRuleIds: failing ? failing.split(",").filter(Boolean) : [],
      detail: decodePayload(entity, overflow),
    };
  }

  async getLatest(subscriptionId: string, targetId: string): Promise<StoredResult | undefined> {
    return this.op("read a latest result", async () => {
      try {
        const entity = await this.latest.getEntity<Record<string, unknown>>(toTableKey(subscriptionId), toTableKey(targetId));
        return await this.readResult(this.latest, entity);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
  }

  private static filterText(filter: ResultFilter, partition?: string): string {
    // odata`` quotes every value, so a filter value cannot change the query.
    const parts: string[] = [];
    if (partition !== undefined) parts.push(odata`PartitionKey eq ${partition}`);
    if (filter.subscriptionIds?.length) parts.push(`(${filter.subscriptionIds.map((s) => odata`subscriptionId eq ${s.toLowerCase()}`).join(" or ")})`);
    if (filter.kinds?.length) parts.push(`(${filter.kinds.map((k) => odata`kind eq ${k}`).join(" or ")})`);
    if (filter.statuses?.length) parts.push(`(${filter.statuses.map((s) => odata`status eq ${s}`).join(" or ")})`);
    // Column names come from the rule catalog's ids (letters, digits, dots, hyphens), never from input as such.
    if (filter.ruleIds?.length) parts.push(`(${filter.ruleIds.map((r) => `${ruleColumn(r)} eq true`).join(" or ")})`);
    // Overflow entities carry only payload properties, so every filter above excludes them but this one.
    parts.push("payloadEncoding ne ''");
    return parts.join(" and ");
  }

  /** The latest result of every target matching the filter, ordered by target id (all of them: for small estates and tests). */
  async listLatest(filter: ResultFilter = {}): Promise<StoredResult[]> {
    return this.op("list latest results", async () => {
      const out: StoredResult[] = [];
      for await (const entity of this.latest.listEntities<Record<string, unknown>>({ queryOptions: { filter: ResultsStore.filterText(filter) } })) {
        if (String(entity.rowKey).includes("~")) continue;
        out.push(await this.readResult(this.latest, entity));
      }
      return out.sort((a, b) => a.targetId.localeCompare(b.targetId));
    });
  }

  /** One page of a scan's results, in target-key order, filtered in the service. */
  async listScanResults(scanId: string, filter: ResultFilter = {}, page: { size?: number; continuationToken?: string } = {}): Promise<Page<StoredResult>> {
    const token = decodeToken(page.continuationToken);
    return this.op("list a scan's results", async () => {
      const pages = this.results
        .listEntities<Record<string, unknown>>({ queryOptions: { filter: ResultsStore.filterText(filter, toTableKey(scanId)) } })
        .byPage({ maxPageSize: Math.min(1000, Math.max(1, page.size ?? 200)), ...(token ? { continuationToken: token } : {}) });
      const first = await pages.next();
      if (first.done) return { items: [] };
      const items: StoredResult[] = [];
      for (const entity of first.value) if (!String(entity.rowKey).includes("~")) items.push(await this.readResult(this.results, entity));
      const next = encodeToken(first.value.continuationToken);
      return { items, ...(next ? { continuationToken: next } : {}) };
    });
  }

  /** Every result of a scan, page by page (bounded memory): for the CLI's report and the closing summary. */
  async *scanResults(scanId: string, filter: ResultFilter = {}): AsyncGenerator<StoredResult> {
    let continuationToken: string | undefined;
    do {
      const page = await this.listScanResults(scanId, filter, { size: 200, ...(continuationToken ? { continuationToken } : {}) });
      yield* page.items;
      continuationToken = page.continuationToken;
    } while (continuationToken);
  }

  // ---- runs ------------------------------------------------------------------------------------------------

  private static runColumns(run: ScanRun) {
    return {
      scanId: run.scanId,
      trigger: run.trigger,
      mode: run.mode,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt ?? "",
      expectedTargets: run.expectedTargets,
      counts: JSON.stringify(run.counts),
      complete: run.complete,
      closed: run.closed ?? false,
      notScanned: run.notScanned ?? 0,
      problem: run.problem ?? "",
    };
  }

  /** Saves a run under its id (point reads) and under its start time (listing newest first). */
  async saveRun(run: ScanRun): Promise<void> {
    await this.op("save the scan's run record", async () => {
      const columns = ResultsStore.runColumns(run);
      await Promise.all([
        this.runs.upsertEntity({ partitionKey: "runid", rowKey: toTableKey(run.scanId), ...columns }, "Replace"),
        this.runs.upsertEntity({ partitionKey: "run", rowKey: `${invertedTimeKey(new Date(run.startedAt))}_${toTableKey(run.scanId)}`, ...columns }, "Replace"),
      ]);
    });
  }

  private static toRun(entity: Record<string, unknown>): ScanRun {
    return {
      scanId: String(entity.scanId),
      trigger: entity.trigger as ScanRun["trigger"],
      mode: entity.mode as ScanRun["mode"],
      startedAt: String(entity.startedAt),
      ...(entity.finishedAt ? { finishedAt: String(entity.finishedAt) } : {}),
      expectedTargets: Number(entity.expectedTargets),
      counts: { ...emptyCounts(), ...(JSON.parse(String(entity.counts ?? "{}")) as Partial<StatusCounts>) },
      complete: entity.complete === true,
      closed: entity.closed === true,
      ...(Number(entity.notScanned) ? { notScanned: Number(entity.notScanned) } : {}),
      ...(entity.problem ? { problem: String(entity.problem) } : {}),
    };
  }

  /** Scan runs, newest first. */
  async listRuns(limit = 100): Promise<ScanRun[]> {
    return this.op("list scan runs", async () => {
      const out: ScanRun[] = [];
      const pages = this.runs.listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${"run"}` } }).byPage({ maxPageSize: Math.min(limit, 1000) });
      for await (const page of pages) {
        for (const entity of page) {
          out.push(ResultsStore.toRun(entity));
          if (out.length >= limit) return out;
        }
      }
      return out;
    });
  }

  async getRun(scanId: string): Promise<ScanRun | undefined> {
    return this.op("read the scan's run record", async () => {
      try {
        return ResultsStore.toRun(await this.runs.getEntity<Record<string, unknown>>("runid", toTableKey(scanId)));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
  }

  /** The newest scan that was closed (its summary and results are what the report shows). */
  async latestClosedScan(): Promise<string | undefined> {
    return this.op("read the latest closed scan", async () => {
      try {
        return String((await this.runs.getEntity<Record<string, unknown>>("pointer", "latest-closed")).scanId);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
  }

  /** Points the report at a closed scan, unless a newer scan was closed already. */
  async setLatestClosedScan(scanId: string, startedAt: string): Promise<void> {
    await this.op("point the report at the closed scan", async () => {
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        let existing: TableEntityResult<Record<string, unknown>> | undefined;
        try {
          existing = await this.runs.getEntity<Record<string, unknown>>("pointer", "latest-closed");
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
        if (existing && isNewer({ scanStartedAt: String(existing.startedAt), scanId: String(existing.scanId) }, { scanStartedAt: startedAt, scanId })) return;
        const entity = { partitionKey: "pointer", rowKey: "latest-closed", scanId, startedAt };
        try {
          if (existing) await this.runs.updateEntity(entity, "Replace", { etag: existing.etag });
          else await this.runs.createEntity(entity);
          return;
        } catch (error) {
          if (!isConflict(error)) throw error;
        }
      }
    });
  }

  // ---- progress ----------------------------------------------------------------------------------------------

  /** Records the targets a queued scan expects, as `pending`: the worker refuses a message for any other. */
  async addPending(scanId: string, targets: ReadonlyArray<{ id: string; kind: TargetKind; subscriptionId: string }>): Promise<void> {
    await this.op("record the scan's expected targets", async () => {
      const now = new Date().toISOString();
      const partitionKey = progressPartition(scanId);
      for (let i = 0; i < targets.length; i += BATCH) {
        const transaction = new TableTransaction();
        for (const t of targets.slice(i, i + BATCH)) {
          transaction.upsertEntity({ partitionKey, rowKey: toTableKey(t.id), targetId: t.id, kind: t.kind, subscriptionId: t.subscriptionId.toLowerCase(), status: "pending", reason: "", at: now, attempts: 0, failingRuleIds: "" }, "Replace");
        }
        await this.runs.submitTransaction(transaction.actions);
      }
    });
  }

  private static toProgress(e: TableEntityResult<Record<string, unknown>>): Progress {
    const failing = String(e.failingRuleIds ?? "");
    return {
      targetId: String(e.targetId),
      status: String(e.status) as ProgressStatus,
      reason: String(e.reason ?? ""),
      at: String(e.at),
      attempts: Number(e.attempts ?? 0),
      ...(e.kind ? { kind: e.kind as TargetKind } : {}),
      ...(e.subscriptionId ? { subscriptionId: String(e.subscriptionId) } : {}),
      failingRuleIds: failing ? failing.split(",") : [],
      etag: String(e.etag),
    };
  }

  async getProgress(scanId: string, targetId: string): Promise<Progress | undefined> {
    return this.op("read the target's progress", async () => {
      try {
        return ResultsStore.toProgress(await this.runs.getEntity<Record<string, unknown>>(progressPartition(scanId), toTableKey(targetId)));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
  }

  /**
   * Moves a target's progress on, if nobody else did since `etag` was read: false when another delivery of the same
   * message got there first (so its result is counted once).
   */
  async updateProgress(
    scanId: string,
    targetId: string,
    update: { status: ProgressStatus; reason?: string; attempts?: number; kind?: TargetKind; subscriptionId?: string; failingRuleIds?: readonly string[] },
    /** The progress row's ETag, or "*" for any. */
    etag: string,
  ): Promise<boolean> {
    return this.op("record the target's progress", async () => {
      const entity = {
        partitionKey: progressPartition(scanId),
        rowKey: toTableKey(targetId),
        targetId,
        status: update.status,
        reason: update.reason ?? "",
        at: new Date().toISOString(),
        ...(update.attempts !== undefined ? { attempts: update.attempts } : {}),
        ...(update.kind ? { kind: update.kind } : {}),
        ...(update.subscriptionId ? { subscriptionId: update.subscriptionId.toLowerCase() } : {}),
        ...(update.failingRuleIds ? { failingRuleIds: update.failingRuleIds.join(",") } : {}),
      };
      try {
        await this.runs.updateEntity(entity, "Merge", { etag });
        return true;
      } catch (error) {
        if (isConflict(error) || isNotFound(error)) return false;
        throw error;
      }
    });
  }

  /** One page of a scan's progress rows (the status endpoint pages; the closer reads them all once). */
  async listProgress(scanId: string, page: { size?: number; continuationToken?: string } = {}): Promise<Page<Progress>> {
    const token = decodeToken(page.continuationToken);
    return this.op("list the scan's progress", async () => {
      const pages = this.runs
        .listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${progressPartition(scanId)}` } })
        .byPage({ maxPageSize: Math.min(1000, Math.max(1, page.size ?? 1000)), ...(token ? { continuationToken: token } : {}) });
      const first = await pages.next();
      if (first.done) return { items: [] };
      const next = encodeToken(first.value.continuationToken);
      return { items: first.value.map((e) => ResultsStore.toProgress(e)), ...(next ? { continuationToken: next } : {}) };
    });
  }

  async *allProgress(scanId: string): AsyncGenerator<Progress> {
    let continuationToken: string | undefined;
    do {
      const page = await this.listProgress(scanId, continuationToken ? { continuationToken } : {});
      yield* page.items;
      continuationToken = page.continuationToken;
    } while (continuationToken);
  }

  // ---- completion counters -----------------------------------------------------------------------------------

  /**
   * Counts one finished target in its scan: a compare-and-swap on one of a few counter shards (chosen by the
   * target, so concurrent workers rarely meet), then one read of every shard. Returns how many targets of the scan
   * have finished: constant work per target, whatever the size of the scan.
   */
  async countFinished(scanId: string, targetId: string, status: TargetStatus | "refused"): Promise<{ finished: number; counts: StatusCounts }> {
    return this.op("count the finished target", async () => {
      const partitionKey = counterPartition(scanId);
      const rowKey = shardOf(targetId);
      for (let attempt = 0; ; attempt++) {
        let existing: TableEntityResult<Record<string, unknown>> | undefined;
        try {
          existing = await this.runs.getEntity<Record<string, unknown>>(partitionKey, rowKey);
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
        const counts: StatusCounts = existing ? { ...emptyCounts(), ...(JSON.parse(String(existing.counts)) as Partial<StatusCounts>) } : emptyCounts();
        if (status !== "refused") counts[status]++;
        const entity = { partitionKey, rowKey, counts: JSON.stringify(counts), finished: Number(existing?.finished ?? 0) + 1 };
        try {
          if (existing) await this.runs.updateEntity(entity, "Replace", { etag: existing.etag });
          else await this.runs.createEntity(entity);
          break;
        } catch (error) {
          if (!isConflict(error) || attempt >= CAS_ATTEMPTS) throw error;
        }
      }
      return this.readCounters(scanId);
    });
  }

  async readCounters(scanId: string): Promise<{ finished: number; counts: StatusCounts }> {
    return this.op("read the scan's counters", async () => {
      const counts = emptyCounts();
      let finished = 0;
      for await (const shard of this.runs.listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${counterPartition(scanId)}` } })) {
        finished += Number(shard.finished ?? 0);
        const c = JSON.parse(String(shard.counts ?? "{}")) as Partial<StatusCounts>;
        for (const k of Object.keys(counts) as Array<keyof StatusCounts>) counts[k] += Number(c[k] ?? 0);
      }
      return { finished, counts };
    });
  }

  /**
   * Claims the closing of a scan exactly once across workers and timers: true for the one caller that closes it. A
   * claim older than `staleAfterMs` whose closer never finished (it crashed) can be taken over.
   */
  async claimClose(scanId: string, staleAfterMs?: number, now = Date.now()): Promise<boolean> {
    return this.op("claim the scan's closing", async () => {
      const rowKey = toTableKey(scanId);
      try {
        await this.runs.createEntity({ partitionKey: "close", rowKey, at: new Date(now).toISOString() });
        return true;
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
      if (staleAfterMs === undefined) return false;
      const claim = await this.runs.getEntity<Record<string, unknown>>("close", rowKey);
      if (now - Date.parse(String(claim.at)) < staleAfterMs) return false;
      try {
        await this.runs.updateEntity({ partitionKey: "close", rowKey, at: new Date(now).toISOString() }, "Replace", { etag: claim.etag });
        return true;
      } catch (error) {
        if (isConflict(error)) return false;
        throw error;
      }
    });
  }

  /** A closed scan's summary: a handful of cells, whatever the number of targets (see SummaryCell). */
  async saveSummary(scanId: string, cells: readonly SummaryCell[]): Promise<void> {
    await this.op("save the scan's summary", async () => {
      const { head, overflow } = encodePayload(cells);
      const rowKey = toTableKey(scanId);
      const transaction = new TableTransaction();
      transaction.upsertEntity({ partitionKey: "summary", rowKey, ...head }, "Replace");
      overflow.forEach((props, i) => transaction.upsertEntity({ partitionKey: "summary", rowKey: `${rowKey}~${i + 1}`, ...props }, "Replace"));
      await this.runs.submitTransaction(transaction.actions);
    });
  }

  async getSummary(scanId: string): Promise<{ cells: SummaryCell[]; etag: string } | undefined> {
    return this.op("read the scan's summary", async () => {
      try {
        const rowKey = toTableKey(scanId);
        const head = await this.runs.getEntity<Record<string, unknown>>("summary", rowKey);
        const overflow: Array<Record<string, unknown>> = [];
        for (let i = 1; i < Number(head.payloadEntities ?? 1); i++) overflow.push(await this.runs.getEntity<Record<string, unknown>>("summary", `${rowKey}~${i}`));
        return { cells: decodePayload(head, overflow) as SummaryCell[], etag: String(head.etag) };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    });
  }

  // ---- leases ------------------------------------------------------------------------------------------------

  private static toHolder(e: Record<string, unknown>): LeaseHolder {
    return { owner: String(e.owner), acquiredAt: Number(e.acquiredAt ?? 0), renewedAt: Number(e.renewedAt ?? 0), expiresAt: Number(e.expiresAt ?? 0) };
  }

  /**
   * Takes a lease on a target for `ttlMs` (optimistic concurrency on its ETag, so two scanners racing for one target
   * cannot both win). A lease whose holder stopped renewing it has expired: it is taken over, and who held it is
   * said, so a crashed run reads as what it is.
   */
  async acquireLease(targetId: string, owner: string, ttlMs: number, now = Date.now()): Promise<LeaseOutcome> {
    return this.op("take the target's remediation lease", async () => {
      const rowKey = toTableKey(targetId);
      const entity = { partitionKey: "lease", rowKey, owner, acquiredAt: now, renewedAt: now, expiresAt: now + ttlMs };
      let existing: TableEntityResult<Record<string, unknown>> | undefined;
      try {
        existing = await this.leases.getEntity<Record<string, unknown>>("lease", rowKey);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      try {
        if (!existing) {
          await this.leases.createEntity(entity);
          return { acquired: true };
        }
        const holder = ResultsStore.toHolder(existing);
        if (holder.owner !== owner && holder.expiresAt > now) return { acquired: false, holder };
        await this.leases.updateEntity(entity, "Replace", { etag: existing.etag });
        return holder.owner !== owner ? { acquired: true, tookOverFrom: holder } : { acquired: true };
      } catch (error) {
        if (!isConflict(error)) throw error;
        // Someone else took it between our read and write.
        const now2 = await this.leases.getEntity<Record<string, unknown>>("lease", rowKey).catch(() => undefined);
        return { acquired: false, holder: now2 ? ResultsStore.toHolder(now2) : { owner: "unknown", acquiredAt: now, renewedAt: now, expiresAt: now + ttlMs } };
      }
    });
  }

  /** Extends a held lease; false when it was lost (expired and taken over by another owner). */
  async renewLease(targetId: string, owner: string, ttlMs: number, now = Date.now()): Promise<boolean> {
    return this.op("renew the target's remediation lease", async () => {
      const rowKey = toTableKey(targetId);
      try {
        const existing = await this.leases.getEntity<Record<string, unknown>>("lease", rowKey);
        if (String(existing.owner) !== owner) return false;
        await this.leases.updateEntity({ partitionKey: "lease", rowKey, renewedAt: now, expiresAt: now + ttlMs }, "Merge", { etag: existing.etag });
        return true;
      } catch (error) {
        if (isNotFound(error) || isConflict(error)) return false;
        throw error;
      }
    });
  }

  async releaseLease(targetId: string, owner: string): Promise<void> {
    await this.op("release the target's remediation lease", async () => {
      const rowKey = toTableKey(targetId);
      try {
        const existing = await this.leases.getEntity<Record<string, unknown>>("lease", rowKey);
        if (String(existing.owner) === owner) await this.leases.deleteEntity("lease", rowKey, { etag: existing.etag });
      } catch (error) {
        if (!isNotFound(error) && !isConflict(error)) throw error;
      }
    });
  }

  // ---- retention ---------------------------------------------------------------------------------------------

  /**
   * Deletes everything of scans that started before `before` (runs, progress, counters, summaries with their
   * overflow rows, results), except the scan the report points at: an app that was stopped for longer than the
   * retention keeps answering with its last closed scan rather than with nothing. The run row goes last, so a
   * prune cut short is finished by the next one.
   */
  async pruneScans(before: Date, limit = 5): Promise<string[]> {
    return this.op("prune old scans", async () => {
      const pruned: string[] = [];
      const keep = await this.latestClosedScan();
      const oldest = this.runs
        .listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${"run"} and RowKey gt ${invertedTimeKey(before)}` } })
        .byPage({ maxPageSize: limit + 1 });
      for await (const page of oldest) {
        for (const run of page) {
          const scanId = String(run.scanId);
          if (scanId === keep) continue;
          await this.deletePartition(this.results, toTableKey(scanId));
          await this.deletePartition(this.runs, progressPartition(scanId));
          await this.deletePartition(this.runs, counterPartition(scanId));
          const summaryRows = await this.summaryRowKeys(scanId);
          for (const [pk, rk] of [...summaryRows.map((rk) => ["summary", rk] as const), ["close", toTableKey(scanId)], ["runid", toTableKey(scanId)], ["run", String(run.rowKey)]] as const) {
            await this.runs.deleteEntity(pk, rk).catch((error: unknown) => {
              if (!isNotFound(error)) throw error;
            });
          }
          pruned.push(scanId);
          if (pruned.length >= limit) return pruned;
        }
        break;
      }
      return pruned;
    });
  }

  /** The summary's head row and its overflow rows, the head last (it says how many there are). */
  private async summaryRowKeys(scanId: string): Promise<string[]> {
    const rowKey = toTableKey(scanId);
    try {
      const head = await this.runs.getEntity<Record<string, unknown>>("summary", rowKey, { queryOptions: { select: ["payloadEntities"] } });
      const parts = Number(head.payloadEntities ?? 1);
      return [...Array.from({ length: Math.max(0, parts - 1) }, (_, i) => `${rowKey}~${i + 1}`), rowKey];
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }

  private async deletePartition(table: TableClient, partitionKey: string): Promise<void> {
    for (;;) {
      const keys: string[] = [];
      for await (const e of table.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey}`, select: ["RowKey"] } })) {
        keys.push(String(e.rowKey));
        if (keys.length >= BATCH) break;
      }
      if (!keys.length) return;
      const transaction = new TableTransaction();
      for (const rowKey of keys) transaction.deleteEntity(partitionKey, rowKey);
      await table.submitTransaction(transaction.actions);
    }
  }
}
