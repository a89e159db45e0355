import { randomUUID } from "node:crypto";
import type { EmulatorHandler, EmulatorRequest, EmulatorResponse } from "../http-contracts.js";
import type { TokenAuthority, TokenClaims } from "../identity/tokens.js";
import type { Estate, EstateResource, AuditingPolicyKind, ResourceType } from "../estate/estate.js";
import type { FaultInjector } from "../faults/faults.js";
import type { LroMode } from "./types.js";
import { authenticateArm } from "./auth.js";
import { isAuthorized, canSeeSubscription } from "./rbac.js";
import { TokenBucketThrottle, UserQuota } from "./ratelimit.js";
import type { ArmThrottlingConfig, OperationType } from "./ratelimit.js";
import { OperationStore } from "./lro.js";
import { runAsCaller } from "./graph-scope.js";
import * as E from "./errors.js";
import { auditingPolicyBody, diagnosticSettingBody, resourceBody, subscriptionBody } from "./shapes.js";
import { settingConflict, validateAuditingPut, validateDiagnosticSettingPut } from "./validation.js";
import { API_VERSIONS, checkApiVersion } from "./api-versions.js";

/**
 * The emulated Azure Resource Manager: the list/get/put calls @azure/arm-sql, @azure/arm-synapse and
 * @azure/arm-monitor make for our operations, with ARM's authentication, authorization, api-version checks,
 * throttling headers, 429s and long-running-operation answers, over the estate.
 */
export interface ArmHandlerOptions {
  estate: Estate;
  authority: TokenAuthority;
  faults: FaultInjector;
  /** ARM's token buckets; undefined lifts them (the headers are then not sent). */
  throttling?: ArmThrottlingConfig;
  lro: LroMode;
  lroPollsBeforeDone: number;
  /** Resource Graph's query handler (emulator/loganalytics); POST /providers/Microsoft.ResourceGraph/resources. */
  resourceGraph?: EmulatorHandler;
  nowMs?: () => number;
  /** Items per page of list answers (nextLink paging); unset answers every list in one page. */
  pageSize?: number;
  /** Answer 429 when a user exceeds Resource Graph's quota (otherwise the quota is only reported in headers). */
  enforceResourceGraphQuota: boolean;
  /** Called for every request (tests count requests per route). */
  onRequest?: (request: EmulatorRequest) => void;
}

const TYPE_BY_PATH: Record<string, ResourceType> = {
  "microsoft.sql/managedinstances": "Microsoft.Sql/managedInstances",
  "microsoft.sql/servers": "Microsoft.Sql/servers",
  "microsoft.sql/servers/databases": "Microsoft.Sql/servers/databases",
  "microsoft.synapse/workspaces": "Microsoft.Synapse/workspaces",
  "microsoft.operationalinsights/workspaces": "Microsoft.OperationalInsights/workspaces",
};

const POLICY_KINDS: Record<string, AuditingPolicyKind> = {
  auditingsettings: "auditingSettings",
  extendedauditingsettings: "extendedAuditingSettings",
};

