import type { AzureClients } from "./clients.js";
import type { TargetKind } from "../core/domain.js";
import { KINDS, kindOfArmType } from "../kinds/registry.js";
import { redact } from "../core/redaction.js";
import { InventoryError } from "./errors.js";

/**
 * Finds every resource of a registered kind (src/kinds/registry.ts) in scope. Resource Graph answers for a thousand
 * resources a call; when it is unavailable (not registered, no access at tenant scope) each kind's per-subscription
 * list API (its ResourceReader, from its adapter) is used instead. Paging follows $skipToken to the end:
 * `resultTruncated` is not the signal (Azure Resource Graph documentation, concepts/paging-results: `$skipToken` is set while
 * more records follow).
 */
export interface DiscoveredResource {
  id: string;
  kind: TargetKind;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  properties: Record<string, unknown>;
}

export interface InventoryResult {
  resources: DiscoveredResource[];
  source: "resource-graph" | "resource-provider-lists";
  /** Why Resource Graph was not used, when it was not. */
  fallbackReason?: string;
  /** Parts of the scope that could not be read (a subscription not visible or not listable), each with why. */
  unreadable: string[];
}

/** How ARM lists and reads one kind's resources (the provider's list and get APIs); each kind's adapter gives its own. */
export interface ResourceReader {
  kind: TargetKind;
  list(clients: AzureClients, subscriptionId: string, options: { abortSignal?: AbortSignal | undefined }): AsyncIterable<object>;
  get(clients: AzureClients, subscriptionId: string, resourceGroup: string, name: string, options: { abortSignal?: AbortSignal | undefined }): Promise<object>;
}

export const INVENTORY_QUERY = `Resources
| where type in~ (${KINDS.map((k) => `'${k.armType}'`).join(", ")})
| project id, name, type, location, resourceGroup, subscriptionId, tags, properties
| order by id asc`;

/** The subscriptions the caller can read ("ResourceContainers" holds subscriptions and resource groups). */
export const VISIBLE_SUBSCRIPTIONS_QUERY = `ResourceContainers
| where type =~ 'microsoft.resources/subscriptions'
| project subscriptionId`;

/** Resource Graph's largest page ($top at most 1000): the fewest queries against its quota. */
const PAGE_SIZE = 1000;

/** Resource group and subscription as ARM ids spell them: /subscriptions/{s}/resourceGroups/{rg}/... */
export function parseResourceId(id: string): { subscriptionId: string; resourceGroup: string } {
  const match = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\//i.exec(id);
  if (!match) throw new Error(`not an ARM resource id: ${id}`);
  return { subscriptionId: match[1]!.toLowerCase(), resourceGroup: match[2]! };
}

/**
 * A top-level resource id of a kind AuditGuard scans, taken apart strictly (names as ARM allows them), or undefined:
 * `/subscriptions/{guid}/resourceGroups/{rg}/providers/{namespace}/{type}/{name}`.
 */
export function parseTargetId(id: string): { subscriptionId: string; resourceGroup: string; type: string; kind: TargetKind; name: string } | undefined {
  const match = /^\/subscriptions\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/resourceGroups\/([-\w._()]{1,90})\/providers\/([A-Za-z.]+\/[A-Za-z]+)\/([A-Za-z0-9][A-Za-z0-9-]{0,127})$/i.exec(id);
  if (!match) return undefined;
  const type = match[3]!.toLowerCase();
  const kind = kindOfArmType(type);
  if (!kind || match[2]!.endsWith(".")) return undefined;
  return { subscriptionId: match[1]!.toLowerCase(), resourceGroup: match[2]!, type, kind: kind.id, name: match[4]! };
}

function fromGraphRow(row: Record<string, unknown>): DiscoveredResource | undefined {
  const kind = kindOfArmType(String(row.type));
  if (!kind) return undefined;
  const id = String(row.id);
  const parsed = parseResourceId(id);
  return {
    id,
    kind: kind.id,
    name: String(row.name),
    subscriptionId: String(row.subscriptionId ?? parsed.subscriptionId).toLowerCase(),
    resourceGroup: String(row.resourceGroup ?? parsed.resourceGroup),
    location: String(row.location ?? ""),
    tags: (row.tags as Record<string, string> | null) ?? {},
    properties: (row.properties as Record<string, unknown> | null) ?? {},
  };
}

async function graphRows(clients: AzureClients, query: string, subscriptions: readonly string[] | undefined, pageSize: number, signal?: AbortSignal): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  let skipToken: string | undefined;
  do {
    const page = await clients.resourceGraph().resources(
      {
        query,
        ...(subscriptions?.length ? { subscriptions: [...subscriptions] } : {}),
        options: { top: pageSize, resultFormat: "objectArray", ...(skipToken ? { skipToken } : {}) },
      },
      { abortSignal: signal },
    );
    rows.push(...((page.data as Array<Record<string, unknown>>) ?? []));
    skipToken = page.skipToken;
  } while (skipToken);
  return rows;
}

/**
 * Resource Graph answers only for the subscriptions the caller may read and says nothing of the others, so a
 * subscription in scope that the scanner cannot see would silently look empty: each one is checked.
 */
