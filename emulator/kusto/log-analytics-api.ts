import { randomUUID } from "node:crypto";
import type { EmulatorHandler, EmulatorRequest, EmulatorResponse } from "../http-contracts.js";
import type { LogAnalyticsStore, LogAnalyticsWorkspaceData } from "../data-contracts.js";
import { KqlError } from "./lexer.js";
import type { Row } from "./ast.js";
import { INGESTION_TIME } from "./ast.js";
import { executeQuery } from "./execute.js";
import { wireValue } from "./values.js";

/**
 * The Log Analytics query API (api.loganalytics.io/v1): workspace queries, resource-centric queries and
 * $batch, with the service's response and error shapes. Authentication happens in front of this handler.
 */
function error(status: number, code: string, message: string, inner?: Record<string, unknown>): EmulatorResponse {
  return { status, json: { error: { message, code, correlationId: randomUUID(), ...(inner ? { innererror: inner } : {}) } } };
}

function queryError(e: KqlError): EmulatorResponse {
  if (e.code === "SyntaxError") {
    return error(400, "BadArgumentError", "The request had some invalid properties", {
      code: "SyntaxError",
      message: "A recognition error occurred in the query.",
      innererror: { code: "SYN0002", message: e.message, line: 1, pos: e.pos ?? 0 },
    });
  }
  return error(400, "BadArgumentError", "The request had some invalid properties", {
    code: "SemanticError",
    message: "A semantic error occurred.",
    innererror: { code: "SEM0100", message: e.message },
  });
}

