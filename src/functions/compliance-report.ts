import { app } from "@azure/functions";

app.http("complianceReport", { methods: ["GET"], authLevel: "function", route: "compliance", handler: async (...args) => (await import("../host/handlers.js")).complianceReport(...args) });
