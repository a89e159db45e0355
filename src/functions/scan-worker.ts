import { app } from "@azure/functions";
import { SCAN_QUEUE } from "../host/queue-names.js";

app.storageQueue("scanWorker", { queueName: SCAN_QUEUE, connection: "AzureWebJobsStorage", handler: async (...args) => (await import("../host/handlers.js")).scanWorker(...args) });
