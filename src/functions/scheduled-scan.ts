import { app } from "@azure/functions";

app.timer("scheduledScan", { schedule: "%AUDITGUARD_SCHEDULE%", handler: async (...args) => (await import("../host/handlers.js")).scheduledScan(...args) });