interface Context {
  request: EmulatorRequest;
  claims: TokenClaims;
  apiVersion: string;
  headers: Record<string, string>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createArmHandler(options: ArmHandlerOptions): EmulatorHandler {
  const { estate, authority, faults } = options;
  const nowMs = options.nowMs ?? (() => Date.now());
  const throttle = options.throttling ? new TokenBucketThrottle(options.throttling, nowMs) : undefined;
  const operations = new OperationStore(options.lroPollsBeforeDone, () => new Date(nowMs()));
  const graphQuota = new UserQuota(15, 5000, nowMs);

  const identityOf = (claims: TokenClaims) => estate.identities.find((i) => i.principalId.toLowerCase() === String(claims.oid).toLowerCase());
  const clientIdOf = (claims: TokenClaims) => String(claims.appid ?? claims.oid);

  const authorize = (ctx: Context, action: string, scope: string): EmulatorResponse | undefined =>
    isAuthorized(identityOf(ctx.claims), action, scope) ? undefined : E.authorizationFailed(clientIdOf(ctx.claims), String(ctx.claims.oid), action, scope);

  return async (request) => {
    options.onRequest?.(request);
    const requestId = randomUUID();
    const headers: Record<string, string> = {
      "x-ms-request-id": requestId,
      "x-ms-correlation-request-id": request.headers["x-ms-correlation-request-id"] ?? request.headers["x-ms-client-request-id"] ?? requestId,
      "x-ms-routing-request-id": `WESTEUROPE:${new Date(nowMs()).toISOString().replace(/[-:]/g, "").slice(0, 15)}Z:${requestId}`,
      "cache-control": "no-cache",
    };
    const finish = (response: EmulatorResponse): EmulatorResponse => ({ ...response, headers: { ...headers, ...(response.headers ?? {}) } });

    const auth = authenticateArm(request, authority, nowMs());
    if (!auth.ok) return finish(auth.response);
    const path = request.url.pathname;
    if (/\/\//.test(path)) {
      return finish(E.armError(400, "BadRequest", `The request URI '${path}' has an empty path segment; resource URIs must not start with '/'.`));
    }
    const apiVersion = request.url.searchParams.get("api-version");
    if (!apiVersion) return finish(E.missingApiVersion());
    const segments = path.split("/").slice(1).filter((s, i, all) => s !== "" || i < all.length - 1).map((s) => decodeURIComponent(s));
    const lower = segments.map((s) => s.toLowerCase());
    const subscriptionId = lower[0] === "subscriptions" ? segments[1] : undefined;
    const ctx: Context = { request, claims: auth.claims, apiVersion, headers };

    // Faults and throttling are per subscription, after authentication as in ARM.
    const method = request.method;
    const isGraph = lower[0] === "providers" && lower[1] === "microsoft.resourcegraph";
    const operation: OperationType = method === "DELETE" ? "delete" : method === "GET" || method === "HEAD" || isGraph ? "read" : "write";
    const fault = faults.forHttp("arm", subscriptionId);
    if (fault.latencyMs > 0) await sleep(fault.latencyMs);
    if (fault.kind === "throttle") {
      return finish(E.throttled(subscriptionId ?? "tenant", operation, String(auth.claims.oid), fault.retryAfterSeconds, fault.retryAfterMs));
    }
    if (fault.kind === "server-error") return finish(E.internalServerError(requestId));
    const decision = throttle?.take(subscriptionId, String(auth.claims.oid), operation);
    if (decision) {
      Object.assign(headers, Object.fromEntries(Object.entries(decision.remaining).map(([k, v]) => [k, String(v)])));
      if (!decision.ok) {
        if (decision.scope === "tenant") {
          return finish(E.armError(429, "TenantRequestsThrottled", `Number of '${operation}' requests for tenant '${estate.tenantId}' actor '${String(auth.claims.oid)}' exceeded. Please try again after '${decision.retryAfterSeconds}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling`, { "retry-after": String(decision.retryAfterSeconds) }));
        }
        return finish(E.throttled(subscriptionId!, operation, decision.scope === "global" ? "all principals" : String(auth.claims.oid), decision.retryAfterSeconds));
      }
    }

    const answer = finish(await route(ctx, segments, lower));
    const stall = faults.stallAfterHeaders("arm", path);
    return stall ? { ...answer, stall } : answer;
  };

  async function route(ctx: Context, segments: string[], lower: string[]): Promise<EmulatorResponse> {
    const { request, apiVersion } = ctx;
    const method = request.method;

    // POST /providers/Microsoft.ResourceGraph/resources
    if (lower[0] === "providers" && lower[1] === "microsoft.resourcegraph") {
      if (lower[2] !== "resources" || lower.length !== 3) return E.invalidResourceType(segments.slice(2).join("/"), "Microsoft.ResourceGraph", apiVersion);
      const bad = checkApiVersion(apiVersion, API_VERSIONS.resourceGraph, "resources", "provider");
      if (bad) return bad;
      if (method !== "POST") return E.armError(405, "MethodNotAllowed", `The requested resource does not support http method '${method}'.`);
      if (!options.resourceGraph) {
        // Registration point: emulator/server.ts mounts the Resource Graph handler from emulator/loganalytics.
        return E.armError(501, "NotImplemented", "Resource Graph is not mounted in this emulator instance.");
      }
      // Resource Graph's own per-user quota (15 queries per 5-second window), reported as the service reports it.
      const quota = graphQuota.take(String(ctx.claims.oid));
      const quotaHeaders = { "x-ms-user-quota-remaining": String(Math.max(0, quota.remaining)), "x-ms-user-quota-resets-after": quota.resetsAfter };
      if (options.enforceResourceGraphQuota && quota.remaining < 0) {
        return E.armError(429, "RateLimiting", "Please provide below info when asking for support: timestamp, correlationId. Details: Too many requests. Please retry.", {
          ...quotaHeaders,
          "retry-after": String(Math.max(1, Math.ceil(quota.resetsAfterMs / 1000))),
        });
      }
      const graph = options.resourceGraph;
      const answer = await runAsCaller(identityOf(ctx.claims), () => graph(request));
      return { ...answer, headers: { ...(answer.headers ?? {}), ...quotaHeaders } };
    }

    if (lower[0] !== "subscriptions") return E.armError(404, "NotFound", `No HTTP resource was found that matches the request URI '${request.url.pathname}'.`);

    // GET /subscriptions
    if (lower.length === 1) {
      const bad = checkApiVersion(apiVersion, API_VERSIONS.subscriptions, "subscriptions", "arm");
      if (bad) return bad;
      const identity = identityOf(ctx.claims);
      const value = estate.subscriptions().filter((s) => canSeeSubscription(identity, s.subscriptionId)).map(subscriptionBody);
      return { status: 200, json: { value, count: { type: "Total", value: value.length } } };
    }

    const subscriptionId = segments[1]!;
    const subscription = estate.subscription(subscriptionId);

    // Diagnostic settings on any resource: /{resourceUri}/providers/Microsoft.Insights/diagnosticSettings[/{name}]
    const insights = findInsights(lower);
    if (insights >= 0) {
      const bad = checkApiVersion(apiVersion, API_VERSIONS.diagnosticSettings, "diagnosticSettings", "provider");
      if (bad) return bad;
      if (!subscription) return E.subscriptionNotFound(subscriptionId);
      return diagnosticSettings(ctx, `/${segments.slice(0, insights).join("/")}`, segments.slice(insights + 3));
    }

    // GET /subscriptions/{id}
    if (lower.length === 2) {
      const bad = checkApiVersion(apiVersion, API_VERSIONS.subscriptions, "subscriptions", "arm");
      if (bad) return bad;
      if (!subscription || !canSeeSubscription(identityOf(ctx.claims), subscriptionId)) return E.subscriptionNotFound(subscriptionId);
      return { status: 200, json: subscriptionBody(subscription) };
    }

    // Resource groups: GET /subscriptions/{s}/resourcegroups[/{rg}]
    if (lower[2] === "resourcegroups" && lower.length <= 4) {
      const bad = checkApiVersion(apiVersion, API_VERSIONS.resourceGroups, "resourceGroups", "arm");
      if (bad) return bad;
      if (method !== "GET") return E.armError(405, "MethodNotAllowed", `The emulator does not implement '${method}' on resource groups.`);
      if (!subscription) return E.subscriptionNotFound(subscriptionId);
      const identity = identityOf(ctx.claims);
      const action = "Microsoft.Resources/subscriptions/resourceGroups/read";
      const body = (g: { id: string; name: string; location: string; tags: Record<string, string> }) => ({
        id: g.id,
        name: g.name,
        type: "Microsoft.Resources/resourceGroups",
        location: g.location,
        ...(Object.keys(g.tags).length ? { tags: g.tags } : {}),
        properties: { provisioningState: "Succeeded" },
      });
      if (lower.length === 3) return page(ctx, estate.resourceGroups(subscriptionId).filter((g) => isAuthorized(identity, action, g.id)).map(body));
      const name = segments[3]!;
      const denied = authorize(ctx, action, `/subscriptions/${subscriptionId}/resourceGroups/${name}`);
      if (denied) return denied;
      const group = estate.resourceGroup(subscriptionId, name);
      return group ? { status: 200, json: body(group) } : E.resourceGroupNotFound(name);
    }

    let rest = lower.slice(2);
    let restOriginal = segments.slice(2);
    let resourceGroup: string | undefined;
    if (rest[0] === "resourcegroups") {
      resourceGroup = restOriginal[1];
      rest = rest.slice(2);
      restOriginal = restOriginal.slice(2);
    }
    if (rest[0] !== "providers" || rest.length < 3) return E.armError(404, "NotFound", `No HTTP resource was found that matches the request URI '${request.url.pathname}'.`);
    const namespace = rest[1]!;
    const namespaceOriginal = restOriginal[1]!;
    const versions = namespace === "microsoft.sql" ? API_VERSIONS.sql : namespace === "microsoft.synapse" ? API_VERSIONS.synapse : undefined;
    if (!versions) return E.armError(400, "NoRegisteredProviderFound", `No registered resource provider found for namespace '${namespaceOriginal}'.`);
    const bad = checkApiVersion(apiVersion, versions, restOriginal[2]!, "provider");
    if (bad) return bad;
    if (!subscription) return E.subscriptionNotFound(subscriptionId);

    // LRO status: /subscriptions/{s}/providers/{ns}/locations/{loc}/{kind}/{operationId}
    if (!resourceGroup && rest[2] === "locations" && rest.length === 6) return operationStatus(rest[4]!, restOriginal[5]!);

    const typeSegments = rest.slice(2);
    const originalTypeSegments = restOriginal.slice(2);
    // List: .../providers/{ns}/{type}
    if (typeSegments.length === 1) {
      const type = TYPE_BY_PATH[`${namespace}/${typeSegments[0]}`];
      if (!type || type === "Microsoft.OperationalInsights/workspaces") return E.invalidResourceType(originalTypeSegments[0]!, namespaceOriginal, apiVersion);
      if (method !== "GET") return E.armError(405, "MethodNotAllowed", `The requested resource does not support http method '${method}'.`);
      const scope = resourceGroup ? `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}` : `/subscriptions/${subscriptionId}`;
      const denied = authorize(ctx, `${type}/read`, scope);
      if (denied) return denied;
      if (resourceGroup && !estate.resourceGroup(subscriptionId, resourceGroup)) return E.resourceGroupNotFound(resourceGroup);
      return page(ctx, estate.resourcesOfType(type, subscriptionId, resourceGroup).map(resourceBody));
    }
    if (!resourceGroup) return E.armError(404, "NotFound", `No HTTP resource was found that matches the request URI '${request.url.pathname}'.`);

    // Resource, nested resource (servers/{s}/databases/{d}) and auditing policies under them.
    let typePath = namespace;
    let depth = 0;
    const pairs: [string, string][] = [];
    while (depth + 1 < typeSegments.length && !POLICY_KINDS[typeSegments[depth]!]) {
      pairs.push([originalTypeSegments[depth]!, originalTypeSegments[depth + 1]!]);
      typePath += `/${typeSegments[depth]}`;
      depth += 2;
    }
    const type = TYPE_BY_PATH[typePath];
    if (!type) return E.invalidResourceType(pairs.map(([t]) => t).join("/"), namespaceOriginal, apiVersion);
    const resourceId = `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/${namespaceOriginal}/${pairs.map(([t, n]) => `${t}/${n}`).join("/")}`;
    const tail = typeSegments.slice(depth);
    const policyKind = tail[0] ? POLICY_KINDS[tail[0]] : undefined;
    if (tail.length > 2 || (tail.length > 0 && !policyKind)) return E.invalidResourceType(originalTypeSegments.join("/"), namespaceOriginal, apiVersion);

    const action = policyKind ? `${type}/${policyKind}/${method === "GET" ? "read" : "write"}` : `${type}/${method === "GET" ? "read" : "write"}`;
    const denied = authorize(ctx, action, resourceId);
    if (denied) return denied;
    if (!estate.resourceGroup(subscriptionId, resourceGroup)) return E.resourceGroupNotFound(resourceGroup);
    const resource = estate.resource(resourceId);
    if (!resource) {
      const [t, n] = pairs.at(-1)!;
      return E.resourceNotFound(`${namespaceOriginal}/${pairs.length > 1 ? pairs.map(([x]) => x).join("/") : t}`, n, resourceGroup);
    }
    if (faults.isUnreachable(resource.id)) return E.gatewayTimeout(namespaceOriginal);

    if (!policyKind) {
      if (method !== "GET") return E.armError(405, "MethodNotAllowed", `The emulator does not implement '${method}' on ${type}.`);
      return { status: 200, json: resourceBody(resource) };
    }
    if (type === "Microsoft.Sql/managedInstances" || type === "Microsoft.OperationalInsights/workspaces") {
      return E.invalidResourceType(originalTypeSegments.join("/"), namespaceOriginal, apiVersion);
    }
    return auditingPolicy(ctx, resource, policyKind, tail[1] ? originalTypeSegments[depth + 1] : undefined);
  }

  /** A list answer, split into pages with an absolute nextLink when the fleet sets armPageSize. */
  function page(ctx: Context, items: unknown[]): EmulatorResponse {
    const size = options.pageSize;
    if (!size || items.length <= size) {
      if (!ctx.request.url.searchParams.has("$skiptoken")) return { status: 200, json: { value: items } };
    }
    const skip = Number(ctx.request.url.searchParams.get("$skiptoken") ?? "0");
    if (!Number.isInteger(skip) || skip < 0) return E.armError(400, "InvalidSkipToken", "The skip token is invalid.");
    const end = size ? skip + size : items.length;
    const value = items.slice(skip, end);
    if (end >= items.length) return { status: 200, json: { value } };
    const next = new URL(ctx.request.url.href);
    next.searchParams.set("$skiptoken", String(end));
    return { status: 200, json: { value, nextLink: next.href } };
  }

  function auditingPolicy(ctx: Context, resource: EstateResource, kind: AuditingPolicyKind, name: string | undefined): EmulatorResponse {
    const method = ctx.request.method;
    if (name === undefined) {
      if (method !== "GET") return E.armError(405, "MethodNotAllowed", `The requested resource does not support http method '${method}'.`);
      const props = estate.auditingPolicy(resource.id, kind);
      return { status: 200, json: { value: props ? [auditingPolicyBody(resource, kind, props)] : [] } };
    }
    if (name.toLowerCase() !== "default") {
      return E.armError(400, "InvalidParameterValue", `Invalid value given for parameter blobAuditingPolicyName. Specify a valid parameter value.`);
    }
    if (method === "GET") {
      const props = estate.auditingPolicy(resource.id, kind);
      if (!props) return E.armError(404, "ResourceNotFound", `The requested resource of type '${resource.type}/${kind}' with name 'default' was not found.`);
      return { status: 200, json: auditingPolicyBody(resource, kind, props) };
    }
    if (method !== "PUT") return E.armError(405, "MethodNotAllowed", `The requested resource does not support http method '${method}'.`);
    const serverName = resource.type === "Microsoft.Sql/servers/databases" ? resource.id.split("/")[8]! : resource.name;
    const validated = validateAuditingPut(ctx.request.body, {
      synapse: resource.type === "Microsoft.Synapse/workspaces",
      extended: kind === "extendedAuditingSettings",
      level: resource.type === "Microsoft.Sql/servers/databases" ? "database" : "server",
      storageAccount: (account) => estate.fleet.storageAccounts.find((a) => a.name === account),
      identityMayWrite: (account) => account.blobDataContributors.some((n) => n.toLowerCase() === serverName.toLowerCase()),
    });
    if (!validated.ok) return validated.response;
    const properties = validated.properties;
    // What the policy will be: the other view's fields (the predicate) come from the policy as it stands.
    const current = estate.auditingPolicy(resource.id, "extendedAuditingSettings");
    const merged = kind === "extendedAuditingSettings" ? properties : { ...properties, ...(current?.predicateExpression !== undefined ? { predicateExpression: current.predicateExpression } : {}) };
    const { predicateExpression: _hidden, ...plainView } = merged;
    const body = auditingPolicyBody(resource, kind, (kind === "extendedAuditingSettings" ? merged : plainView));
    const apply = () => estate.setAuditingPolicy(resource.id, kind, properties);
    const requested = ctx.request.headers["x-emulator-lro"];
    // Database-level policy PUTs are not long-running in the API (200/201 only), so they are always answered at once.
    const mode: LroMode =
      resource.type === "Microsoft.Sql/servers/databases" ? "sync" : requested === "async" || requested === "sync" ? requested : resource.lro ?? options.lro;
    if (mode === "sync") {
      apply();
      return { status: 200, json: body };
    }
    // Accepted, not done: GETs show the old policy until the operation reports Succeeded.
    const op = operations.start(body, apply);
    const origin = ctx.request.url.origin;
    const provider = resource.type.split("/")[0]!;
    const location = resource.location.toLowerCase().replace(/\s+/g, "");
    const base = `${origin}/subscriptions/${resource.subscriptionId}/providers/${provider}/locations/${location}`;
    return {
      status: 202,
      headers: {
        "azure-asyncoperation": `${base}/auditingSettingsAzureAsyncOperation/${op.id}?api-version=${ctx.apiVersion}`,
        location: `${base}/auditingSettingsOperationResults/${op.id}?api-version=${ctx.apiVersion}`,
      },
      json: { operation: "UpsertServerBlobAuditingPolicy", startTime: op.startTime.toISOString() },
    };
  }

  function operationStatus(kind: string, id: string): EmulatorResponse {
    const polled = operations.poll(id);
    if (!polled) return E.armError(404, "ResourceNotFound", `The operation '${id}' was not found.`);
    if (kind.endsWith("azureasyncoperation")) {
      return {
        status: 200,
        json: {
          name: polled.op.id,
          status: polled.status,
          startTime: polled.op.startTime.toISOString(),
          ...(polled.op.endTime ? { endTime: polled.op.endTime.toISOString() } : {}),
        },
      };
    }
    if (polled.status === "InProgress") return { status: 202, json: {} };
    return { status: 200, json: polled.op.result };
  }

  function diagnosticSettings(ctx: Context, resourceUri: string, rest: string[]): EmulatorResponse {
    const method = ctx.request.method;
    const name = rest[0];
    const action = `Microsoft.Insights/diagnosticSettings/${method === "GET" ? "read" : method === "DELETE" ? "delete" : "write"}`;
    const denied = authorize(ctx, action, resourceUri);
    if (denied) return denied;
    const parsed = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)/i.exec(resourceUri);
    if (parsed && !estate.resourceGroup(parsed[1]!, parsed[2]!)) return E.resourceGroupNotFound(parsed[2]!);
    const resource = estate.resource(resourceUri);
    if (!resource) {
      const last = resourceUri.split("/").filter(Boolean);
      return E.resourceNotFound(last.slice(-2, -1)[0] ?? "resource", last.at(-1) ?? "", parsed?.[2] ?? "");
    }
    if (faults.isUnreachable(resource.id)) return E.gatewayTimeout("Microsoft.Insights");
    if (name === undefined) {
      if (method !== "GET") return E.armError(405, "MethodNotAllowed", `The requested resource does not support http method '${method}'.`);
      return page(ctx, estate.diagnosticSettings(resourceUri).map((s) => diagnosticSettingBody(s, ctx.apiVersion)));
    }
    if (rest.length > 1) return E.invalidResourceType(`diagnosticSettings/${rest.slice(1).join("/")}`, "Microsoft.Insights", ctx.apiVersion);
    if (method === "GET") {
      const setting = estate.diagnosticSetting(resourceUri, name);
      if (!setting) return E.armError(404, "ResourceNotFound", `The diagnostic setting '${name}' doesn't exist.`);
      return { status: 200, json: diagnosticSettingBody(setting, ctx.apiVersion) };
    }
    if (method === "DELETE") return { status: estate.deleteDiagnosticSetting(resourceUri, name) ? 200 : 204 };
    if (method !== "PUT") return E.armError(405, "MethodNotAllowed", `The requested resource does not support http method '${method}'.`);
    const validated = validateDiagnosticSettingPut(ctx.request.body, resource.type);
    if (!validated.ok) return validated.response;
    const workspaceId = validated.properties.workspaceId;
    if (workspaceId) {
      // ARM's linked-scope check: sending logs to a workspace needs its shared keys (LinkedAuthorizationFailed,
      // as reported in Azure/Azure-Landing-Zones#2806 and JimGBritt/AzurePolicy#17 for exactly this write).
      const linked = "Microsoft.OperationalInsights/workspaces/sharedKeys/action";
      if (!isAuthorized(identityOf(ctx.claims), linked, workspaceId)) {
        return E.linkedAuthorizationFailed(clientIdOf(ctx.claims), String(ctx.claims.oid), action, `${resourceUri}/providers/Microsoft.Insights/diagnosticSettings/${name}`, linked, workspaceId);
      }
      const target = estate.resource(workspaceId);
      if (!target || target.type !== "Microsoft.OperationalInsights/workspaces") {
        // [unverified] Azure Monitor's answer for a workspace that does not exist (ResourceNotFound, azure-cli#8570).
        const ws = /\/resourceGroups\/([^/]+)\/providers\/Microsoft\.OperationalInsights\/workspaces\/([^/]+)/i.exec(workspaceId);
        return E.resourceNotFound("Microsoft.OperationalInsights/workspaces", ws?.[2] ?? workspaceId, ws?.[1] ?? "");
      }
    }
    const conflict = settingConflict(estate.diagnosticSettings(resource.id), name, validated.properties, resource.type);
    if (conflict) return conflict;
    const setting = estate.putDiagnosticSetting(resource.id, name, validated.properties);
    return { status: 200, json: diagnosticSettingBody(setting, ctx.apiVersion) };
  }
}

/** Index of the `providers` segment that starts `/providers/Microsoft.Insights/diagnosticSettings`, or -1. */
function findInsights(lower: string[]): number {
  for (let i = lower.length - 2; i >= 0; i--) {
    if (lower[i] === "providers" && lower[i + 1] === "microsoft.insights" && lower[i + 2] === "diagnosticsettings") return i;
  }
  return -1;
}
