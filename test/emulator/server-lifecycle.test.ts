import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { startEmulator } from "../../emulator/server.js";
import { FleetValidationError } from "../../emulator/fleet/load.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import { rawRequest } from "../../emulator/http/request.js";
import { createCertificateAuthority } from "../../emulator/tls/certificates.js";
import type { RunningTdsServer, ServiceContext } from "../../emulator/server.js";

describe("startEmulator / stop", () => {
  it("an invalid fleet is refused before anything listens", async () => {
    await assert.rejects(startEmulator({ fleet: { tenantId: "x" } as never }), (e: unknown) => e instanceof FleetValidationError && e.issues.length > 1);
  });

  it("serves over HTTPS with its CA, reuses a given CA, starts the TDS slot and frees everything on stop", async () => {
    const ca = createCertificateAuthority();
    let context: ServiceContext | undefined;
    let tdsStopped = false;
    const emu = await startEmulator({
      fleetFile: shippedFleet("test-small.yaml"),
      ca,
      tds: async (ctx): Promise<RunningTdsServer> => {
        context = ctx;
        return { host: "127.0.0.1", port: 1, counts: () => ({ logins: 0, requests: 0 }), stop: async () => void (tdsStopped = true) };
      },
    });
    assert.equal(emu.caPem, ca.certPem);
    assert.ok(context && context.estate === emu.estate && context.ca === ca);
    assert.equal(emu.tds?.port, 1);
    assert.match(emu.armUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(emu.logAnalyticsUrl, /^https:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.match(emu.identity.endpoint, /^http:\/\/127\.0\.0\.1:\d+\/msi\/token$/);
    const ok = await rawRequest(`${emu.armUrl}/subscriptions?api-version=2022-12-01`, { headers: { authorization: `Bearer ${emu.issueToken("https://management.azure.com/")}` }, ca: emu.caPem });
    assert.equal(ok.status, 200);
    // Without the emulator's CA the certificate is not trusted: verification stays on.
    await assert.rejects(rawRequest(`${emu.armUrl}/subscriptions?api-version=2022-12-01`), /self.signed|unable to verify|certificate/i);
    await emu.stop();
    assert.ok(tdsStopped);
    assert.ok(!existsSync(emu.caFile));
    await assert.rejects(rawRequest(`${emu.armUrl}/subscriptions?api-version=2022-12-01`, { ca: emu.caPem }));
  });
});