const DURATION = /^P(?!$)(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
function durationMs(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  return (((Number(m[1] ?? 0) * 24 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 60 + Number(m[4] ?? 0)) * 1000;
}

/** ISO 8601 interval: duration (ending now), start/end, start/duration or duration/end. */
export function parseTimespan(text: string, now: Date): { from: Date; to: Date } | undefined {
  const parts = text.split("/");
  const date = (s: string) => {
    const d = new Date(s);
    return Number.isNaN(d.getTime()) ? undefined : d;
  };
  if (parts.length === 1) {
    const ms = durationMs(parts[0]!);
    return ms === undefined ? undefined : { from: new Date(now.getTime() - ms), to: now };
  }
  if (parts.length !== 2) return undefined;
  const [a, b] = parts as [string, string];
  const aDate = date(a);
  const bDate = date(b);
  if (aDate && bDate) return { from: aDate, to: bDate };
  if (aDate && durationMs(b) !== undefined) return { from: aDate, to: new Date(aDate.getTime() + durationMs(b)!) };
  if (bDate && durationMs(a) !== undefined) return { from: new Date(bDate.getTime() - durationMs(a)!), to: bDate };
  return undefined;
}

/** A row is visible once it has been ingested, on the emulator's clock ("Log data ingestion time in Azure Monitor"). */
function ingested(row: Row, now: Date): boolean {
  const at = row[INGESTION_TIME];
  return !(at instanceof Date) || at.getTime() <= now.getTime();
}

function inWindow(row: Row, window: { from: Date; to: Date } | undefined): boolean {
  if (!window) return true;
  const t = row.TimeGenerated;
  if (!(t instanceof Date)) return true;
  return t.getTime() >= window.from.getTime() && t.getTime() <= window.to.getTime();
}

function tablesOf(workspaces: Iterable<LogAnalyticsWorkspaceData>, keep: (row: Row) => boolean): Map<string, Row[]> {
  const out = new Map<string, Row[]>();
  for (const ws of workspaces) {
    for (const [name, rows] of ws.tables) {
      const list = out.get(name) ?? [];
      for (const row of rows as Row[]) if (keep(row)) list.push(row);
      out.set(name, list);
    }
  }
  return out;
}

export interface LogAnalyticsApiOptions {
  now?: () => Date;
  /** The most rows and bytes of rows one answer carries; past either, the answer is partial (see partialError). */
  limits?: { maxRows: number; maxResponseBytes: number };
}

/**
 * The error a 200 answer carries when the result was cut ("Query result set exceeds internal limit" in the Kusto
 * docs, "Azure Monitor service limits" for the API's 500,000 rows and ~100 MiB): LogsQueryClient turns it into a
 * PartialFailure with the rows that did come. The envelope codes and messages are [unverified].
 */
function partialError(limit: "records" | "size", value: number): Record<string, unknown> {
  const what = limit === "records" ? `record count limit ${value}` : `data size limit ${value}`;
  return {
    code: "PartialError",
    message: "There were some errors when processing your query.",
    details: [
      {
        code: "EngineError",
        message: "Something went wrong processing your query on the server.",
        innererror: { code: "-2133196797", message: `Query result set has exceeded the internal ${what} (E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)`, severity: 2, severityName: "Error" },
      },
    ],
  };
}

export function createLogAnalyticsHandler(store: LogAnalyticsStore, options: LogAnalyticsApiOptions = {}): EmulatorHandler {
  const now = options.now ?? (() => new Date());

  const answer = (query: unknown, timespan: unknown, workspaces: Iterable<LogAnalyticsWorkspaceData>, scope?: string): EmulatorResponse => {
    if (typeof query !== "string" || !query.trim()) return error(400, "BadArgumentError", "The request had some invalid properties", { code: "QueryValidationError", message: "Query is required." });
    const at = now();
    const window = typeof timespan === "string" && timespan ? parseTimespan(timespan, at) : undefined;
    if (typeof timespan === "string" && timespan && !window) return error(400, "BadArgumentError", `Invalid timespan '${timespan}'`);
    const scopeLower = scope?.toLowerCase();
    const tables = tablesOf(workspaces, (row) => ingested(row, at) && inWindow(row, window) && (!scopeLower || String(row._ResourceId ?? row.ResourceId ?? "").toLowerCase().startsWith(scopeLower)));
    try {
      const result = executeQuery(query, tables, at);
      const rows: unknown[][] = [];
      let bytes = 0;
      let cut: Record<string, unknown> | undefined;
      for (const r of result.rows) {
        if (options.limits && rows.length >= options.limits.maxRows) {
          cut = partialError("records", options.limits.maxRows);
          break;
        }
        const cells = result.columns.map((c) => wireValue(r[c.name] ?? null, c.type));
        bytes += Buffer.byteLength(JSON.stringify(cells));
        if (options.limits && bytes > options.limits.maxResponseBytes) {
          cut = partialError("size", options.limits.maxResponseBytes);
          break;
        }
        rows.push(cells);
      }
      return {
        status: 200,
        json: {
          tables: [{ name: "PrimaryResult", columns: result.columns.map((c) => ({ name: c.name, type: c.type })), rows }],
          ...(cut ? { error: cut } : {}),
        },
      };
    } catch (e) {
      if (e instanceof KqlError) return queryError(e);
      throw e;
    }
  };

  const dispatch = (method: string, path: string, body: Record<string, unknown>, search: URLSearchParams): EmulatorResponse => {
    const query = method === "GET" ? search.get("query") : body.query;
    const timespan = method === "GET" ? search.get("timespan") : body.timespan;
    const ws = /^\/v1\/workspaces\/([^/]+)\/query$/i.exec(path);
    if (ws) {
      const main = store.workspaceByCustomerId(decodeURIComponent(ws[1]!));
      if (!main) return error(404, "WorkspaceNotFoundError", `Workspace ${ws[1]} could not be found`);
      const extra = Array.isArray(body.workspaces) ? (body.workspaces as string[]).map((id) => store.workspaceByCustomerId(id)) : [];
      if (extra.some((w) => !w)) return error(404, "WorkspaceNotFoundError", "One of the additional workspaces could not be found");
      return answer(query, timespan, [main, ...(extra as LogAnalyticsWorkspaceData[])]);
    }
    if (/^\/v1\/\/subscriptions\//i.test(path)) {
      // What the service answers for a `//subscriptions` path (an ARM id with its slash after the SDK's own).
      return error(403, "InsufficientAccessError", "The provided credentials have insufficient access to perform the requested operation");
    }
    const resource = /^\/v1(\/subscriptions\/.+)\/query$/i.exec(path);
    if (resource) {
      const resourceId = decodeURIComponent(resource[1]!);
      if (!store.resourceExists(resourceId)) return error(404, "ResourceNotFoundError", `The resource '${resourceId}' could not be found`);
      // A workspace's own ARM id reads that workspace whole, as its customerId does; any other resource reads the
      // rows it sent, in every workspace ("Log query scope and time range in Azure Monitor Log Analytics").
      const key = resourceId.toLowerCase().replace(/\/+$/, "");
      const workspace = [...store.allWorkspaces()].find((w) => w.resourceId.toLowerCase() === key);
      if (workspace) return answer(query, timespan, [workspace]);
      return answer(query, timespan, store.allWorkspaces(), resourceId);
    }
    return error(404, "PathNotFoundError", `The requested path does not exist`);
  };

  return async (request: EmulatorRequest): Promise<EmulatorResponse> => {
    const path = request.url.pathname;
    let body: Record<string, unknown> = {};
    if (request.method === "POST") {
      try {
        body = request.body.length ? (JSON.parse(request.body.toString("utf8")) as Record<string, unknown>) : {};
      } catch {
        return error(400, "BadArgumentError", "The request body is not valid JSON");
      }
    } else if (request.method !== "GET") {
      return error(405, "MethodNotAllowed", `The method ${request.method} is not allowed`);
    }
    if (/^\/v1\/\$batch$/i.test(path) && request.method === "POST") {
      const requests = Array.isArray(body.requests) ? (body.requests as Array<Record<string, unknown>>) : [];
      return {
        status: 200,
        json: {
          responses: requests.map((r) => {
            const inner = (r.body as Record<string, unknown>) ?? {};
            const target = typeof r.workspace === "string" ? `/v1/workspaces/${r.workspace}/query` : typeof r.resource === "string" ? `/v1${r.resource}/query` : "/v1/unknown";
            const res = dispatch("POST", target, inner, new URLSearchParams());
            return { id: r.id, status: res.status, body: res.json, headers: {} };
          }),
        },
      };
    }
    return dispatch(request.method, path, body, request.url.searchParams);
  };
}
