import { app } from "@azure/functions";

app.http("startScan", { methods: ["POST"], authLevel: "admin", route: "scans", handler: async (...args) => (await import("../host/handlers.js")).startScan(...args) });
