import { ManagedIdentityCredential } from "@azure/identity";
import type { RunningEmulator } from "../../emulator/server.js";
import { AzureClients } from "../../src/azure/clients.js";
import { ArmThrottle } from "../../src/azure/arm-throttle.js";

/** The scanner's SDK clients pointed at an emulator, authenticated by the real managed-identity credential. */
export function clientsFor(emu: RunningEmulator): AzureClients {
  // ManagedIdentityCredential reads these when it is constructed.
  process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
  process.env.IDENTITY_HEADER = emu.identity.header;
  return new AzureClients({
    credential: new ManagedIdentityCredential(),
    endpoints: { resourceManager: emu.armUrl, resourceManagerAudience: "https://management.azure.com", logAnalytics: emu.logAnalyticsUrl, logAnalyticsAudience: "https://api.loganalytics.io" },
    caPem: emu.caPem,
    throttle: new ArmThrottle(),
  });
}
