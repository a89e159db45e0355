export { createLogAnalyticsHandler } from "./log-analytics-api.js";
export { createResourceGraphHandler } from "./resource-graph-api.js";
