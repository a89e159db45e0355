import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { SqlManagementClient } from "@azure/arm-sql";
import { ManagedIdentityCredential } from "@azure/identity";
import { runEmulator } from "../../emulator/cli.js";
import type { RunningEmulatorCli } from "../../emulator/cli.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import { rawRequest } from "../../emulator/http/request.js";
import { parseBaseline } from "../../src/core/policy/load.js";

// The emulator as the `auditguard emulator` command runs it: the demo fleet, printed endpoints, files written.
const DEMO_PROD = "3a1f5b2c-7d8e-4f90-a1b2-c3d4e5f60718";
let dir: string;
let run: RunningEmulatorCli;
const lines: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "auditguard-cli-test-"));
  run = await runEmulator({
    fleetFile: shippedFleet("demo.yaml"),
    writeEndpoints: join(dir, "endpoints.json"),
    baselineOut: join(dir, "baseline.yaml"),
    print: (line) => lines.push(line),
  });
});

after(async () => {
  await run?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("runEmulator", () => {
  it("prints the endpoints, the CA path and the environment, never the identity secret", () => {
    const out = lines.join("\n");
    assert.ok(out.includes(run.endpoints.armUrl));
    assert.ok(out.includes(`${run.endpoints.logAnalyticsUrl}`));
    assert.ok(out.includes(`export IDENTITY_ENDPOINT=${run.endpoints.identityEndpoint}`));
    assert.ok(out.includes(`export NODE_EXTRA_CA_CERTS=${run.endpoints.caFile}`));
    assert.ok(out.includes("export IDENTITY_HEADER="));
    assert.ok(!out.includes(run.env.IDENTITY_HEADER!));
    assert.equal(readFileSync(run.endpoints.identityHeaderFile, "utf8"), run.env.IDENTITY_HEADER);
    assert.equal(statSync(run.endpoints.identityHeaderFile).mode & 0o777, 0o600);
    assert.match(readFileSync(run.endpoints.caFile, "utf8"), /BEGIN CERTIFICATE/);
  });

  it("writes the endpoints file without the secret", () => {
    const text = readFileSync(join(dir, "endpoints.json"), "utf8");
    const endpoints = JSON.parse(text) as Record<string, unknown>;
    assert.equal(endpoints.armUrl, run.endpoints.armUrl);
    assert.equal(endpoints.logAnalyticsUrl, run.endpoints.logAnalyticsUrl);
    assert.ok(!text.includes(run.env.IDENTITY_HEADER!));
  });

  it("writes a baseline that points at the emulator and names the demo's designated workspace", () => {
    const baseline = parse(readFileSync(run.baselineFile!, "utf8")) as {
      version: number;
      endpoints: Record<string, unknown>;
      scope: { subscriptions: string[] };
      managedInstance: { diagnosticSetting: { workspaceId: string }; audit: { name: string } };
      activity: { allowedBackupStorageAccounts: string[] };
    };
    assert.equal(baseline.version, 1);
    assert.equal(baseline.endpoints.resourceManager, run.endpoints.armUrl);
    assert.equal(baseline.endpoints.logAnalytics, run.endpoints.logAnalyticsUrl);
    assert.equal(baseline.endpoints.caFile, run.endpoints.caFile);
    assert.equal(baseline.endpoints.useResourceGraph, run.emulator.mounted.resourceGraph);
    assert.equal(baseline.scope.subscriptions.length, 3);
    assert.match(baseline.managedInstance.diagnosticSetting.workspaceId, /\/workspaces\/law-sec-central$/);
    assert.equal(baseline.managedInstance.audit.name, "auditguard");
    assert.deepEqual(baseline.activity.allowedBackupStorageAccounts, ["contosobackupsprod"]);
  });

  it("the written baseline is accepted by the baseline parser of src/core/policy", () => {
    const parsed = parseBaseline(readFileSync(run.baselineFile!, "utf8"), { fileName: run.baselineFile! });
    assert.ok(parsed.ok, parsed.ok ? "" : JSON.stringify(parsed.problems));
    assert.equal(parsed.baseline.endpoints.resourceManager, run.endpoints.armUrl);
    assert.equal(parsed.baseline.managedInstance.specification.name, "auditguard-spec");
  });

  it("serves the demo estate to the real SDK with the printed environment", async () => {
    process.env.IDENTITY_ENDPOINT = run.env.IDENTITY_ENDPOINT;
    process.env.IDENTITY_HEADER = run.env.IDENTITY_HEADER;
    const sql = new SqlManagementClient(new ManagedIdentityCredential(), DEMO_PROD, {
      endpoint: run.endpoints.armUrl,
      credentialScopes: ["https://management.azure.com/.default"],
      tlsOptions: { ca: run.emulator.caPem },
    });
    const names: string[] = [];
    for await (const mi of sql.managedInstances.list()) names.push(mi.name!);
    assert.deepEqual(names.sort(), ["mi-prod-01", "mi-prod-02", "mi-prod-03", "mi-prod-04"]);
    const policy = await sql.serverBlobAuditingPolicies.get("rg-sql-prod", "sql-prod-01");
    assert.equal(policy.state, "Enabled");
  });

  it("the Log Analytics endpoint authenticates like the service before any query", async () => {
    const res = await rawRequest(`${run.endpoints.logAnalyticsUrl}/workspaces/b7c8d9e0-f1a2-4b3c-8d4e-5f6a7b8c9d0e/query`, {
      method: "POST",
      body: JSON.stringify({ query: "AzureDiagnostics | take 1" }),
      ca: run.emulator.caPem,
    });
    assert.equal(res.status, 401);
    assert.equal(res.json<{ error: { code: string } }>().error.code, "AuthorizationRequiredError");
  });
});
