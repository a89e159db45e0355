import { mulberry32, normal, streamSeed } from "./prng.js";
import type { Random } from "./prng.js";
import type { FleetFaults, FaultService, LatencyDistribution } from "../fleet/schema.js";

/**
 * Fault decisions for one fleet, drawn from seeded streams so the same fleet and the same sequence of requests
 * give the same faults every run. Each service (and each TDS server) has its own stream, so adding requests to
 * one does not shift the faults of another.
 */

/** What a request to ARM or Log Analytics should suffer before (or instead of) being handled. */
export type HttpFault =
  | { kind: "none"; latencyMs: number }
  | { kind: "throttle"; latencyMs: number; retryAfterSeconds: number; retryAfterMs?: number }
  | { kind: "server-error"; latencyMs: number };

/** The per-server decisions the TDS server asks for (emulator/tds calls these at connect and login). */
export interface TdsFaults {
  /** The instance is listed in `unreachable`: refuse the TCP connection. */
  unreachable(): boolean;
  /** The instance is listed in `hanging`: accept and never answer. */
  hang(): boolean;
  /** Drop this connection (decided once per connection). */
  dropConnection(): boolean;
  /** Refuse this login (decided once per login attempt). */
  refuseLogin(): boolean;
  /**
   * The instance is listed in `stallAfterLogin`: how many requests of each connection it answers after the login
   * before it stops answering (undefined when it does not stall).
   */
  stallAfterLogin(): number | undefined;
  /** Delay before answering a request on this server. */
  latencyMs(): number;
}

/** How an answer whose headers went out should send its body: after `bodyDelayMs`, or never. */
export interface BodyStall {
  bodyDelayMs?: number;
}

export function sampleLatency(distribution: LatencyDistribution | undefined, random: Random): number {
  if (!distribution) return 0;
  switch (distribution.kind) {
    case "fixed":
      return distribution.ms;
    case "uniform":
      return distribution.minMs + random() * (distribution.maxMs - distribution.minMs);
    case "lognormal":
      return distribution.medianMs * Math.exp(distribution.sigma * normal(random));
  }
}

export class FaultInjector {
  private readonly streams = new Map<string, Random>();
  private readonly counters = new Map<string, number>();
  private readonly unreachable: Set<string>;
  private readonly hanging: Set<string>;
  private readonly stallingAfterLogin: Map<string, number>;
  private readonly stalls: Array<{ service: "arm" | "logAnalytics"; path?: RegExp; rate: number; bodyDelayMs?: number }>;

  constructor(readonly config: FleetFaults) {
    this.unreachable = new Set(config.unreachable.map((n) => n.toLowerCase()));
    this.hanging = new Set(config.hanging.map((n) => n.toLowerCase()));
    this.stallingAfterLogin = new Map(
      config.stallAfterLogin.map((entry) => (typeof entry === "string" ? [entry.toLowerCase(), 0] : [entry.name.toLowerCase(), entry.answeredRequests])),
    );
    this.stalls = config.stallAfterHeaders.map((s) => ({
      service: s.service,
      rate: s.rate,
      ...(s.path !== undefined ? { path: new RegExp(s.path, "i") } : {}),
      ...(s.bodyDelayMs !== undefined ? { bodyDelayMs: s.bodyDelayMs } : {}),
    }));
  }

  /**
   * Whether the answer to a request for `path` should stall after its headers; the first matching rule decides,
   * drawn from the service's own seeded stream (only requests that match a rule draw from it).
   */
  stallAfterHeaders(service: "arm" | "logAnalytics", path: string): BodyStall | undefined {
    const rule = this.stalls.find((s) => s.service === service && (!s.path || s.path.test(path)));
    if (!rule) return undefined;
    if (rule.rate < 1 && this.stream(`stall:${service}`)() >= rule.rate) return undefined;
    return rule.bodyDelayMs !== undefined ? { bodyDelayMs: rule.bodyDelayMs } : {};
  }

  private stream(name: string): Random {
    let random = this.streams.get(name);
    if (!random) {
      random = mulberry32(streamSeed(this.config.seed, name));
      this.streams.set(name, random);
    }
    return random;
  }

  private count(key: string): number {
    const next = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, next);
    return next;
  }

  latencyMs(service: FaultService, key = ""): number {
    return sampleLatency(this.config.latency[service], this.stream(`latency:${service}:${key}`));
  }

  /** Whether a resource (by name, or an ARM id equal to or under a listed id) is unreachable. */
  isUnreachable(nameOrId: string): boolean {
    const lower = nameOrId.toLowerCase();
    if (this.unreachable.has(lower)) return true;
    const lastName = lower.split("/").filter(Boolean).pop();
    for (const entry of this.unreachable) {
      if (entry.startsWith("/")) {
        if (lower === entry || lower.startsWith(`${entry}/`)) return true;
      } else if (lastName === entry || lower.includes(`/${entry}/`)) {
        return true;
      }
    }
    return false;
  }

  isHanging(name: string): boolean {
    return this.hanging.has(name.toLowerCase());
  }

  /**
   * The fault for the next request to `service` (`subscriptionId` when the request is scoped to one). Bursts
   * are counted per service and per subscription so a burst in one subscription leaves the others alone.
   */
  forHttp(service: "arm" | "logAnalytics", subscriptionId?: string): HttpFault {
    const latencyMs = this.latencyMs(service);
    const serviceCount = this.count(`req:${service}`);
    const subCount = subscriptionId ? this.count(`req:${service}:${subscriptionId.toLowerCase()}`) : 0;
    for (const burst of this.config.throttleBursts) {
      if (burst.service !== service) continue;
      if (burst.subscriptionId && burst.subscriptionId.toLowerCase() !== subscriptionId?.toLowerCase()) continue;
      const n = burst.subscriptionId ? subCount : serviceCount;
      if (n >= burst.startAtRequest && n < burst.startAtRequest + burst.requests) {
        return {
          kind: "throttle",
          latencyMs,
          retryAfterSeconds: burst.retryAfterSeconds,
          ...(burst.retryAfterMs !== undefined ? { retryAfterMs: burst.retryAfterMs } : {}),
        };
      }
    }
    const rate = this.config.errorRate[service] ?? 0;
    if (rate > 0 && this.stream(`error:${service}`)() < rate) return { kind: "server-error", latencyMs };
    return { kind: "none", latencyMs };
  }

  /** The decisions for one Managed Instance's TDS endpoint, by its name or FQDN (first DNS label). */
  forTds(serverName: string): TdsFaults {
    const name = serverName.toLowerCase().split(".")[0] ?? serverName.toLowerCase();
    const tds = this.config.tds;
    const drop = this.stream(`tds-drop:${name}`);
    const refuse = this.stream(`tds-refuse:${name}`);
    return {
      unreachable: () => this.isUnreachable(name),
      hang: () => this.isHanging(name),
      stallAfterLogin: () => this.stallingAfterLogin.get(name),
      dropConnection: () => tds.dropConnectionRate > 0 && drop() < tds.dropConnectionRate,
      refuseLogin: () => tds.refuseLoginRate > 0 && refuse() < tds.refuseLoginRate,
      latencyMs: () => this.latencyMs("tds", name),
    };
  }
}
