import type { AzureClients } from "./clients.js";

/**
 * Finds every SQL Managed Instance, SQL logical server and Synapse workspace in scope. Resource Graph answers for
 * a thousand resources a call; when it is unavailable (not registered, no access at tenant scope) the per-
 * subscription list APIs of the three resource providers are used instead. Paging follows $skipToken to the end:
 * `resultTruncated` is not the signal (DESIGN.md, lessons).
 */
export type DiscoveredKind = "sql-managed-instance" | "sql-server" | "synapse-workspace";

export interface DiscoveredResource {
  id: string;
  kind: DiscoveredKind;
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
  /** Subscriptions that could not be listed in fallback mode, with the reason. */
  failures: Array<{ subscriptionId: string; message: string }>;
}

const TYPE_TO_KIND: Record<string, DiscoveredKind> = {
  "microsoft.sql/managedinstances": "sql-managed-instance",
  "microsoft.sql/servers": "sql-server",
  "microsoft.synapse/workspaces": "synapse-workspace",
};

export const INVENTORY_QUERY = `Resources
| where type in~ ('microsoft.sql/managedinstances', 'microsoft.sql/servers', 'microsoft.synapse/workspaces')
| project id, name, type, location, resourceGroup, subscriptionId, tags, properties
| order by id asc`;

const PAGE_SIZE = 1000;

/** Resource group and subscription as ARM ids spell them: /subscriptions/{s}/resourceGroups/{rg}/... */
export function parseResourceId(id: string): { subscriptionId: string; resourceGroup: string } {
  const match = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\//i.exec(id);
  if (!match) throw new Error(`not an ARM resource id: ${id}`);
  return { subscriptionId: match[1]!.toLowerCase(), resourceGroup: match[2]! };
}

function fromGraphRow(row: Record<string, unknown>): DiscoveredResource | undefined {
  const kind = TYPE_TO_KIND[String(row.type).toLowerCase()];
  if (!kind) return undefined;
  const id = String(row.id);
  const parsed = parseResourceId(id);
  return {
    id,
    kind,
    name: String(row.name),
    subscriptionId: String(row.subscriptionId ?? parsed.subscriptionId).toLowerCase(),
    resourceGroup: String(row.resourceGroup ?? parsed.resourceGroup),
    location: String(row.location ?? ""),
    tags: (row.tags as Record<string, string> | null) ?? {},
    properties: (row.properties as Record<string, unknown> | null) ?? {},
  };
}

async function fromResourceGraph(clients: AzureClients, subscriptions: readonly string[] | undefined, signal?: AbortSignal) {
  const resources: DiscoveredResource[] = [];
  let skipToken: string | undefined;
  do {
    const page = await clients.resourceGraph().resources(
      {
        query: INVENTORY_QUERY,
        ...(subscriptions?.length ? { subscriptions: [...subscriptions] } : {}),
        options: { top: PAGE_SIZE, resultFormat: "objectArray", ...(skipToken ? { skipToken } : {}) },
      },
      { abortSignal: signal },
    );
    for (const row of (page.data as Array<Record<string, unknown>>) ?? []) {
      const resource = fromGraphRow(row);
      if (resource) resources.push(resource);
    }
    skipToken = page.skipToken;
  } while (skipToken);
  return resources;
}

type Listed = { id?: string; name?: string; location?: string; tags?: Record<string, string> } & Record<string, unknown>;

function fromListed(kind: DiscoveredKind, item: Listed): DiscoveredResource {
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

async function fromProviderLists(clients: AzureClients, subscriptions: readonly string[], signal?: AbortSignal) {
  const resources: DiscoveredResource[] = [];
  const failures: InventoryResult["failures"] = [];
  for (const subscriptionId of subscriptions) {
    try {
      const options = { abortSignal: signal };
      const [instances, servers, workspaces] = await Promise.all([
        collect(clients.sql(subscriptionId).managedInstances.list(options)),
        collect(clients.sql(subscriptionId).servers.list(options)),
        collect(clients.synapse(subscriptionId).workspaces.list(options)),
      ]);
      resources.push(
        ...instances.map((i) => fromListed("sql-managed-instance", i as Listed)),
        ...servers.map((s) => fromListed("sql-server", s as Listed)),
        ...workspaces.map((w) => fromListed("synapse-workspace", w as Listed)),
      );
    } catch (error) {
      failures.push({ subscriptionId, message: error instanceof Error ? error.message : String(error) });
    }
  }
  return { resources, failures };
}

export async function discoverResources(
  clients: AzureClients,
  options: { subscriptions?: readonly string[]; signal?: AbortSignal; useResourceGraph?: boolean } = {},
): Promise<InventoryResult> {
  let fallbackReason: string | undefined;
  if (options.useResourceGraph !== false) {
    try {
      const resources = await fromResourceGraph(clients, options.subscriptions, options.signal);
      return { resources, source: "resource-graph", failures: [] };
    } catch (error) {
      if (options.signal?.aborted) throw error;
      fallbackReason = error instanceof Error ? error.message : String(error);
    }
  } else {
    fallbackReason = "Resource Graph disabled by configuration";
  }
  if (!options.subscriptions?.length) {
    throw new Error(`Resource Graph failed (${fallbackReason}) and the baseline names no subscriptions to list instead`);
  }
  const { resources, failures } = await fromProviderLists(clients, options.subscriptions, options.signal);
  return { resources, source: "resource-provider-lists", fallbackReason, failures };
}
