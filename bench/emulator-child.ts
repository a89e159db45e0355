// The emulator in its own process for the benchmark, so its work does not share the scanner's event loop. Its
// argument is the estate (generateFleet's options and fleet keys over them); it answers its endpoints, then `counts`
// with what it served so far, and its final counts when its stdin closes.
import { startEmulator } from "../emulator/server.js";
import { generateFleet } from "../emulator/fleet/generate.js";
import { answer, childArgument, commands, Footprint } from "./child.js";
import type { EstateSpec } from "./estate.js";

const footprint = new Footprint();
const spec = childArgument<EstateSpec>();
const { fleet } = generateFleet(spec.generate);
const emulator = await startEmulator({ fleet: { ...fleet, ...spec.overrides } });
const counts = () => ({ ...emulator.requestCounts(), tdsRoundTrips: emulator.tds?.counts().roundTrips ?? 0 });
answer({
  armUrl: emulator.armUrl,
  logAnalyticsUrl: emulator.logAnalyticsUrl,
  identity: emulator.identity,
  caFile: emulator.caFile,
  scanner: { displayName: emulator.scanner.displayName },
  ...(emulator.tds ? { sql: { host: emulator.tds.host, port: emulator.tds.port } } : {}),
});
footprint.resetCpu();
for await (const _command of commands()) answer({ counts: counts(), ...footprint.report() });
answer({ counts: counts(), ...footprint.report() });
await emulator.stop();
process.exit(0);
