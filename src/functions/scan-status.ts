import { app } from "@azure/functions";

app.http("scanStatus", { methods: ["GET"], authLevel: "function", route: "scans/{scanId}", handler: async (...args) => (await import("../host/handlers.js")).scanStatus(...args) });
