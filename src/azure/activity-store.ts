import { TableTransaction, odata } from "@azure/data-tables";
import type { TableClient, TableEntityResult } from "@azure/data-tables";
import type { ActivityEvent, TargetKind } from "../core/domain.js";
import type { AuditRoute } from "../core/activity/classify.js";
import { storeOp, tableClients } from "./table-clients.js";
import type { StoreConnection, StoreStats } from "./table-clients.js";
import { decodePayload, encodePayload, toTableKey } from "./table-payload.js";

/**
 * The activity sweep's durable state, in `<prefix>Activity`:
 * - routes (partition "route"): where each target's audit records land, as its last drift scan read them;
 * - a status per workspace ("status"): the ingestion-time watermark read up to (every record ingested at or before
 *   it has been judged), when the sweep started covering it, the targets found silent, and why it could not be
 *   read, if it could not; written under its ETag, so two sweeps never both advance it;
 * - the newest record per resource of each workspace ("newest"), for silence;
 * - a verdict per target ("verdict"): its suspicious records of the report window and whether it is silent.
 */
export interface StoredRoute {
  targetId: string;
  kind: TargetKind;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  routes: AuditRoute[];
  observedAt: string;
}

export interface SweepStatus {
  workspaceId: string;
  /** Records ingested at or before this instant have been judged. */
  watermark: string;
  /** When the sweep first covered the workspace. */
  since: string;
  updatedAt: string;
  sweepId: string;
  /** Why the last sweep could not read the workspace completely (the watermark did not move). */
  problem?: string;
  /** Targets (ids, lower case) found silent by the last sweep. */
  silent: string[];
  etag?: string;
}

export interface TargetActivity {
  targetId: string;
  suspicious: ActivityEvent[];
  /** Silent: no record since `lastRecordAt` (null: none since the sweep started covering it) for longer than allowed. */
  silent?: { lastRecordAt: string | null; since: string };
  updatedAt: string;
}

const isNotFound = (error: unknown) => (error as { statusCode?: number }).statusCode === 404;
const isConflict = (error: unknown) => [409, 412].includes((error as { statusCode?: number }).statusCode ?? 0);

export class StaleStatusError extends Error {}

export class ActivityStore {
  readonly stats: StoreStats = { requests: 0 };

  private constructor(private readonly table: TableClient) {}

  static async open(connection: StoreConnection, prefix = "AuditGuard"): Promise<ActivityStore> {
    const { make, stats } = tableClients(connection, prefix);
    const table = make("Activity");
    const store = new ActivityStore(table);
    Object.assign(store, { stats });
    await store.op("create the activity table", () => table.createTable());
    return store;
  }

  private op<T>(what: string, work: () => Promise<T>): Promise<T> {
    return storeOp(what, work, [StaleStatusError]);
  }

  private async getPayload(partitionKey: string, rowKey: string): Promise<{ value: unknown; etag: string } | undefined> {
    try {
      const head = await this.table.getEntity<Record<string, unknown>>(partitionKey, rowKey);
      const overflow: Array<Record<string, unknown>> = [];
      for (let i = 1; i < Number(head.payloadEntities ?? 1); i++) overflow.push(await this.table.getEntity<Record<string, unknown>>(partitionKey, `${rowKey}~${i}`));
      return { value: decodePayload(head, overflow), etag: String(head.etag) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async putPayload(partitionKey: string, rowKey: string, value: unknown, columns: Record<string, string | number | boolean> = {}): Promise<void> {
    const { head, overflow } = encodePayload(value);
    const transaction = new TableTransaction();
    transaction.upsertEntity({ partitionKey, rowKey, ...columns, ...head }, "Replace");
    overflow.forEach((props, i) => transaction.upsertEntity({ partitionKey, rowKey: `${rowKey}~${i + 1}`, ...props }, "Replace"));
    await this.table.submitTransaction(transaction.actions);
  }

  async saveRoute(route: StoredRoute): Promise<void> {
    await this.op("save the target's audit route", () => this.putPayload("route", toTableKey(route.targetId), route, { targetId: route.targetId, observedAt: route.observedAt }));
  }

  /** Saves many routes, a transaction per hundred (one partition): for the timer and for tests of large estates. */
  async saveRoutes(routes: readonly StoredRoute[]): Promise<void> {
    await this.op("save audit routes", async () => {
      for (let i = 0; i < routes.length; i += 100) {
        const transaction = new TableTransaction();
        for (const route of routes.slice(i, i + 100)) {
          const { head } = encodePayload(route);
          transaction.upsertEntity({ partitionKey: "route", rowKey: toTableKey(route.targetId), targetId: route.targetId, observedAt: route.observedAt, ...head }, "Replace");
        }
        await this.table.submitTransaction(transaction.actions);
      }
    });
  }

  async *routes(): AsyncGenerator<StoredRoute> {
    const pages = this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${"route"}` } }).byPage({ maxPageSize: 1000 });
    for (;;) {
      const page = await this.op("list the audit routes", async () => (await pages.next()) as IteratorResult<Array<TableEntityResult<Record<string, unknown>>>>);
      if (page.done) return;
      for (const entity of page.value) {
        if (String(entity.rowKey).includes("~")) continue;
        yield decodePayload(entity) as StoredRoute;
      }
    }
  }

  async getStatus(workspaceId: string): Promise<SweepStatus | undefined> {
    return this.op("read the workspace's sweep status", async () => {
      const got = await this.getPayload("status", toTableKey(workspaceId));
      return got ? { ...(got.value as SweepStatus), etag: got.etag } : undefined;
    });
  }

  /** Saves a status if nobody else did since it was read (`etag` undefined: it must not exist yet). */
  async saveStatus(status: SweepStatus): Promise<void> {
    await this.op("advance the workspace's watermark", async () => {
      const { etag, ...value } = status;
      const { head } = encodePayload(value);
      const entity = { partitionKey: "status", rowKey: toTableKey(status.workspaceId), watermark: status.watermark, ...head };
      try {
        if (etag) await this.table.updateEntity(entity, "Replace", { etag });
        else await this.table.createEntity(entity);
      } catch (error) {
        if (isConflict(error)) throw new StaleStatusError(`another sweep moved the watermark of ${status.workspaceId} on meanwhile`);
        throw error;
      }
    });
  }

  async getNewest(workspaceId: string): Promise<Record<string, string>> {
    return this.op("read the newest records", async () => ((await this.getPayload("newest", toTableKey(workspaceId)))?.value as Record<string, string> | undefined) ?? {});
  }

  async saveNewest(workspaceId: string, newest: Record<string, string>): Promise<void> {
    await this.op("save the newest records", () => this.putPayload("newest", toTableKey(workspaceId), newest));
  }

  async getVerdict(targetId: string): Promise<TargetActivity | undefined> {
    return this.op("read the target's activity verdict", async () => (await this.getPayload("verdict", toTableKey(targetId)))?.value as TargetActivity | undefined);
  }

  async saveVerdict(verdict: TargetActivity): Promise<void> {
    await this.op("save the target's activity verdict", () => this.putPayload("verdict", toTableKey(verdict.targetId), verdict));
  }
}
