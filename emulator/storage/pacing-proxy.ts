import { createServer, request as httpRequest, Agent } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { AZURITE_ACCOUNT, AZURITE_KEY } from "./azurite.js";

/**
 * Azurite held to Azure Storage's scalability targets, for benchmarks: an HTTP proxy in front of its table and
 * queue endpoints that meters what each request asks of the service and answers 503 ServerBusy, with the
 * service's error body, when a target is exceeded, as the service does ("Scalability and performance targets for
 * Table storage" / "... for Queue Storage": "When your application reaches the limit of what a partition can
 * handle for your workload, Azure Storage begins to return error code 503 (Server Busy)"). The SDKs' retry
 * policies then apply, as against Azure. The targets:
 *
 * - Table: up to 2,000 entities per second per partition (a point operation is one entity, an entity group
 *   transaction one per operation, a query one per entity returned) and 20,000 transactions per second per account.
 * - Queue: up to 2,000 messages per second per queue (a put, a delete or an update is one message, a get one per
 *   message returned) and 20,000 messages per second per account.
 *
 * Each target is a token bucket holding one second of it ([unverified]: how far the service lets a burst exceed a
 * target is not documented). A query's or a get's cost past its first entity is known only from its answer: it is
 * taken then, and may leave its bucket in debt. Which message a partition's 503 carries is [unverified]; the
 * service's list of common error codes has "The server is currently unable to receive requests. Please retry your
 * request." and, for the account, "Operations per second is over the account limit." (both ServerBusy, 503).
 */
export interface StorageTargets {
  tablePartitionEntitiesPerSecond: number;
  tableAccountTransactionsPerSecond: number;
  queueMessagesPerSecond: number;
  queueAccountMessagesPerSecond: number;
  /** Seconds of its rate a bucket holds when full. */
  burstSeconds: number;
}

export const DOCUMENTED_STORAGE_TARGETS: StorageTargets = {
  tablePartitionEntitiesPerSecond: 2_000,
  tableAccountTransactionsPerSecond: 20_000,
  queueMessagesPerSecond: 2_000,
  queueAccountMessagesPerSecond: 20_000,
  burstSeconds: 1,
};

const PARTITION_BUSY = "The server is currently unable to receive requests. Please retry your request.";
const ACCOUNT_BUSY = "Operations per second is over the account limit.";

export interface PacingStats {
  table: { requests: number; transactions: number; entities: number; serverBusy: number; entitiesByPartition: Record<string, number> };
  queue: { requests: number; messages: number; serverBusy: number; messagesByQueue: Record<string, number> };
}

export interface RunningPacingProxy {
  tableEndpoint: string;
  queueEndpoint: string;
  /** AzureWebJobsStorage for the account behind the proxy. */
  connectionString: string;
  stats(): PacingStats;
  stop(): Promise<void>;
}

class Bucket {
  private tokens: number;
  private at = performance.now();
  constructor(
    private readonly perSecond: number,
    private readonly size: number,
  ) {
    this.tokens = size;
  }
  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.size, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
  }
  /** Whether a token is there (without taking it). */
  has(): boolean {
    this.refill();
    return this.tokens >= 1;
  }
  take(n: number): void {
    this.refill();
    this.tokens -= n;
  }
}

/** What one request asks of the service: its partition (or queue), and what it costs before and after its answer. */
interface Cost {
  /** `table/partition` or the queue's name; undefined: the account only (table and queue management). */
  key?: string;
  units: number;
  /** Counts the rest of the cost from the answer (entities returned, messages got). */
  fromAnswer?: (body: string) => number;
}

const unquote = (value: string) => value.replace(/''/g, "'");

/** The partition key of an entity URL `Table(PartitionKey='a',RowKey='b')`. */
function partitionInUrl(path: string): string | undefined {
  const m = /\(PartitionKey='((?:[^']|'')*)'/.exec(decodeURIComponent(path));
  return m ? unquote(m[1]!) : undefined;
}

/** The partition key of a query's `$filter` (`PartitionKey eq 'a'`), when it names one. */
function partitionInFilter(filter: string | null): string | undefined {
  const m = filter ? /PartitionKey\s+eq\s+'((?:[^']|'')*)'/i.exec(filter) : null;
  return m ? unquote(m[1]!) : undefined;
}

