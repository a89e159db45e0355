import { app } from "@azure/functions";

// Imported first by index.ts: the app's options must be set before any function is registered.
// Responses stream (the compliance report of a large estate is written page by page, never held whole).
app.setup({ enableHttpStream: true });
// The settings and the baseline are checked when the worker starts; a problem is logged by name at once.
app.hook.appStart(async () => {
  (await import("../host/startup.js")).checkConfiguration();
});
