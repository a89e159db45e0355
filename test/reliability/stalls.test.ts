import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ManagedIdentityCredential } from "@azure/identity";
import { Connection, Request } from "tedious";
import { startEmulator } from "../../emulator/server.js";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { generateFleet } from "../../emulator/fleet/generate.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import { discoverTargets, runScan } from "../../src/scan/run-scan.js";
import { scanTarget } from "../../src/scan/scan-target.js";
import { inlineActivitySource } from "../../src/scan/activity-sweep.js";
import { invocationBudget } from "../../src/host/services.js";
import { parseFunctionTimeout } from "../../src/host/settings.js";
import { APPLOCK_RESOURCE } from "../../src/azure/sql-audit.js";

// Whatever the network does, a target ends within its budget (scan.targetTimeoutSeconds) with a status that names
// the call that stalled, and a scan ends by its deadline. The emulator stalls answers after their headers (ARM, Log
// Analytics), a Managed Instance after its login, and another session holds the remediation lock. Nothing here
// measures time: each test only needs the scan to come back (the test timeout is a guard against a hang, not an
// expectation) and checks what it says.
// One emulator (its tokens are cached for the process), each target with its own fault.
let emu: RunningEmulator;
let drift: Record<string, string>;
let laServer = "";
let armServer = "";
let stalledMi = "";
before(async () => {
  const generated = generateFleet({ seed: 7, subscriptions: 1, resourceGroupsPerSubscription: 1, managedInstances: 8, sqlServers: 6, synapseWorkspaces: 0, driftRate: 0.5 });
  drift = generated.drift;
  // Faults on compliant targets, so the only thing wrong with them is the stall.
  const servers = generated.fleet.subscriptions.flatMap((s) => s.resourceGroups!.flatMap((g) => g.sqlServers ?? []));
  const [la, arm] = servers.filter((s) => (s.auditingSettings as { state?: string } | undefined)?.state === "Enabled").map((s) => s.name);
  assert.ok(la && arm, "the generated fleet has two servers with auditing enabled");
  [laServer, armServer] = [la, arm];
  stalledMi = Object.entries(drift).find(([, d]) => d === "compliant")![0];
  generated.fleet.faults = {
    stallAfterLogin: [{ name: stalledMi, answeredRequests: 1 }],
    stallAfterHeaders: [
      // Every read of the security workspace's audit tables stalls.
      { service: "logAnalytics", path: "/workspaces/law-security/query$" },
      { service: "arm", path: `/${armServer}/databases/master/providers/microsoft\\.insights/diagnosticSettings$` },
    ],
  };
  emu = await startEmulator({ fleet: generated.fleet });
  process.env.IDENTITY_ENDPOINT = emu.identity.endpoint;
  process.env.IDENTITY_HEADER = emu.identity.header;
});
after(() => emu?.stop());

const credential = () => new ManagedIdentityCredential();
let sharedCredential: ManagedIdentityCredential | undefined;

async function environment(options: { targetTimeoutSeconds: number; mode?: "plan" | "enforce" }) {
  const generated = emulatorBaseline(emu, endpointsOf(emu));
  generated.mode = options.mode ?? "plan";
  generated.scan = { targetTimeoutSeconds: options.targetTimeoutSeconds, concurrency: 4 };
  sharedCredential ??= credential();
  const env = createScanEnvironment(loadBaselineText(JSON.stringify(generated), "b.json"), { credential: sharedCredential });
  const { targets } = await discoverTargets(env);
  return { env, target: (name: string) => targets.find((t) => t.name === name)!, targets };
}

