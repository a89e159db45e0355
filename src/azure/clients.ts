import type { TokenCredential } from "@azure/core-auth";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import { SqlManagementClient } from "@azure/arm-sql";
import { SynapseManagementClient } from "@azure/arm-synapse";
import { MonitorClient } from "@azure/arm-monitor";
import { ResourceGraphClient } from "@azure/arm-resourcegraph";
import { LogsQueryClient } from "@azure/monitor-query-logs";
import type { ArmThrottle } from "./arm-throttle.js";
import type { LogsRateLimit } from "./logs-rate-limit.js";

/**
 * Where Azure is and how to trust it. Production leaves everything at the public-cloud defaults; the emulator
 * (and sovereign clouds) override endpoints. Token scopes stay the production audiences even when an endpoint
 * is overridden: arm-sql would otherwise derive `<endpoint>/.default` (@azure/arm-sql 10, sqlManagementClient.ts: the default scope is `${endpoint}/.default` once `endpoint` is set).
 */
export interface AzureEndpoints {
  resourceManager: string;
  resourceManagerAudience: string;
  /** Includes the /v1 path segment: LogsQueryClient uses it verbatim as its base URL. */
  logAnalytics: string;
  logAnalyticsAudience: string;
}

export const PUBLIC_CLOUD: AzureEndpoints = {
  resourceManager: "https://management.azure.com",
  resourceManagerAudience: "https://management.azure.com",
  logAnalytics: "https://api.loganalytics.io/v1",
  logAnalyticsAudience: "https://api.loganalytics.io",
};

export interface AzureContext {
  credential: TokenCredential;
  endpoints: AzureEndpoints;
  /** Extra CA certificates to trust (PEM), e.g. the emulator's; replaces the default list for these clients. */
  caPem?: string;
  throttle: ArmThrottle;
  /** Keeps this identity's Log Analytics queries inside the service's per-identity rate; none: unpaced. */
  logsRateLimit?: LogsRateLimit;
  /** More pipeline policies for every client (ARM and Log Analytics), e.g. telemetry or a test's fault seam. */
  additionalPolicies?: Array<{ policy: PipelinePolicy; position: "perCall" | "perRetry" }>;
}

const scope = (audience: string) => `${audience.replace(/\/+$/, "")}/.default`;

/**
 * The SDK clients of one scan, built once and shared by every target so they share connections, tokens and the
 * per-subscription throttle. Clients that are per subscription are cached by subscription.
 */
export class AzureClients {
  private readonly sqlClients = new Map<string, SqlManagementClient>();
  private readonly synapseClients = new Map<string, SynapseManagementClient>();
  private readonly monitorClients = new Map<string, MonitorClient>();
  private graphClient: ResourceGraphClient | undefined;
  private logsClient: LogsQueryClient | undefined;

  constructor(readonly context: AzureContext) {}

  private armPolicies(): Array<{ policy: PipelinePolicy; position: "perCall" | "perRetry" }> {
    return [{ policy: this.context.throttle.policy(), position: "perRetry" }, ...(this.context.additionalPolicies ?? [])];
  }

  private tls() {
    return this.context.caPem ? { tlsOptions: { ca: this.context.caPem } } : {};
  }

  /** Options every ARM client shares; the SDK generations differ only in how they take the token scope. */
  private armOptions() {
    return { endpoint: this.context.endpoints.resourceManager, additionalPolicies: this.armPolicies(), ...this.tls() };
  }

  private static cached<T>(cache: Map<string, T>, key: string, make: () => T): T {
    let client = cache.get(key);
    if (!client) {
      client = make();
      cache.set(key, client);
    }
    return client;
  }

  sql(subscriptionId: string): SqlManagementClient {
    return AzureClients.cached(this.sqlClients, subscriptionId, () => new SqlManagementClient(this.context.credential, subscriptionId, { ...this.armOptions(), credentialScopes: [scope(this.context.endpoints.resourceManagerAudience)] }));
  }

  synapse(subscriptionId: string): SynapseManagementClient {
    return AzureClients.cached(this.synapseClients, subscriptionId, () => new SynapseManagementClient(this.context.credential, subscriptionId, { ...this.armOptions(), credentialScopes: [scope(this.context.endpoints.resourceManagerAudience)] }));
  }

  monitor(subscriptionId: string): MonitorClient {
    return AzureClients.cached(this.monitorClients, subscriptionId, () => new MonitorClient(this.context.credential, subscriptionId, { ...this.armOptions(), credentials: { scopes: [scope(this.context.endpoints.resourceManagerAudience)] } }));
  }

  resourceGraph(): ResourceGraphClient {
    this.graphClient ??= new ResourceGraphClient(this.context.credential, { ...this.armOptions(), credentials: { scopes: [scope(this.context.endpoints.resourceManagerAudience)] } });
    return this.graphClient;
  }

  logs(): LogsQueryClient {
    this.logsClient ??= new LogsQueryClient(this.context.credential, {
      endpoint: this.context.endpoints.logAnalytics,
      credentials: { scopes: [scope(this.context.endpoints.logAnalyticsAudience)] },
      additionalPolicies: [...(this.context.logsRateLimit ? [{ policy: this.context.logsRateLimit.policy(), position: "perRetry" as const }] : []), ...(this.context.additionalPolicies ?? [])],
      ...this.tls(),
    });
    return this.logsClient;
  }
}
