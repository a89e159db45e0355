import { TableClient, TableTransaction, odata } from "@azure/data-tables";
import type { TableEntity, TableEntityResult } from "@azure/data-tables";
import type { TokenCredential } from "@azure/core-auth";
import { decodePayload, encodePayload, invertedTimeKey, toTableKey } from "./table-payload.js";

/**
 * Scan results in Azure Table storage: the latest result per target (for the compliance report), every result
 * per target over time (for trends and evidence), every scan run with its counts, and short leases that keep
 * two scanners from remediating one target at once. Writes are upserts keyed by target and scan, so a retried
 * queue message or a re-run never creates duplicates.
 */
export type TargetStatus = "compliant" | "remediated" | "noncompliant" | "exempt" | "error";
export type StoredKind = "sql-managed-instance" | "sql-server" | "synapse-workspace";

export interface StoredResult {
  scanId: string;
  targetId: string;
  kind: StoredKind;
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

export interface StatusCounts {
  compliant: number;
  remediated: number;
  noncompliant: number;
  exempt: number;
  error: number;
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
  complete: boolean;
}

export interface ResultFilter {
  subscriptionIds?: readonly string[];
  kinds?: readonly StoredKind[];
  statuses?: readonly TargetStatus[];
  ruleIds?: readonly string[];
}

export type StoreConnection =
  | { connectionString: string }
  | { tableEndpoint: string; credential: TokenCredential };

const RUN_PARTITION = "run";
const LEASE_PARTITION = "lease";

function emptyCounts(): StatusCounts {
  return { compliant: 0, remediated: 0, noncompliant: 0, exempt: 0, error: 0 };
}

function isNotFound(error: unknown): boolean {
  return (error as { statusCode?: number }).statusCode === 404;
}

function isConflict(error: unknown): boolean {
  const status = (error as { statusCode?: number }).statusCode;
  return status === 409 || status === 412;
}

export class ResultsStore {
  private constructor(
    private readonly latest: TableClient,
    private readonly history: TableClient,
    private readonly runs: TableClient,
    private readonly leases: TableClient,
  ) {}

  static async open(connection: StoreConnection, prefix = "AuditGuard"): Promise<ResultsStore> {
    if (!/^[A-Za-z][A-Za-z0-9]{0,40}$/.test(prefix)) throw new Error(`invalid table prefix '${prefix}': letters and digits, starting with a letter`);
    const make = (name: string) =>
      "connectionString" in connection
        ? TableClient.fromConnectionString(connection.connectionString, `${prefix}${name}`, {
            allowInsecureConnection: /^DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true|Endpoint=http:\/\//i.test(connection.connectionString),
          })
        : new TableClient(connection.tableEndpoint, `${prefix}${name}`, connection.credential);
    const store = new ResultsStore(make("Latest"), make("History"), make("Runs"), make("Leases"));
    await Promise.all([store.latest, store.history, store.runs, store.leases].map((t) => t.createTable()));
    return store;
  }

  private static resultEntity(partitionKey: string, rowKey: string, result: StoredResult) {
    const { head, overflow } = encodePayload(result.detail);
    const columns = {
      scanId: result.scanId,
      targetId: result.targetId,
      kind: result.kind,
      name: result.name,
      subscriptionId: result.subscriptionId,
      resourceGroup: result.resourceGroup,
      status: result.status,
      reason: result.reason ?? "",
      scannedAt: result.scannedAt,
      // Delimited on both sides so a rule id never matches inside another.
      failingRuleIds: result.failingRuleIds.length ? `,${result.failingRuleIds.join(",")},` : "",
    };
    const main: TableEntity = { partitionKey, rowKey, ...columns, ...head };
    const extra: TableEntity[] = overflow.map((props, i) => ({ partitionKey, rowKey: `${rowKey}~${i + 1}`, ...props }));
    return { main, extra };
  }

  private async writeResult(table: TableClient, partitionKey: string, rowKey: string, result: StoredResult): Promise<void> {
    const { main, extra } = ResultsStore.resultEntity(partitionKey, rowKey, result);
    // One transaction: the main entity and its overflow parts are visible together or not at all.
    const transaction = new TableTransaction();
    transaction.upsertEntity(main, "Replace");
    for (const part of extra) transaction.upsertEntity(part, "Replace");
    await table.submitTransaction(transaction.actions);
  }

  /** Stores one target's result as its latest and in its history. Idempotent per (target, scan). */
  async saveResult(result: StoredResult): Promise<void> {
    const targetKey = toTableKey(result.targetId);
    await this.writeResult(this.latest, toTableKey(result.subscriptionId), targetKey, result);
    await this.writeResult(this.history, targetKey, `${invertedTimeKey(new Date(result.scannedAt))}_${result.scanId}`, result);
  }

