import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import functions from "@azure/functions";
import { checkConfiguration } from "../../src/host/startup.js";
import { hostServices, useHostServices } from "../../src/host/services.js";
import { complianceReport } from "../../src/host/handlers.js";

// The settings and the baseline are checked when the worker starts (the app start hook runs checkConfiguration),
// and every answer names its cause class: a bad setting or a missing baseline is a ConfigurationError by name,
// not "the results store could not be read".
const { HttpRequest, InvocationContext } = functions;
const saved = { ...process.env };
after(() => {
  process.env = saved;
  useHostServices(undefined);
});

function withEnv(values: Record<string, string | undefined>) {
  process.env = { ...saved, AzureWebJobsStorage: "UseDevelopmentStorage=true", ...values };
  useHostServices(undefined);
}

test("a bad queue name is named at start, and every function answers ConfigurationError", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ag-config-"));
  writeFileSync(join(dir, "auditguard.yaml"), "version: 1\n");
  withEnv({ AUDITGUARD_EVENTS_QUEUE: "Bad_Name", AUDITGUARD_BASELINE_PATH: join(dir, "auditguard.yaml") });
  const logged: string[] = [];
  assert.match(checkConfiguration((m) => logged.push(m)) ?? "", /AUDITGUARD_EVENTS_QUEUE: a queue name: 3-63 lower-case letters/);
  assert.equal(logged.length, 1);
  await assert.rejects(hostServices(), (e: unknown) => (e as Error).name === "ConfigurationError");
  const answer = await complianceReport(new HttpRequest({ method: "GET", url: "http://localhost/api/compliance" }), new InvocationContext({ logHandler: () => undefined }));
  assert.equal(answer.status, 500);
  assert.deepEqual((answer.jsonBody as { error: { code: string } }).error.code, "ConfigurationError");
  assert.match(JSON.stringify(answer.jsonBody), /AUDITGUARD_EVENTS_QUEUE/);
});

test("a missing baseline and a bad schedule are configuration, each named", () => {
  withEnv({ AUDITGUARD_BASELINE_PATH: "/nonexistent/auditguard.yaml" });
  assert.match(checkConfiguration(() => undefined) ?? "", /the baseline file \/nonexistent\/auditguard\.yaml \(AUDITGUARD_BASELINE_PATH\) cannot be read: ENOENT/);
  withEnv({ AUDITGUARD_SWEEP_SCHEDULE: "*/5 * * * *" });
  assert.match(checkConfiguration(() => undefined) ?? "", /AUDITGUARD_SWEEP_SCHEDULE: an NCRONTAB schedule of six fields/);
});

test("a baseline with an error is named with its line", () => {
  const dir = mkdtempSync(join(tmpdir(), "ag-config-"));
  writeFileSync(join(dir, "auditguard.yaml"), "version: 1\nmode: destroy\n");
  withEnv({ AUDITGUARD_BASELINE_PATH: join(dir, "auditguard.yaml") });
  assert.match(checkConfiguration(() => undefined) ?? "", /the baseline .*auditguard\.yaml is invalid: [\s\S]*:2:/);
});

test("the identity-based storage connection follows the cloud's service URIs", () => {
  withEnv({ AzureWebJobsStorage: undefined, AzureWebJobsStorage__queueServiceUri: "https://acct.queue.core.chinacloudapi.cn", AzureWebJobsStorage__tableServiceUri: "http://acct.table.core.chinacloudapi.cn" });
  assert.match(checkConfiguration(() => undefined) ?? "", /AzureWebJobsStorage__tableServiceUri: the table service URI/, "https only");
});
