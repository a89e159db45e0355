import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { createCertificateAuthority, issueServerCertificate } from "./tls/certificates.js";
import type { CertificateAuthority } from "./tls/certificates.js";
import { TokenAuthority } from "./identity/tokens.js";
import { createMsiHandler, MSI_PATH } from "./identity/msi-endpoint.js";
import { serve } from "./http/server.js";
import type { RunningHttpServer } from "./http/server.js";
import type { EmulatorHandler, EmulatorRequest, EmulatorResponse } from "./http-contracts.js";
import type { LogAnalyticsStore, ResourceGraphStore } from "./data-contracts.js";
import { Estate } from "./estate/estate.js";
import { FaultInjector } from "./faults/faults.js";
import { loadFleetFile, sqlValidatorFromSchema, validateFleet } from "./fleet/load.js";
import { miStateSchema } from "./mi/state-schema.js";
import type { SqlStateValidator } from "./fleet/load.js";
import type { Fleet, FleetIdentity, FleetInput } from "./fleet/schema.js";
import { createArmHandler } from "./arm/handler.js";
import { providerId } from "./estate/ids.js";
import { createLogAnalyticsHandler, createResourceGraphHandler } from "./kusto/index.js";
import { managedInstanceSqlEndpoint } from "./sql-endpoint.js";
import { isAuthorized } from "./arm/rbac.js";
import { UserQuota } from "./arm/ratelimit.js";
import { PerUserConcurrency } from "./http/concurrency.js";
import { callerScopedGraphStore } from "./arm/graph-scope.js";

/**
 * Starts the local Azure estate: one HTTPS server per service (ARM, Log Analytics) on a loopback port chosen by
 * the OS, with a certificate for localhost/127.0.0.1 from the emulator's own CA, and the plain-HTTP
 * managed-identity endpoint. Everything a client needs to reach it comes back in RunningEmulator.
 */

/** Context handed to the query services and the TDS server when they are mounted. */
export interface ServiceContext {
  estate: Estate;
  authority: TokenAuthority;
  faults: FaultInjector;
  ca: CertificateAuthority;
  host: string;
}

/**
 * The query services (Log Analytics, Resource Graph); by default the KQL engine of emulator/kusto.
 */
export interface QueryServiceFactories {
  /** Serves the Log Analytics query API; receives requests with their full path (`/v1/workspaces/{id}/query`, `/v1/$batch`, `/v1/{resourceId}/query`). */
  logAnalytics?: (store: LogAnalyticsStore) => EmulatorHandler;
  /**
   * Serves POST /providers/Microsoft.ResourceGraph/resources (after ARM authentication and api-version checks). The
   * store it gets yields, during each request, only the rows and subscriptions the caller may read.
   */
  resourceGraph?: (store: ResourceGraphStore) => EmulatorHandler;
}

/** The TDS endpoint (emulator/tds), added at integration: started with the emulator, stopped with it. */
export interface RunningTdsServer {
  host: string;
  port: number;
  /** Logins and T-SQL requests (batches, RPCs, transaction requests) served so far; round trips with a latency fault. */
  counts(): { logins: number; requests: number; roundTrips?: number };
  stop(): Promise<void>;
}
export type TdsServerFactory = (context: ServiceContext) => Promise<RunningTdsServer>;

export interface StartEmulatorOptions {
  fleet?: Fleet | FleetInput;
  fleetFile?: string;
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  now?: () => Date;
  services?: QueryServiceFactories;
  tds?: TdsServerFactory;
  /** Validates each instance's `sql:` state at fleet load; default: emulator/mi's zod schema (miStateSchema). */
  validateSql?: SqlStateValidator;
  /** Reuse a certificate authority (e.g. one whose certificate is already in NODE_EXTRA_CA_CERTS) instead of a new one. */
  ca?: CertificateAuthority;
  /** Fix the X-IDENTITY-HEADER secret instead of generating one. */
  identityHeader?: string;
}

export interface RunningEmulator {
  /** e.g. https://127.0.0.1:40123 — pass as `endpoint` to the ARM clients and ResourceGraphClient. */
  armUrl: string;
  /** e.g. https://127.0.0.1:40124/v1 — pass as LogsQueryClient's `endpoint`. */
  logAnalyticsUrl: string;
  /**
   * IDENTITY_ENDPOINT / IDENTITY_HEADER for ManagedIdentityCredential and DefaultAzureCredential; the same endpoint
   * and secret serve App Service's older protocol as MSI_ENDPOINT / MSI_SECRET (azure-cli 2.45 also needs
   * APPSETTING_WEBSITE_SITE_NAME set to take that path).
   */
  identity: { endpoint: string; header: string };
  caPem: string;
  /** The CA certificate written to a file (NODE_EXTRA_CA_CERTS, the baseline's CA setting). */
  caFile: string;
  ca: CertificateAuthority;
  tenantId: string;
  scanner: FleetIdentity;
  fleet: Fleet;
  estate: Estate;
  authority: TokenAuthority;
  faults: FaultInjector;
  tds?: RunningTdsServer;
  /** Which query services are mounted (a baseline should not ask for Resource Graph when it is not). */
  mounted: { logAnalytics: boolean; resourceGraph: boolean };
  /** Requests received per service since start. */
  requestCounts(): { arm: number; logAnalytics: number; identity: number; tdsLogins: number; tdsRequests: number };
  /** Issues a token as the identity endpoint would (default: the scanner) — for tests and tools. */
  issueToken(resource: string, identity?: FleetIdentity, lifetimeSeconds?: number): string;
  stop(): Promise<void>;
}