  private async readResult(table: TableClient, entity: TableEntityResult<Record<string, unknown>>): Promise<StoredResult> {
    const parts = Number(entity.payloadEntities ?? 1);
    const overflow: Array<Record<string, unknown>> = [];
    for (let i = 1; i < parts; i++) {
      overflow.push(await table.getEntity<Record<string, unknown>>(entity.partitionKey!, `${entity.rowKey!}~${i}`));
    }
    const failing = String(entity.failingRuleIds ?? "");
    return {
      scanId: String(entity.scanId),
      targetId: String(entity.targetId),
      kind: entity.kind as StoredKind,
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
    try {
      const entity = await this.latest.getEntity<Record<string, unknown>>(toTableKey(subscriptionId), toTableKey(targetId));
      return await this.readResult(this.latest, entity);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** The latest result of every target matching the filter, ordered by target id. */
  async listLatest(filter: ResultFilter = {}): Promise<StoredResult[]> {
    // odata`` quotes every value, so a filter value cannot change the query.
    const sub = filter.subscriptionIds?.length
      ? `(${filter.subscriptionIds.map((s) => odata`PartitionKey eq ${toTableKey(s)}`).join(" or ")})`
      : undefined;
    const kind = filter.kinds?.length ? `(${filter.kinds.map((k) => odata`kind eq ${k}`).join(" or ")})` : undefined;
    const status = filter.statuses?.length ? `(${filter.statuses.map((s) => odata`status eq ${s}`).join(" or ")})` : undefined;
    const filterText = [sub, kind, status].filter(Boolean).join(" and ");
    const results: StoredResult[] = [];
    const entities = this.latest.listEntities<Record<string, unknown>>(filterText ? { queryOptions: { filter: filterText } } : {});
    for await (const entity of entities) {
      if (String(entity.rowKey).includes("~")) continue;
      const result = await this.readResult(this.latest, entity);
      if (filter.ruleIds?.length && !filter.ruleIds.some((r) => result.failingRuleIds.includes(r))) continue;
      results.push(result);
    }
    return results.sort((a, b) => a.targetId.localeCompare(b.targetId));
  }

  /** A target's results, newest first. */
  async listHistory(targetId: string, limit = 50): Promise<StoredResult[]> {
    const out: StoredResult[] = [];
    const entities = this.history.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${toTableKey(targetId)}` },
    });
    for await (const entity of entities) {
      if (String(entity.rowKey).includes("~")) continue;
      out.push(await this.readResult(this.history, entity));
      if (out.length >= limit) break;
    }
    return out;
  }

  async saveRun(run: ScanRun): Promise<void> {
    await this.runs.upsertEntity(
      {
        partitionKey: RUN_PARTITION,
        rowKey: `${invertedTimeKey(new Date(run.startedAt))}_${run.scanId}`,
        scanId: run.scanId,
        trigger: run.trigger,
        mode: run.mode,
        startedAt: run.startedAt,
        finishedAt: run.finishedAt ?? "",
        expectedTargets: run.expectedTargets,
        counts: JSON.stringify(run.counts),
        complete: run.complete,
      },
      "Replace",
    );
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
    };
  }

  /** Scan runs, newest first. */
  async listRuns(limit = 100): Promise<ScanRun[]> {
    const out: ScanRun[] = [];
    for await (const entity of this.runs.listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${RUN_PARTITION}` } })) {
      out.push(ResultsStore.toRun(entity));
      if (out.length >= limit) break;
    }
    return out;
  }

  async getRun(scanId: string): Promise<ScanRun | undefined> {
    for await (const entity of this.runs.listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${RUN_PARTITION} and scanId eq ${scanId}` } })) {
      return ResultsStore.toRun(entity);
    }
    return undefined;
  }

  /** Records that a scan's target finished (or failed an attempt); idempotent per (scan, target). */
  async recordProgress(scanId: string, targetId: string, status: TargetStatus | "attempt-failed" | "poisoned", reason?: string): Promise<void> {
    await this.runs.upsertEntity({ partitionKey: `progress-${toTableKey(scanId)}`, rowKey: toTableKey(targetId), targetId, status, reason: reason ?? "", at: new Date().toISOString() }, "Replace");
  }

  async listProgress(scanId: string): Promise<Array<{ targetId: string; status: string; reason: string; at: string }>> {
    const out: Array<{ targetId: string; status: string; reason: string; at: string }> = [];
    for await (const e of this.runs.listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${`progress-${toTableKey(scanId)}`}` } })) {
      out.push({ targetId: String(e.targetId), status: String(e.status), reason: String(e.reason ?? ""), at: String(e.at) });
    }
    return out;
  }

  /** Marks a scan complete exactly once across workers: true for the one caller that gets to emit its event. */
  async claimCompletion(scanId: string): Promise<boolean> {
    try {
      await this.runs.createEntity({ partitionKey: "completed", rowKey: toTableKey(scanId), at: new Date().toISOString() });
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  /**
   * Takes a lease on a target for `ttlMs`, or returns false when another owner holds an unexpired one. Uses
   * Table storage's optimistic concurrency (ETags), so two scanners racing for one target cannot both win.
   */
  async acquireLease(targetId: string, owner: string, ttlMs: number, now = Date.now()): Promise<boolean> {
    const rowKey = toTableKey(targetId);
    const entity = { partitionKey: LEASE_PARTITION, rowKey, owner, expiresAt: now + ttlMs };
    try {
      const existing = await this.leases.getEntity<{ owner: string; expiresAt: number }>(LEASE_PARTITION, rowKey);
      if (existing.owner !== owner && Number(existing.expiresAt) > now) return false;
      await this.leases.updateEntity(entity, "Replace", { etag: existing.etag });
      return true;
    } catch (error) {
      if (isNotFound(error)) {
        try {
          await this.leases.createEntity(entity);
          return true;
        } catch (inner) {
          if (isConflict(inner)) return false;
          throw inner;
        }
      }
      if (isConflict(error)) return false;
      throw error;
    }
  }

  async releaseLease(targetId: string, owner: string): Promise<void> {
    const rowKey = toTableKey(targetId);
    try {
      const existing = await this.leases.getEntity<{ owner: string }>(LEASE_PARTITION, rowKey);
      if (existing.owner === owner) await this.leases.deleteEntity(LEASE_PARTITION, rowKey, { etag: existing.etag });
    } catch (error) {
      if (!isNotFound(error) && !isConflict(error)) throw error;
    }
  }
}
