import type { LroMode as FleetLroMode } from "../fleet/schema.js";
export type LroMode = FleetLroMode;