function defaultQueryServices(now: () => Date, fleet: Fleet): QueryServiceFactories {
  const limits = fleet.logAnalyticsQueryLimits;
  return {
    logAnalytics: (store) => createLogAnalyticsHandler(store, { now, ...(limits ? { limits: { maxRows: limits.maxRows, maxResponseBytes: limits.maxResponseBytes } } : {}) }),
    resourceGraph: (store) => createResourceGraphHandler(store, { now }),
  };
}

const LOG_ANALYTICS_AUDIENCES = ["https://api.loganalytics.io", "https://api.loganalytics.azure.com"];

function logAnalyticsError(status: number, code: string, message: string, headers: Record<string, string> = {}): EmulatorResponse {
  return { status, headers, json: { error: { message, code, correlationId: randomUUID() } } };
}

/** Log Analytics' 429, from its rate limit or an injected fault. The body's error code is [unverified]. */
function logAnalyticsThrottled(retryAfterSeconds: number, retryAfterMs?: number): EmulatorResponse {
  return logAnalyticsError(429, "ThrottledError", "Too many requests. Please retry after some time.", {
    "retry-after": String(retryAfterSeconds),
    ...(retryAfterMs !== undefined ? { "retry-after-ms": String(retryAfterMs) } : {}),
  });
}

/**
 * Workspace queries need read access to the workspace (resource-centric ones to the resource), as Log Analytics'
 * RBAC check does; unknown workspaces are left to the query handler's own not-found answer.
 */
