// The emulator in its own process for the benchmark, so its work does not share the scanner's event loop:
// reads fleet options (JSON) from argv, prints its endpoints as one JSON line, stops when stdin closes.
import { startEmulator } from "../emulator/server.js";
import { generateFleet } from "../emulator/fleet/generate.js";
import type { GenerateFleetOptions } from "../emulator/fleet/generate.js";

const options = JSON.parse(process.argv[2] ?? "{}") as GenerateFleetOptions & { liftLogAnalyticsRateLimit?: boolean };
// The benchmark measures the scanner, not the services' quotas: every limit the emulator enforces is lifted.
const { fleet } = generateFleet({ ...options, liftServiceLimits: options.liftServiceLimits ?? options.liftLogAnalyticsRateLimit ?? false });
const emulator = await startEmulator({ fleet });
process.stdout.write(
  `${JSON.stringify({ armUrl: emulator.armUrl, logAnalyticsUrl: emulator.logAnalyticsUrl, identity: emulator.identity, caPem: emulator.caPem, caFile: emulator.caFile, tenantId: emulator.tenantId, scanner: emulator.scanner, ...(emulator.tds ? { sql: { host: emulator.tds.host, port: emulator.tds.port } } : {}) })}\n`,
);
const ready = process.cpuUsage();
process.stdin.resume();
process.stdin.on("end", () => {
  const cpu = process.cpuUsage(ready);
  process.stdout.write(`${JSON.stringify({ requests: emulator.requestCounts(), cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
  void emulator.stop().then(() => process.exit(0));
});
