// The Functions instance that runs the app's timer functions, for the benchmark: scheduledScan when told (the hourly
// timer firing), and the activity sweep (activitySweep) on each sweep period, each through @azure/functions' own
// InvocationContext, with services built from the app settings in the environment.
import functions from "@azure/functions";
import type { Timer } from "@azure/functions";
import { activitySweep, scheduledScan } from "../src/host/handlers.js";
import { answer, commands, Footprint } from "./child.js";
import { serviceStats } from "./service-stats.js";

const { InvocationContext } = functions;
const footprint = new Footprint();
const timer: Timer = { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: "", next: "", lastUpdated: "" } };
const errors: string[] = [];

function context(functionName: string, lines: string[]) {
  return new InvocationContext({
    functionName,
    logHandler: (level, ...args) => {
      const line = args.join(" ");
      lines.push(line);
      if (level === "error") errors.push(`${functionName}: ${line}`);
    },
  });
}

answer({ ready: true });
let invoked = false;
for await (const command of commands<{ cmd: "scan" | "sweep" }>()) {
  if (!invoked) footprint.resetCpu();
  invoked = true;
  const started = performance.now();
  const lines: string[] = [];
  try {
    if (command.cmd === "scan") {
      await scheduledScan(timer, context("scheduledScan", lines));
      const queued = lines.map((l) => /^scan (\S+): queued (\d+) target/.exec(l)).find(Boolean);
      answer({ scanId: queued?.[1], queued: Number(queued?.[2] ?? 0), ms: performance.now() - started });
    } else {
      await activitySweep(timer, context("activitySweep", lines));
      answer({ ran: true, ms: performance.now() - started });
    }
  } catch (error) {
    answer({ error: (error as Error).message, ms: performance.now() - started });
  }
}
answer({ errors, ...(invoked ? await serviceStats() : {}), ...footprint.report() });
process.exit(0);