function logAnalyticsAccess(context: ServiceContext, request: EmulatorRequest, objectId: string): EmulatorResponse | undefined {
  const path = request.url.pathname.replace(/^\/v1/i, "");
  let scope: string | undefined;
  const workspace = /^\/workspaces\/([^/]+)\//i.exec(path);
  if (workspace) scope = context.estate.workspaceByCustomerId(decodeURIComponent(workspace[1]!))?.resourceId;
  else if (/^\/subscriptions\//i.test(path)) scope = path.replace(/\/query$/i, "");
  if (!scope) return undefined;
  const identity = context.estate.identities.find((i) => i.principalId.toLowerCase() === objectId.toLowerCase());
  if (isAuthorized(identity, "Microsoft.OperationalInsights/workspaces/query/read", scope)) return undefined;
  return {
    status: 403,
    json: { error: { message: "The provided credentials have insufficient access to perform the requested operation", code: "InsufficientAccessError", correlationId: randomUUID() } },
  };
}

/** Log Analytics' own authentication, per-identity query rate, faults and the mounted query handler. */
function logAnalyticsFront(context: ServiceContext, inner: EmulatorHandler | undefined, nowMs: () => number): EmulatorHandler {
  const limit = context.estate.fleet.logAnalyticsRateLimit;
  const quota = limit ? new UserQuota(limit.requests, limit.windowSeconds * 1000, nowMs) : undefined;
  const limits = context.estate.fleet.logAnalyticsQueryLimits;
  const concurrency = limits ? new PerUserConcurrency({ concurrent: limits.concurrentQueries, queueLength: limits.queueLength, queueTimeoutMs: limits.queueTimeoutSeconds * 1000 }) : undefined;
  return async (request: EmulatorRequest) => {
    const header = request.headers["authorization"];
    const token = header && /^Bearer\s+(\S+)$/i.exec(header.trim())?.[1];
    if (!token) return logAnalyticsError(401, "AuthorizationRequiredError", "Valid authentication was not provided");
    const check = context.authority.verify(token, LOG_ANALYTICS_AUDIENCES, nowMs());
    if (!check.ok) {
      const inner = check.failure.reason === "expired" ? "TokenExpired" : check.failure.reason === "audience" ? "InvalidAudience" : "SignatureVerificationFailed";
      return {
        status: 403,
        json: { error: { message: "The provided authentication is not valid for this resource", code: "InvalidTokenError", correlationId: randomUUID(), innererror: { code: inner, message: check.failure.message } } },
      };
    }
    const denied = logAnalyticsAccess(context, request, check.claims.oid);
    if (denied) return denied;
    const user = String(check.claims.oid);
    const taken = quota?.take(user);
    if (taken && taken.remaining < 0) return logAnalyticsThrottled(Math.max(1, Math.ceil(taken.resetsAfterMs / 1000)));
    // At most N queries run per identity; the others wait their turn, or are refused once the queue is full or
    // they have waited too long (429, "User query throttling"; the body's code is [unverified]).
    const admission = await concurrency?.acquire(user);
    if (admission && !admission.ok) return logAnalyticsThrottled(1);
    try {
      return await runQuery(request);
    } finally {
      if (admission?.ok) admission.release();
    }
  };

  async function runQuery(request: EmulatorRequest): Promise<EmulatorResponse> {
    const fault = context.faults.forHttp("logAnalytics");
    if (fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
    if (fault.kind === "throttle") return logAnalyticsThrottled(fault.retryAfterSeconds, fault.retryAfterMs);
    if (fault.kind === "server-error") return logAnalyticsError(500, "InternalServerError", "An internal error occurred.");
    if (!inner) return logAnalyticsError(501, "NotImplemented", "The Log Analytics query service is not mounted in this emulator instance.");
    const answer = await inner(request);
    const stall = context.faults.stallAfterHeaders("logAnalytics", request.url.pathname);
    return stall ? { ...answer, stall } : answer;
  }
}

export async function startEmulator(options: StartEmulatorOptions): Promise<RunningEmulator> {
  const validateSql = options.validateSql ?? sqlValidatorFromSchema(miStateSchema);
  const fleet: Fleet = options.fleetFile ? loadFleetFile(options.fleetFile, { validateSql }) : validateFleet(options.fleet, { source: "fleet", validateSql });
  const host = options.host ?? "127.0.0.1";
  const estate = new Estate(fleet, options.now ? { now: options.now } : {});
  const authority = new TokenAuthority({ tenantId: fleet.tenantId });
  const faults = new FaultInjector(fleet.faults);
  const ca = options.ca ?? createCertificateAuthority();
  const leaf = issueServerCertificate(ca, { commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"] });
  const dir = mkdtempSync(join(tmpdir(), "auditguard-emulator-"));
  const caFile = join(dir, "emulator-ca.pem");
  writeFileSync(caFile, ca.certPem);
  const context: ServiceContext = { estate, authority, faults, ca, host };
  const services = options.services ?? defaultQueryServices(options.now ?? (() => new Date()), fleet);
  const nowMs = options.now ? () => options.now!().getTime() : () => Date.now();

  const identities = [fleet.scanner, ...fleet.otherIdentities];
  const firstSub = fleet.subscriptions[0]!.id;
  const identityResourceId = (i: { displayName: string }) =>
    providerId(firstSub, "auditguard", "Microsoft.ManagedIdentity", "userAssignedIdentities", i.displayName.replace(/[^A-Za-z0-9-_]/g, "-"));
  const msi = createMsiHandler({
    authority,
    defaultIdentity: fleet.scanner,
    identities,
    ...(options.identityHeader ? { header: options.identityHeader } : {}),
    now: nowMs,
    identityResourceId,
  });

  const started: RunningHttpServer[] = [];
  let tds: RunningTdsServer | undefined;
  try {
    const arm = await serve(
      createArmHandler({
        estate,
        authority,
        faults,
        ...(fleet.armThrottling ? { throttling: fleet.armThrottling } : {}),
        lro: fleet.lro,
        lroPollsBeforeDone: fleet.lroPollsBeforeDone,
        ...(fleet.armPageSize ? { pageSize: fleet.armPageSize } : {}),
        enforceResourceGraphQuota: fleet.enforceResourceGraphQuota,
        ...(services.resourceGraph ? { resourceGraph: services.resourceGraph(callerScopedGraphStore(estate)) } : {}),
        nowMs,
      }),
      { host, tls: leaf },
    );
    started.push(arm);
    const logAnalytics = await serve(logAnalyticsFront(context, services.logAnalytics?.(estate), nowMs), { host, tls: leaf });
    started.push(logAnalytics);
    const identity = await serve(msi.handler, { host });
    started.push(identity);
    tds = await (options.tds ?? managedInstanceSqlEndpoint)(context);

    return {
      armUrl: arm.url,
      logAnalyticsUrl: `${logAnalytics.url}/v1`,
      identity: { endpoint: `${identity.url}${MSI_PATH}`, header: msi.header },
      caPem: ca.certPem,
      caFile,
      ca,
      tenantId: fleet.tenantId,
      scanner: fleet.scanner,
      fleet,
      estate,
      authority,
      faults,
      ...(tds ? { tds } : {}),
      mounted: { logAnalytics: Boolean(services.logAnalytics), resourceGraph: Boolean(services.resourceGraph) },
      requestCounts: () => {
        const sql = tds?.counts() ?? { logins: 0, requests: 0 };
        return { arm: arm.requestCount(), logAnalytics: logAnalytics.requestCount(), identity: identity.requestCount(), tdsLogins: sql.logins, tdsRequests: sql.requests };
      },
      issueToken: (resource, who = fleet.scanner, lifetimeSeconds = 3600) =>
        authority.issue(resource, { oid: who.principalId, appid: who.clientId, name: who.displayName }, lifetimeSeconds, nowMs()).token,
      stop: async () => {
        await tds?.stop();
        await Promise.all(started.map((s) => s.close()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await tds?.stop();
    await Promise.all(started.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
