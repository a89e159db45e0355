import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ManagedIdentityCredential } from "@azure/identity";
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { generateFleet } from "../../emulator/fleet/generate.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import { discoverTargets } from "../../src/scan/run-scan.js";
import { scanTarget } from "../../src/scan/scan-target.js";
import { storeLock } from "../../src/scan/lease.js";
import { ResultsStore } from "../../src/azure/results-store.js";
import type { Target } from "../../src/core/domain.js";
import { startEstate, stopEstate } from "../support/estate.js";

// Two scanners remediate the same estate at once; one of them is slow to read (its read is held until the other
// has finished). Whatever the slow one planned from its stale read, it re-reads and re-plans under the lease: no
// ARM write and no T-SQL statement is made twice, and a change made in between is never overwritten.
let emu: RunningEmulator;
let azurite: RunningAzurite;
let store: ResultsStore;
let targets: Target[];
let drift: Record<string, string>;

before(async () => {
  const generated = generateFleet({ seed: 3, subscriptions: 1, resourceGroupsPerSubscription: 1, managedInstances: 10, sqlServers: 3, synapseWorkspaces: 0, driftRate: 1 });
  drift = generated.drift;
  ({ emu, azurite } = await startEstate({ fleet: generated.fleet }));
  store = await ResultsStore.open({ connectionString: azurite.connectionString }, "Race");
  targets = (await discoverTargets(scanner().env)).targets;
});
after(async () => {
  await stopEstate(emu, azurite);
});

const credential = new ManagedIdentityCredential();

/** A scanner; `hold` keeps the answer to its first read of a path matching `readPath` until the promise settles (a stale read). */
function scanner(hold?: { readPath: RegExp; until: Promise<unknown> }) {
  const writes: string[] = [];
  let held = false;
  const policy: PipelinePolicy = {
    name: "raceSeam",
    sendRequest: async (request, next) => {
      if (request.method === "PUT") writes.push(new URL(request.url).pathname);
      const response = await next(request);
      if (hold && !held && request.method === "GET" && hold.readPath.test(new URL(request.url).pathname)) {
        held = true;
        await hold.until;
      }
      return response;
    },
  };
  const generated = emulatorBaseline(emu, endpointsOf(emu));
  generated.mode = "enforce";
  const env = createScanEnvironment(loadBaselineText(JSON.stringify(generated), "b.json"), { credential, additionalPolicies: [{ policy, position: "perCall" }] });
  return { env, writes, readAnswered: () => held };
}

async function race(target: Target, readPath: RegExp) {
  let release!: () => void;
  const fastDone = new Promise<void>((r) => (release = r));
  const slow = scanner({ readPath, until: fastDone });
  const fast = scanner();
  const slowResult = scanTarget(slow.env, target, { scanId: "slow", lock: storeLock(store, "slow") });
  const fastResult = await scanTarget(fast.env, target, { scanId: "fast", lock: storeLock(store, "fast") });
  release();
  return { fast: { result: fastResult, writes: fast.writes }, slow: { result: await slowResult, writes: slow.writes } };
}

describe("two scanners, one slow to read", () => {
  it("a SQL server: the slow scanner's stale plan is not applied; each ARM write is made once", async () => {
    const target = targets.find((t) => t.kind === "sql-server")!;
    const { fast, slow } = await race(target, /AuditingSettings\/default$/i);
    assert.equal(fast.result.status, "remediated", fast.result.reason);
    assert.ok(fast.writes.length >= 1, "the fast scanner fixed it");
    assert.ok(slow.result.plan.length === 0 && slow.result.findings.some((f) => f.status === "fail"), "the slow one saw drift, then found nothing left to change under the lease");
    assert.deepEqual(slow.writes, [], "no duplicate write");
    assert.equal(slow.result.status, "compliant");
    assert.match(slow.result.reason ?? "", /re-read under the lease found nothing left to change/);
  });

  it("a Managed Instance: neither its diagnostic setting nor its T-SQL is written twice", async () => {
    const name = Object.entries(drift).find(([, d]) => d === "no-diagnostic-setting")?.[0] ?? Object.entries(drift).find(([, d]) => d === "audit-off")![0];
    const target = targets.find((t) => t.name === name)!;
    const before = emu.requestCounts().tdsRequests;
    const { fast, slow } = await race(target, /\/diagnosticSettings$/);
    assert.equal(fast.result.status, "remediated", fast.result.reason);
    assert.deepEqual(slow.writes, [], "no duplicate ARM write");
    assert.deepEqual(slow.result.applied, [], "no T-SQL statement applied a second time");
    assert.ok(emu.requestCounts().tdsRequests > before);
  });

  it("a change made between the slow scanner's read and its lease is kept", async () => {
    const target = targets.filter((t) => t.kind === "sql-server")[1]!;
    let release!: () => void;
    const changedMeanwhile = new Promise<void>((r) => (release = r));
    const slow = scanner({ readPath: /AuditingSettings\/default$/i, until: changedMeanwhile });
    const result = scanTarget(slow.env, target, { scanId: "slow-2", lock: storeLock(store, "slow-2") });
    // Someone fixes the server by hand, with a group of their own, after the scanner's first read was answered.
    for (let i = 0; !slow.readAnswered(); i++) {
      if (i > 3000) throw new Error("the slow scanner never read the auditing policy");
      await new Promise((r) => setTimeout(r, 10));
    }
    emu.estate.setAuditingPolicy(target.id, "auditingSettings", {
      ...emu.estate.auditingPolicy(target.id, "auditingSettings"),
      state: "Enabled",
      isAzureMonitorTargetEnabled: true,
      auditActionsAndGroups: [...slow.env.baseline.sqlServer.auditing.actionGroups, "DATABASE_ROLE_MEMBER_CHANGE_GROUP"],
    });
    release();
    const done = await result;
    assert.ok(!slow.writes.some((w) => /auditingSettings/.test(w)), "the policy was not rewritten from the stale read");
    const groups = (emu.estate.auditingPolicy(target.id, "auditingSettings") as { auditActionsAndGroups?: string[] } | undefined)?.auditActionsAndGroups ?? [];
    assert.ok(groups.includes("DATABASE_ROLE_MEMBER_CHANGE_GROUP"), "the change made meanwhile is kept");
    assert.notEqual(done.status, "error", done.reason);
  });
});
