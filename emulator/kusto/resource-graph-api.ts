import { randomUUID } from "node:crypto";
import type { EmulatorHandler, EmulatorRequest, EmulatorResponse } from "../http-contracts.js";
import type { ResourceGraphStore } from "../data-contracts.js";
import { KqlError } from "./lexer.js";
import type { Row } from "./ast.js";
import { executeQuery } from "./execute.js";

/**
 * Resource Graph's query API (POST /providers/Microsoft.ResourceGraph/resources): KQL over the Resources table of
 * the subscriptions the caller may read, objectArray results, $top/$skip and $skipToken paging.
 */
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

function badRequest(details: Array<Record<string, unknown>>): EmulatorResponse {
  return {
    status: 400,
    json: {
      error: {
        code: "BadRequest",
        message: `Please provide below info when asking for support: timestamp = ${new Date().toISOString()}, correlationId = ${randomUUID()}.`,
        details,
      },
    },
  };
}

export function createResourceGraphHandler(store: ResourceGraphStore, options: { now?: () => Date } = {}): EmulatorHandler {
  const now = options.now ?? (() => new Date());
  return async (request: EmulatorRequest): Promise<EmulatorResponse> => {
    let body: { subscriptions?: unknown; query?: unknown; options?: Record<string, unknown> };
    try {
      body = JSON.parse(request.body.toString("utf8") || "{}") as typeof body;
    } catch {
      return badRequest([{ code: "InvalidRequestContent", message: "The request content was invalid and could not be deserialized." }]);
    }
    if (typeof body.query !== "string" || !body.query.trim()) return badRequest([{ code: "InvalidQuery", message: "Query is required." }]);
    const visible = new Set(store.subscriptionIds().map((s) => s.toLowerCase()));
    const requested = Array.isArray(body.subscriptions) ? (body.subscriptions as string[]).map((s) => s.toLowerCase()) : [...visible];
    const scope = new Set(requested.filter((s) => visible.has(s)));
    const rows = [...store.resources()].filter((r) => scope.has(String(r.subscriptionId).toLowerCase())) as Row[];
    // ResourceContainers holds the subscriptions (and resource groups) themselves ("Azure Resource Graph table and
    // resource type reference"); the subscriptions here are those the caller may read.
    const containers = [...scope].map((id) => ({ id: `/subscriptions/${id}`, name: id, type: "microsoft.resources/subscriptions", subscriptionId: id })) as Row[];
    let result;
    try {
      result = executeQuery(body.query, new Map([["Resources", rows], ["resources", rows], ["ResourceContainers", containers]]), now());
    } catch (e) {
      if (e instanceof KqlError) {
        return badRequest([
          { code: "InvalidQuery", message: "Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying." },
          { code: e.code === "SyntaxError" ? "ParserFailure" : "UnknownFunction", message: e.message, ...(e.pos !== undefined ? { line: 1, characterPositionInLine: e.pos } : {}) },
        ]);
      }
      throw e;
    }
    const opts = body.options ?? {};
    const top = Math.min(Number(opts.$top ?? opts.top ?? DEFAULT_PAGE), MAX_PAGE);
    let offset = Number(opts.$skip ?? opts.skip ?? 0);
    const token = opts.$skipToken ?? opts.skipToken;
    if (typeof token === "string" && token) {
      const decoded = Number(Buffer.from(token, "base64url").toString("utf8").replace(/^offset:/, ""));
      if (!Number.isInteger(decoded) || decoded < 0) return badRequest([{ code: "InvalidSkipToken", message: "The $skipToken is invalid." }]);
      offset = decoded;
    }
    if (!Number.isInteger(top) || top < 1 || !Number.isInteger(offset) || offset < 0) return badRequest([{ code: "InvalidPaging", message: "$top must be 1-1000 and $skip non-negative." }]);
    const page = result.rows.slice(offset, offset + top);
    const next = offset + page.length < result.rows.length ? Buffer.from(`offset:${offset + page.length}`).toString("base64url") : undefined;
    const data = page.map((row) => Object.fromEntries(result.columns.map((c) => [c.name, row[c.name] instanceof Date ? (row[c.name] as Date).toISOString() : (row[c.name] ?? null)])));
    return {
      status: 200,
      json: {
        totalRecords: result.rows.length,
        count: page.length,
        data,
        facets: [],
        resultTruncated: "false",
        ...(next ? { $skipToken: next } : {}),
      },
    };
  };
}