async function fromResourceGraph(clients: AzureClients, subscriptions: readonly string[] | undefined, pageSize: number, signal?: AbortSignal) {
  const [rows, visibleRows] = await Promise.all([graphRows(clients, INVENTORY_QUERY, subscriptions, pageSize, signal), graphRows(clients, VISIBLE_SUBSCRIPTIONS_QUERY, subscriptions, pageSize, signal)]);
  const resources = rows.flatMap((row) => fromGraphRow(row) ?? []);
  const visible = new Set(visibleRows.map((r) => String(r.subscriptionId).toLowerCase()));
  const unreadable: string[] = [];
  for (const s of subscriptions ?? []) {
    if (!visible.has(s.toLowerCase())) unreadable.push(`subscription ${s}: not visible to the scanner's identity in Resource Graph (no role assignment, or it does not exist)`);
  }
  // An identity that sees no subscription at all read nothing: that is not an empty estate.
  const nothing = visible.size === 0 ? ["Resource Graph: the scanner's identity can read no subscription (no role assignment on any)"] : undefined;
  return { resources, unreadable, nothing };
}

type Listed = { id?: string; name?: string; location?: string; tags?: Record<string, string> } & Record<string, unknown>;

function fromListed(kind: TargetKind, item: Listed): DiscoveredResource {
  const id = String(item.id);
  const { subscriptionId, resourceGroup } = parseResourceId(id);
  const { id: _id, name, location, tags, type: _type, ...properties } = item;
  return { id, kind, name: String(name), subscriptionId, resourceGroup, location: String(location ?? ""), tags: tags ?? {}, properties };
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function fromProviderLists(clients: AzureClients, readers: readonly ResourceReader[], subscriptions: readonly string[], signal?: AbortSignal) {
  const resources: DiscoveredResource[] = [];
  const unreadable: string[] = [];
  for (const subscriptionId of subscriptions) {
    try {
      const options = { abortSignal: signal };
      const lists = await Promise.all(readers.map(async (reader) => ({ kind: reader.kind, items: await collect(reader.list(clients, subscriptionId, options)) })));
      resources.push(...lists.flatMap(({ kind, items }) => items.map((item) => fromListed(kind, item as Listed))));
    } catch (error) {
      if (signal?.aborted) throw error;
      unreadable.push(`subscription ${subscriptionId}: ${describe(error)}`);
    }
  }
  return { resources, unreadable };
}

const describe = (error: unknown) => {
  const e = error as { code?: unknown; statusCode?: unknown; message?: unknown; name?: unknown };
  const code = typeof e.code === "string" ? e.code : typeof e.statusCode === "number" ? `HTTP${e.statusCode}` : typeof e.name === "string" ? e.name : "Error";
  return redact(`${code}: ${typeof e.message === "string" ? e.message : String(error)}`);
};

/**
 * The inventory, or an InventoryError when nothing trustworthy could be read (sign-in failed, Resource Graph and
 * every fallback list failed): a scan of an estate it never saw must never read as a clean estate. What was read
 * comes back with what was not (`unreadable`), which makes the scan an error for the parts it could not see.
 */
export async function discoverResources(
  clients: AzureClients,
  /** `readers`: each kind's list API, for when Resource Graph is not used (src/kinds/adapters.ts). */
  /** `graphPageSize`: Resource Graph's $top, 1 to 1000 (default 1000; smaller only to exercise paging). */
  options: { readers: readonly ResourceReader[]; subscriptions?: readonly string[]; signal?: AbortSignal; useResourceGraph?: boolean; graphPageSize?: number },
): Promise<InventoryResult> {
  let fallbackReason: string | undefined;
  if (options.useResourceGraph !== false) {
    try {
      const { resources, unreadable, nothing } = await fromResourceGraph(clients, options.subscriptions, options.graphPageSize ?? PAGE_SIZE, options.signal);
      if (nothing) throw new InventoryError([...nothing, ...unreadable]);
      return { resources, source: "resource-graph", unreadable };
    } catch (error) {
      if (options.signal?.aborted || error instanceof InventoryError) throw error;
      fallbackReason = describe(error);
    }
  } else {
    fallbackReason = "Resource Graph disabled by configuration";
  }
  if (!options.subscriptions?.length) {
    throw new InventoryError([`Resource Graph: ${fallbackReason}`, "no fallback: the baseline's scope names no subscriptions to list one by one"]);
  }
  const { resources, unreadable } = await fromProviderLists(clients, options.readers, options.subscriptions, options.signal);
  if (unreadable.length === options.subscriptions.length) throw new InventoryError([...(options.useResourceGraph !== false ? [`Resource Graph: ${fallbackReason}`] : []), ...unreadable]);
  return { resources, source: "resource-provider-lists", fallbackReason, unreadable };
}

/**
 * One target, read from ARM by its id: the fact a queue message only names. Undefined when ARM says it does not
 * exist (404); other failures are thrown as they are.
 */
export async function getResource(clients: AzureClients, readers: readonly ResourceReader[], id: string, signal?: AbortSignal): Promise<DiscoveredResource | undefined> {
  const parsed = parseTargetId(id);
  if (!parsed) throw new Error(`not the id of a resource AuditGuard scans: ${id}`);
  const reader = readers.find((r) => r.kind === parsed.kind);
  if (!reader) throw new Error(`no reader for kind ${parsed.kind}`);
  const options = { abortSignal: signal };
  const { subscriptionId: sub, resourceGroup: rg, name, kind } = parsed;
  try {
    const item = await reader.get(clients, sub, rg, name, options);
    return fromListed(kind, item as Listed);
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}
