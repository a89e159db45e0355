import { app } from "@azure/functions";
import { SCAN_POISON_QUEUE } from "../host/queue-names.js";

app.storageQueue("scanPoison", { queueName: SCAN_POISON_QUEUE, connection: "AzureWebJobsStorage", handler: async (...args) => (await import("../host/handlers.js")).scanPoison(...args) });
