// The Functions app's entry: registering every function is all loading it does; each handler loads the scanner
// (Azure SDKs, tedious) on its first invocation, which keeps the host's cold start close to @azure/functions alone.
import "./setup.js";
import "./scheduled-scan.js";
import "./activity-sweep.js";
import "./scan-worker.js";
import "./scan-poison.js";
import "./compliance-report.js";
import "./start-scan.js";
import "./scan-status.js";
