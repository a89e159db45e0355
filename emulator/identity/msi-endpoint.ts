import { randomBytes, randomUUID } from "node:crypto";
import type { EmulatorHandler, EmulatorResponse } from "../http-contracts.js";
import type { TokenAuthority } from "./tokens.js";

/**
 * The App Service managed-identity endpoint, in both protocols App Service serves from one token authority
 * ("Managed identities for App Service and Azure Functions", REST endpoint reference):
 * - 2019-08-01 (IDENTITY_ENDPOINT / IDENTITY_HEADER), what ManagedIdentityCredential and DefaultAzureCredential
 *   call: `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<aud>[&client_id=|&principal_id=|&object_id=|&mi_res_id=]`
 *   with header `X-IDENTITY-HEADER`, answering `{access_token, expires_on (epoch seconds), resource, token_type, client_id}`;
 * - 2017-09-01 (MSI_ENDPOINT / MSI_SECRET), what msrestazure and so Debian's azure-cli 2.45 call:
 *   `GET {MSI_ENDPOINT}/?resource=<aud>&api-version=2017-09-01[&clientid=]` with header `secret`, answering the same
 *   fields with `expires_on` as `MM/DD/YYYY HH:mm:ss +00:00` (azure-cli's adal_authentication.py documents that
 *   sample and parses it with '%m/%d/%Y %H:%M:%S %z').
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
const LEGACY_API_VERSION = "2017-09-01";

/** 2017-09-01's expiry: "11/05/2021 15:18:31 +00:00" (month/day/year, 24-hour clock, UTC). */
function legacyExpiry(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +00:00`;
}

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
    const params = request.url.searchParams;
    const apiVersion = params.get("api-version");
    if (!apiVersion) return failure(400, "api-version parameter is required.");
    if (apiVersion !== API_VERSION && apiVersion !== LEGACY_API_VERSION) return failure(400, `api-version '${apiVersion}' is not supported; use ${API_VERSION} or ${LEGACY_API_VERSION}.`);
    const legacy = apiVersion === LEGACY_API_VERSION;
    // 2019-08-01 sends the secret as X-IDENTITY-HEADER, 2017-09-01 as `secret`; App Service gives both the same value.
    const secretHeader = legacy ? "secret" : "x-identity-header";
    const secret = request.headers[secretHeader];
    if (secret === undefined || secret === "") return failure(400, `Missing ${legacy ? "secret" : "X-IDENTITY-HEADER"} header.`);
    if (secret !== header) return failure(401, `Unauthorized. The ${legacy ? "secret" : "X-IDENTITY-HEADER"} value is not valid.`);
    const resource = params.get("resource");
    if (!resource) return failure(400, "resource parameter is required.");
    const clientId = params.get(legacy ? "clientid" : "client_id");
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
        expires_on: legacy ? legacyExpiry(claims.exp) : String(claims.exp),
        resource,
        token_type: "Bearer",
        client_id: identity.clientId,
      },
    };
  };
  return { handler, header, issued: () => issued };
}
