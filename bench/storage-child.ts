// Azurite behind the storage pacing proxy (Table and Queue storage's scalability targets), in its own process.
// It answers the connection string the Functions app and the CLI get (the proxy's) and Azurite's own (for the
// bench's set-up, outside the path's counts), then `stats` on request, and its final stats when its stdin closes.
import { startAzurite } from "../emulator/storage/azurite.js";
import { startPacingProxy } from "../emulator/storage/pacing-proxy.js";
import { answer, commands, Footprint } from "./child.js";

const footprint = new Footprint();
const azurite = await startAzurite();
const proxy = await startPacingProxy(azurite);
answer({ connectionString: proxy.connectionString, direct: azurite.connectionString });
footprint.resetCpu();
for await (const _command of commands()) answer({ stats: proxy.stats(), ...footprint.report() });
answer({ stats: proxy.stats(), ...footprint.report() });
await proxy.stop();
await azurite.stop();
process.exit(0);