const countJsonEntities = (body: string) => {
  try {
    const parsed = JSON.parse(body) as { value?: unknown[] };
    return Array.isArray(parsed.value) ? parsed.value.length : 1;
  } catch {
    return 1;
  }
};

function tableCost(method: string, url: URL, body: Buffer): Cost {
  const path = url.pathname.replace(new RegExp(`^/${AZURITE_ACCOUNT}`), "");
  if (/^\/Tables\b/i.test(path)) return { units: 1 };
  if (path === "/$batch") {
    // Entity group transaction: every operation of the changeset is an entity, all in one table and partition.
    const text = body.toString("utf8");
    const operations = [...text.matchAll(/^(?:GET|POST|PUT|MERGE|PATCH|DELETE) (\S+) HTTP\/1\.1/gm)];
    const first = operations[0]?.[1];
    const table = first ? /\/([A-Za-z][A-Za-z0-9]{2,62})(?:\(|$|\?)/.exec(new URL(first, url).pathname)?.[1] : undefined;
    const partition = (first && partitionInUrl(new URL(first, url).pathname)) ?? /"PartitionKey"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(text)?.[1];
    return { key: `${table ?? "?"}/${partition ?? "?"}`, units: Math.max(1, operations.length) };
  }
  const table = /^\/([A-Za-z][A-Za-z0-9]{2,62})/.exec(path)?.[1] ?? "?";
  const entity = partitionInUrl(path);
  if (entity !== undefined) return { key: `${table}/${entity}`, units: 1 };
  if (method === "POST") {
    const partition = /"PartitionKey"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(body.toString("utf8"))?.[1];
    return { key: `${table}/${partition ?? "?"}`, units: 1 };
  }
  // A query: one entity up front, the rest by what came back. Without a partition in the filter it scans the table.
  return { key: `${table}/${partitionInFilter(url.searchParams.get("$filter")) ?? "(scan)"}`, units: 1, fromAnswer: (answer) => countJsonEntities(answer) - 1 };
}

function queueCost(method: string, url: URL): Cost {
  const m = /^\/[^/]+\/([^/?]+)(\/messages(?:\/[^/?]+)?)?/.exec(url.pathname);
  if (!m?.[2]) return { units: 1 }; // the queue itself or the service: metadata, not messages
  const queue = m[1]!;
  if (method === "GET" && !url.searchParams.has("peekonly")) {
    return { key: queue, units: 1, fromAnswer: (answer) => Math.max(0, (answer.match(/<QueueMessage>/g) ?? []).length - 1) };
  }
  return { key: queue, units: 1 };
}

function busyAnswer(response: ServerResponse, service: "table" | "queue", message: string): void {
  const requestId = randomUUID();
  const detail = `${message}\nRequestId:${requestId}\nTime:${new Date().toISOString()}`;
  const headers = { "x-ms-request-id": requestId, "x-ms-version": "2019-02-02", "x-ms-error-code": "ServerBusy", date: new Date().toUTCString() };
  if (service === "table") {
    // The Table service's JSON error format (odata.error), as the SDK parses it.
    response.writeHead(503, "Server Busy", { ...headers, "content-type": "application/json;odata=minimalmetadata;streaming=true;charset=utf-8" });
    response.end(JSON.stringify({ "odata.error": { code: "ServerBusy", message: { lang: "en-US", value: detail } } }));
  } else {
    response.writeHead(503, "Server Busy", { ...headers, "content-type": "application/xml" });
    response.end(`<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>${detail}</Message></Error>`);
  }
}

/** Starts the proxy in front of Azurite's table and queue endpoints (`http://host:port/devstoreaccount1`). */
export async function startPacingProxy(target: { tableEndpoint: string; queueEndpoint: string }, targets: StorageTargets = DOCUMENTED_STORAGE_TARGETS): Promise<RunningPacingProxy> {
  const stats: PacingStats = {
    table: { requests: 0, transactions: 0, entities: 0, serverBusy: 0, entitiesByPartition: {} },
    queue: { requests: 0, messages: 0, serverBusy: 0, messagesByQueue: {} },
  };
  const burst = (perSecond: number) => new Bucket(perSecond, perSecond * targets.burstSeconds);
  const accounts = { table: burst(targets.tableAccountTransactionsPerSecond), queue: burst(targets.queueAccountMessagesPerSecond) };
  const partitions = new Map<string, Bucket>();
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });

  const serve = (service: "table" | "queue", upstream: URL) => async (incoming: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(incoming.url ?? "/", "http://proxy");
    const method = incoming.method ?? "GET";
    const cost = service === "table" ? tableCost(method, url, body) : queueCost(method, url);
    const s = service === "table" ? stats.table : stats.queue;
    s.requests++;
    const perKey = service === "table" ? targets.tablePartitionEntitiesPerSecond : targets.queueMessagesPerSecond;
    const bucket = cost.key === undefined ? undefined : (partitions.get(`${service}:${cost.key}`) ?? partitions.set(`${service}:${cost.key}`, burst(perKey)).get(`${service}:${cost.key}`)!);
    const account = accounts[service];
    if (!account.has() || (bucket && !bucket.has())) {
      s.serverBusy++;
      return busyAnswer(response, service, account.has() ? PARTITION_BUSY : ACCOUNT_BUSY);
    }
    // An entity group transaction is one transaction of the account; every message is one of the queue account's.
    account.take(service === "table" ? 1 : cost.units);
    bucket?.take(cost.units);
    const count = (units: number) => {
      if (service === "table") {
        stats.table.entities += units;
        if (cost.key) stats.table.entitiesByPartition[cost.key] = (stats.table.entitiesByPartition[cost.key] ?? 0) + units;
      } else {
        stats.queue.messages += units;
        if (cost.key) stats.queue.messagesByQueue[cost.key] = (stats.queue.messagesByQueue[cost.key] ?? 0) + units;
      }
    };
    if (service === "table") stats.table.transactions++;
    count(cost.units);

    const headers = { ...incoming.headers, host: upstream.host };
    const forward = (retry: boolean) => {
      const forwarded = httpRequest({ host: upstream.hostname, port: upstream.port, method, path: incoming.url, headers, agent }, (answer) => {
        if (!cost.fromAnswer) {
          response.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.headers);
          answer.pipe(response);
          return;
        }
        const parts: Buffer[] = [];
        answer.on("data", (c: Buffer) => parts.push(c));
        answer.on("end", () => {
          const text = Buffer.concat(parts);
          if ((answer.statusCode ?? 500) < 300) {
            const more = cost.fromAnswer!(text.toString("utf8"));
            if (more > 0) {
              bucket?.take(more);
              if (service === "queue") account.take(more);
              count(more);
            }
          }
          response.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.headers);
          response.end(text);
        });
      });
      forwarded.on("error", (error: NodeJS.ErrnoException) => {
        // A kept-alive socket Azurite closed while idle: Node's documentation of request.reusedSocket gives this race
        // and its remedy, sending the request again on a fresh socket (the body is buffered; Azurite read none of it).
        if (retry && forwarded.reusedSocket && error.code === "ECONNRESET") {
          forward(false);
          return;
        }
        if (!response.headersSent) response.writeHead(502, { "content-type": "text/plain" });
        response.end(String(error));
      });
      forwarded.end(body);
    };
    forward(true);
  };

  const servers: Server[] = [];
  const listen = async (service: "table" | "queue", endpoint: string) => {
    const upstream = new URL(endpoint);
    const server = createServer((req, res) => void serve(service, upstream)(req, res));
    // The SDKs keep connections open between a worker's polls; Node's 5 s default closes them in between, and a
    // request racing the close fails. Azure Storage keeps idle connections longer [unverified: how long].
    server.keepAliveTimeout = 120_000;
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}/${AZURITE_ACCOUNT}`;
  };
  const tableEndpoint = await listen("table", target.tableEndpoint);
  const queueEndpoint = await listen("queue", target.queueEndpoint);
  return {
    tableEndpoint,
    queueEndpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};QueueEndpoint=${queueEndpoint};TableEndpoint=${tableEndpoint};`,
    stats: () => structuredClone(stats),
    async stop() {
      agent.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
