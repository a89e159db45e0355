import type { LroMode as FleetLroMode } from "../fleet/schema.js";
import type { RateLimitConfig } from "./ratelimit.js";

export type LroMode = FleetLroMode;
export type RateLimitsConfig = RateLimitConfig;
