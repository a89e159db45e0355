import { randomBytes, randomUUID } from "node:crypto";
import type { EmulatorHandler, EmulatorResponse } from "../http-contracts.js";
import type { TokenAuthority } from "./tokens.js";

/**
 * The App Service managed-identity endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER), which is what
 * ManagedIdentityCredential and DefaultAzureCredential call inside Azure Functions:
 * `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<aud>[&client_id=|&principal_id=|&object_id=]`
 * with header `X-IDENTITY-HEADER`, answering `{access_token, expires_on, resource, token_type, client_id}`.
 * Plain HTTP on loopback, as App Service's is.
 */
export interface ManagedIdentity {
  principalId: string;
  clientId: string;
  displayName: string;
}

export interface MsiEndpointOptions {
  authority: TokenAuthority;
  /** The identity used when the request names none (the app's system-assigned identity in App Service terms). */
  defaultIdentity: ManagedIdentity;
  /** Every identity the app may ask for by client_id / principal_id. */
  identities: readonly ManagedIdentity[];
  /** The secret the caller must send as X-IDENTITY-HEADER; generated when absent. */
  header?: string;
  lifetimeSeconds?: number;
  now?: () => number;
  /** The ARM id that becomes the token's xms_mirid claim. */
  identityResourceId?: (identity: ManagedIdentity) => string | undefined;
}

export const MSI_PATH = "/msi/token";
const API_VERSION = "2019-08-01";

function failure(status: number, message: string): EmulatorResponse {
  return { status, json: { statusCode: status, message, correlationId: randomUUID() } };
}

export function createMsiHandler(options: MsiEndpointOptions): { handler: EmulatorHandler; header: string; issued: () => number } {
  const header = options.header ?? randomBytes(24).toString("hex");
  const lifetime = options.lifetimeSeconds ?? 24 * 3600;
  let issued = 0;
  const handler: EmulatorHandler = (request) => {
    if (request.url.pathname.replace(/\/+$/, "").toLowerCase() !== MSI_PATH) return failure(404, "Not found.");
    if (request.method !== "GET") return failure(405, "The requested resource does not support http method '" + request.method + "'.");
    const secret = request.headers["x-identity-header"];
    if (secret === undefined || secret === "") return failure(400, "Missing X-IDENTITY-HEADER header.");
    if (secret !== header) return failure(401, "Unauthorized. The X-IDENTITY-HEADER value is not valid.");
    const params = request.url.searchParams;
    const apiVersion = params.get("api-version");
    if (!apiVersion) return failure(400, "api-version parameter is required.");
    if (apiVersion !== API_VERSION) return failure(400, `api-version '${apiVersion}' is not supported; use ${API_VERSION}.`);
    const resource = params.get("resource");
    if (!resource) return failure(400, "resource parameter is required.");
    const clientId = params.get("client_id");
    const principalId = params.get("principal_id") ?? params.get("object_id");
    const miResId = params.get("mi_res_id");
    let identity: ManagedIdentity | undefined = options.defaultIdentity;
    if (clientId) identity = options.identities.find((i) => i.clientId.toLowerCase() === clientId.toLowerCase());
    else if (principalId) identity = options.identities.find((i) => i.principalId.toLowerCase() === principalId.toLowerCase());
    else if (miResId) identity = options.identities.find((i) => options.identityResourceId?.(i)?.toLowerCase() === miResId.toLowerCase());
    if (!identity) return failure(400, "No Managed Identity found for specified ClientId/ResourceId/PrincipalId.");
    const nowMs = options.now?.() ?? Date.now();
    const mirid = options.identityResourceId?.(identity);
    const { token, claims } = options.authority.issue(
      resource,
      { oid: identity.principalId, appid: identity.clientId, name: identity.displayName, ...(mirid ? { mirid } : {}) },
      lifetime,
      nowMs,
    );
    issued++;
    return {
      status: 200,
      json: {
        access_token: token,
        expires_on: String(claims.exp),
        resource,
        token_type: "Bearer",
        client_id: identity.clientId,
      },
    };
  };
  return { handler, header, issued: () => issued };
}