describe("a stalled call ends the target with a Timeout that names it", { timeout: 120_000 }, () => {
  it("a Log Analytics answer that never finishes (LogsQueryClient ignores abort signals)", async () => {
    const { env, target } = await environment({ targetTimeoutSeconds: 2 });
    // The run's own read of the workspace (as the CLI makes one) stalls; the target says which call and why.
    const result = await scanTarget({ ...env, activity: inlineActivitySource(env) }, target(laServer), { scanId: "stall-la" });
    assert.equal(result.status, "error");
    // The workspace read and the target share the same budget length: whichever gives up first names itself.
    assert.match(result.reason ?? "", /could not read audit activity from Log Analytics: (ActivityNotRead: workspace \S+law-security could not be read: )?Timeout: (querying workspace \S+ for audit records|reading its audit activity) \(Log Analytics.*\) did not answer within the target's budget of 2 s/);
  });

  it("an ARM answer that stalls after its headers", async () => {
    const { env, target } = await environment({ targetTimeoutSeconds: 2 });
    const result = await scanTarget(env, target(armServer), { scanId: "stall-arm" });
    assert.equal(result.status, "error");
    assert.match(result.reason ?? "", /Timeout: reading the diagnostic settings \(ARM\) did not answer within the target's budget of 2 s/);
  });

  it("a Managed Instance that answers the login and then nothing", async () => {
    const { env, target } = await environment({ targetTimeoutSeconds: 2 });
    const result = await scanTarget(env, target(stalledMi), { scanId: "stall-login" });
    assert.equal(result.status, "error");
    assert.match(result.reason ?? "", /Timeout: reading the server audits \(T-SQL\) did not answer within the target's budget of 2 s/);
  });

  it("the remediation lock held by another session: the wait ends inside the budget and says so", async () => {
    const { env, target } = await environment({ targetTimeoutSeconds: 3, mode: "enforce" });
    const name = Object.entries(drift).find(([n, d]) => n !== stalledMi && ["audit-missing", "audit-off", "spec-missing-group", "spec-off"].includes(d))![0];
    const holder = await holdAppLock(emu, target(name).fullyQualifiedDomainName!);
    try {
      const result = await scanTarget(env, target(name), { scanId: "lock-held" });
      assert.equal(result.applied.length, 0, "nothing was changed while another session held the lock");
      assert.equal(result.status, "noncompliant");
      assert.match(result.reason ?? "", /remediation failed at .*(waiting for the instance's remediation lock \(sp_getapplock\) did not answer|could not take the remediation lock)/);
    } finally {
      holder.close();
    }
  });
});

describe("a scan ends by its deadline, and a worker by its invocation's", { timeout: 120_000 }, () => {
  it("targets whose answers stall end when the scan's deadline comes, each saying it was stopped", async () => {
    const { env } = await environment({ targetTimeoutSeconds: 600 });
    const summary = await runScan(env, { trigger: "cli", deadline: Date.now() + 3_000 });
    const stalled = summary.results.filter((r) => [laServer, armServer, stalledMi].includes(r.target.name));
    assert.ok(stalled.length + summary.notScanned.length >= 3, "every stalled target is accounted for");
    for (const r of stalled) assert.match(r.reason ?? "", /Cancelled: .*scan deadline reached/, `${r.target.name}: ${r.reason}`);
  });

  it("the worker's budget comes from host.json's functionTimeout, less a margin to store what it found", () => {
    assert.equal(parseFunctionTimeout("00:10:00"), 600_000);
    assert.equal(parseFunctionTimeout("1.02:00:00"), 26 * 3_600_000);
    assert.throws(() => parseFunctionTimeout("10 minutes"), /not hh:mm:ss/);
    assert.equal(invocationBudget(600_000), 540_000);
    assert.ok(invocationBudget(20_000) >= 10_000);
  });
});

/** Another session takes the instance's remediation lock (as a second tool or an operator might) and holds it. */
async function holdAppLock(emu: RunningEmulator, serverName: string): Promise<Connection> {
  const connection = new Connection({
    server: emu.tds!.host,
    authentication: { type: "azure-active-directory-access-token", options: { token: emu.issueToken("https://database.windows.net/") } },
    options: { port: emu.tds!.port, encrypt: "strict", serverName, trustServerCertificate: false, cryptoCredentialsDetails: { ca: [emu.caPem] } },
  });
  connection.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => connection.connect((e) => (e ? reject(e) : resolve())));
  await new Promise<void>((resolve, reject) => {
    const request = new Request(`DECLARE @r int; EXEC @r = sp_getapplock @Resource = N'${APPLOCK_RESOURCE}', @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = 0; IF @r < 0 THROW 51000, N'lock not taken', 1;`, (e) => (e ? reject(e) : resolve()));
    connection.execSqlBatch(request);
  });
  return connection;
}
