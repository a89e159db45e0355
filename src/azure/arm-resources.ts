import type { ResourceReader } from "./inventory.js";

/** An ARM provider's list (per subscription) and get of one resource type: what a kind's adapter reads resources with. */
export type ResourceApi = Omit<ResourceReader, "kind">;

/** Microsoft.Sql managedInstances: List (per subscription) and Get (Managed Instances REST reference). */
export const managedInstances: ResourceApi = {
  list: (clients, subscriptionId, options) => clients.sql(subscriptionId).managedInstances.list(options),
  get: (clients, subscriptionId, resourceGroup, name, options) => clients.sql(subscriptionId).managedInstances.get(resourceGroup, name, options),
};

/** Microsoft.Sql servers: List (per subscription) and Get (Servers REST reference). */
export const sqlServers: ResourceApi = {
  list: (clients, subscriptionId, options) => clients.sql(subscriptionId).servers.list(options),
  get: (clients, subscriptionId, resourceGroup, name, options) => clients.sql(subscriptionId).servers.get(resourceGroup, name, options),
};

/** Microsoft.Synapse workspaces: List (per subscription) and Get (Workspaces REST reference). */
export const synapseWorkspaces: ResourceApi = {
  list: (clients, subscriptionId, options) => clients.synapse(subscriptionId).workspaces.list(options),
  get: (clients, subscriptionId, resourceGroup, name, options) => clients.synapse(subscriptionId).workspaces.get(resourceGroup, name, options),
};
