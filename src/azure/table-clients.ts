import { TableClient } from "@azure/data-tables";
import type { TokenCredential } from "@azure/core-auth";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import { StoreError } from "./errors.js";

/** Where the app's tables are: AzureWebJobsStorage's connection string, or the table endpoint and an identity. */
export type StoreConnection =
  | { connectionString: string }
  | { tableEndpoint: string; credential: TokenCredential };

/** Counts the store's requests (every table operation is one HTTP request, batches included). */
export interface StoreStats {
  requests: number;
}

/**
 * Table clients of one store, named `<prefix><name>`, sharing one request counter (a per-retry policy, so a retried
 * request counts each time it is sent). A connection string to a plain-HTTP endpoint (Azurite) is allowed to send
 * its Shared Key over HTTP, as the SDK otherwise refuses.
 */
export function tableClients(connection: StoreConnection, prefix: string): { make: (name: string) => TableClient; stats: StoreStats } {
  if (!/^[A-Za-z][A-Za-z0-9]{0,40}$/.test(prefix)) throw new Error(`invalid table prefix '${prefix}': letters and digits, starting with a letter`);
  const stats: StoreStats = { requests: 0 };
  const counter: PipelinePolicy = {
    name: "auditguardStoreCounter",
    sendRequest: (request, next) => {
      stats.requests++;
      return next(request);
    },
  };
  const options = { additionalPolicies: [{ policy: counter, position: "perRetry" as const }] };
  const make = (name: string) =>
    "connectionString" in connection
      ? TableClient.fromConnectionString(connection.connectionString, `${prefix}${name}`, {
          ...options,
          allowInsecureConnection: /^DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true|Endpoint=http:\/\//i.test(connection.connectionString),
        })
      : new TableClient(connection.tableEndpoint, `${prefix}${name}`, connection.credential, options);
  return { make, stats };
}

/** Runs one store operation: what fails is a StoreError naming it, except the errors the caller lets through. */
export async function storeOp<T>(what: string, work: () => Promise<T>, passThrough: ReadonlyArray<abstract new (...args: never[]) => Error> = []): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StoreError || passThrough.some((type) => error instanceof type)) throw error;
    throw new StoreError(what, error);
  }
}
