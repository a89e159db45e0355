import { app } from "@azure/functions";

app.timer("activitySweep", { schedule: "%AUDITGUARD_SWEEP_SCHEDULE%", handler: async (...args) => (await import("../host/handlers.js")).activitySweep(...args) });
