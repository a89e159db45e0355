import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import functions from "@azure/functions";
import type { InvocationContext as Context } from "@azure/functions";
import { QueueClient } from "@azure/storage-queue";
import { ManagedIdentityCredential } from "@azure/identity";
import type { RunningEmulator } from "../../emulator/server.js";
import { emulatorBaseline, endpointsOf } from "../../emulator/cli.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import type { RunningAzurite } from "../../emulator/storage/azurite.js";
import { loadBaselineText } from "../../src/core/policy/load.js";
import { createScanEnvironment } from "../../src/scan/environment.js";
import { ResultsStore } from "../../src/azure/results-store.js";
import { ActivityStore } from "../../src/azure/activity-store.js";
import { JsonQueue } from "../../src/azure/queues.js";
import { decodeQueueMessage } from "../../src/core/events/build.js";
import { useHostServices } from "../../src/host/services.js";
import type { HostServices } from "../../src/host/services.js";
import { SCAN_POISON_QUEUE, SCAN_QUEUE } from "../../src/host/queue-names.js";
import { activitySweep, complianceReport, scanPoison, scanStatus, scanWorker, scheduledScan, startScan } from "../../src/host/handlers.js";
import { startEstate, stopEstate } from "../support/estate.js";

// @azure/functions is a CommonJS bundle whose classes ESM cannot see as named exports.
const { HttpRequest, InvocationContext } = functions;
type InvocationContext = Context;

// Each handler invoked with the library's own InvocationContext and HttpRequest, against the emulator and Azurite.
let emu: RunningEmulator;
let azurite: RunningAzurite;
let services: HostServices;
const logs: string[] = [];
const context = (functionName: string, triggerMetadata: Record<string, unknown> = {}) =>
  new InvocationContext({ functionName, triggerMetadata, logHandler: (level, ...args) => logs.push(`${level}: ${args.join(" ")}`) });

before(async () => {
  ({ emu, azurite } = await startEstate({ fleetFile: shippedFleet("test-small.yaml") }));
  const generated = emulatorBaseline(emu, endpointsOf(emu)) as Record<string, unknown> & { scope: Record<string, unknown> };
  generated.scope.kinds = ["sql-server", "synapse-workspace"];
  generated.mode = "enforce";
  const baseline = loadBaselineText(JSON.stringify(generated), "baseline.json");
  const connection = { connectionString: azurite.connectionString };
  services = {
    env: createScanEnvironment(baseline, { credential: new ManagedIdentityCredential() }),
    store: await ResultsStore.open(connection, "Fn"),
    requests: JsonQueue.connect(connection, SCAN_QUEUE),
    poison: JsonQueue.connect(connection, SCAN_POISON_QUEUE),
    events: JsonQueue.connect(connection, "fn-events"),
    eventSource: "urn:auditguard:test",
    retentionDays: 90,
    invocationBudgetMs: 60_000,
    activity: await ActivityStore.open(connection, "Fn"),
  };
  useHostServices(async () => services);
});

after(async () => {
  useHostServices(undefined);
  await stopEstate(emu, azurite);
});

/** A response body as text, whether the handler answered a string or streamed it. */
async function bodyText(response: { body?: unknown }): Promise<string> {
  const body = response.body;
  if (typeof body === "string") return body;
  let out = "";
  for await (const chunk of body as AsyncIterable<Uint8Array>) out += Buffer.from(chunk).toString("utf8");
  return out;
}

/** What the host does: take each message off the queue, decode Base64 JSON, call the handler. */
async function drainInto(queueName: string, handler: (m: unknown, c: InvocationContext) => Promise<void>) {
  const queue = new QueueClient(azurite.connectionString, queueName);
  let handled = 0;
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (!receivedMessageItems.length) return handled;
    for (const m of receivedMessageItems) {
      await handler(decodeQueueMessage(m.messageText), context("worker", { dequeueCount: m.dequeueCount }));
      await queue.deleteMessage(m.messageId, m.popReceipt);
      handled++;
    }
  }
}

async function events() {
  const queue = new QueueClient(azurite.connectionString, "fn-events");
  const out: Array<{ type: string; subject?: string }> = [];
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (!receivedMessageItems.length) return out;
    for (const m of receivedMessageItems) {
      out.push(decodeQueueMessage(m.messageText) as { type: string; subject?: string });
      await queue.deleteMessage(m.messageId, m.popReceipt);
    }
  }
}

describe("timer fan-out and queue worker", () => {
  it("the timer queues one request per target; workers scan, store, emit and close the scan once", async () => {
    await scheduledScan({ isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: "", next: "", lastUpdated: "" } }, context("scheduledScan"));
    const handled = await drainInto(SCAN_QUEUE, scanWorker);
    assert.equal(handled, 4, "sql-good, sql-async, sql-readonly and syn-one");
    const runs = await services.store.listRuns();
    assert.equal(runs[0]?.complete, true);
    assert.equal(runs[0]?.expectedTargets, handled);
    const published = await events();
    assert.equal(published.filter((e) => e.type === "com.auditguard.scan.completed").length, 1, "exactly one scan-completed event");
    assert.ok(published.some((e) => e.type === "com.auditguard.remediation.applied"));
    const latest = await services.store.listLatest();
    assert.equal(latest.length, handled);
  });

  it("the workers record where each target's audit records land, and the activity sweep reads each workspace once", async () => {
    const routes = [];
    for await (const r of services.activity.routes()) routes.push(r);
    assert.ok(routes.length >= 4, "a route per scanned target");
    await activitySweep({ isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: "", next: "", lastUpdated: "" } }, context("activitySweep"));
    assert.ok(logs.some((l) => /activity sweep \S+: \d+ workspaces?, \d+ quer(y|ies), \d+ events?/.test(l)), logs.join("\n"));
  });

  it("a malformed message goes to the poison queue at once and changes nothing", async () => {
    const before = (await services.store.listLatest()).length;
    await scanWorker({ version: 1, scanId: "x", trigger: "timer", target: { id: "not-an-id" } }, context("scanWorker"));
    await scanWorker("{not json", context("scanWorker"));
    assert.equal((await services.store.listLatest()).length, before);
    const poison = new QueueClient(azurite.connectionString, SCAN_POISON_QUEUE);
    const { receivedMessageItems } = await poison.receiveMessages({ numberOfMessages: 10 });
    assert.equal(receivedMessageItems.length, 2);
    assert.match(JSON.stringify(decodeQueueMessage(receivedMessageItems[0]!.messageText)), /target\.id: must be the ARM id of a Managed Instance, SQL server or Synapse workspace/);
    assert.match(JSON.stringify(decodeQueueMessage(receivedMessageItems[1]!.messageText)), /not JSON/);
    for (const m of receivedMessageItems) await poison.deleteMessage(m.messageId, m.popReceipt);
    assert.ok(logs.some((l) => /moved to the poison queue/.test(l)));
  });

  it("a poisoned request is recorded as an error with the last attempt's reason", async () => {
    const target = { id: "/subscriptions/11111111-1111-4111-8111-111111111111/resourceGroups/rg-data/providers/Microsoft.Sql/servers/sql-good", kind: "sql-server" as const, name: "sql-good", subscriptionId: "11111111-1111-4111-8111-111111111111", resourceGroup: "rg-data", location: "westeurope", tags: {} };
    await services.store.saveRun({ scanId: "poison-1", trigger: "timer", mode: "plan", startedAt: new Date().toISOString(), expectedTargets: 1, counts: { compliant: 0, remediated: 0, noncompliant: 0, exempt: 0, error: 0 }, complete: false });
    await services.store.addPending("poison-1", [target]);
    const pending = (await services.store.getProgress("poison-1", target.id))!;
    await services.store.updateProgress("poison-1", target.id, { status: "attempt-failed", reason: "function timed out", attempts: 5 }, pending.etag);
    await scanPoison({ version: 1, scanId: "poison-1", trigger: "timer", target }, context("scanPoison"));
    const result = await services.store.getLatest(target.subscriptionId, target.id);
    assert.equal(result?.status, "error");
    assert.match(result?.reason ?? "", /failed every attempt: function timed out/);
    assert.equal((await services.store.getRun("poison-1"))?.complete, true);
  });
});

describe("HTTP API", () => {
  it("POST /api/scans starts a scan and GET /api/scans/{id} follows it", async () => {
    const started = await startScan(new HttpRequest({ method: "POST", url: "http://localhost/api/scans", body: { string: JSON.stringify({ mode: "plan" }) } }), context("startScan"));
    assert.equal(started.status, 202);
    const { scanId } = started.jsonBody as { scanId: string };
    assert.equal((started.headers as Record<string, string>).location, `/api/scans/${scanId}`);
    const pending = await scanStatus(new HttpRequest({ method: "GET", url: `http://localhost/api/scans/${scanId}`, params: { scanId } }), context("scanStatus"));
    assert.equal((pending.jsonBody as { complete: boolean }).complete, false);
    await drainInto(SCAN_QUEUE, scanWorker);
    const done = await scanStatus(new HttpRequest({ method: "GET", url: `http://localhost/api/scans/${scanId}`, params: { scanId } }), context("scanStatus"));
    const body = done.jsonBody as { complete: boolean; expectedTargets: number; finishedTargets: number };
    assert.equal(body.complete, true);
    assert.equal(body.finishedTargets, body.expectedTargets);
    await events();
  });

  it("bad input gets 400 with the reason, never 500", async () => {
    const cases: Array<[Promise<{ status?: number; jsonBody?: unknown }>, RegExp]> = [
      [startScan(new HttpRequest({ method: "POST", url: "http://localhost/api/scans", body: { string: "{nope" } }), context("startScan")), /must be JSON/],
      [startScan(new HttpRequest({ method: "POST", url: "http://localhost/api/scans", body: { string: '{"mode":"destroy"}' } }), context("startScan")), /mode/],
      [startScan(new HttpRequest({ method: "POST", url: "http://localhost/api/scans", body: { string: '{"extra":1}' } }), context("startScan")), /unknown field/],
      [scanStatus(new HttpRequest({ method: "GET", url: "http://localhost/api/scans/x", params: { scanId: "../../etc" } }), context("scanStatus")), /scanId/],
      [complianceReport(new HttpRequest({ method: "GET", url: "http://localhost/api/compliance?format=pdf" }), context("report")), /format/],
      [complianceReport(new HttpRequest({ method: "GET", url: "http://localhost/api/compliance?kind=sql-server,database" }), context("report")), /kind/],
      [complianceReport(new HttpRequest({ method: "GET", url: "http://localhost/api/compliance?rule=' or 1=1" }), context("report")), /rule/],
      [complianceReport(new HttpRequest({ method: "GET", url: "http://localhost/api/compliance?subscription=abc" }), context("report")), /subscription/],
      [complianceReport(new HttpRequest({ method: "GET", url: "http://localhost/api/compliance?colour=blue" }), context("report")), /unknown parameter/],
      [complianceReport(new HttpRequest({ method: "GET", url: "http://localhost/api/compliance?status=error&status=compliant" }), context("report")), /more than once/],
    ];
    for (const [response, reason] of cases) {
      const r = await response;
      assert.equal(r.status, 400);
      assert.match(JSON.stringify(r.jsonBody), reason);
    }
    const missing = await scanStatus(new HttpRequest({ method: "GET", url: "http://localhost/api/scans/nope", params: { scanId: "nope" } }), context("scanStatus"));
    assert.equal(missing.status, 404);
  });

  it("GET /api/compliance filters, and its ETag answers 304 until something changes", async () => {
    const first = await complianceReport(new HttpRequest({ method: "GET", url: "http://localhost/api/compliance?kind=sql-server" }), context("report"));
    assert.equal(first.status, 200);
    const report = JSON.parse(await bodyText(first)) as { targets: Array<{ kind: string }>; summary: { targets: number; byKind: Record<string, { noncompliant: number }> }; scan: { scanId: string }; page: { size: number } };
    assert.ok(report.targets.length > 0 && report.targets.every((t) => t.kind === "sql-server"));
    assert.equal(report.summary.targets, report.targets.length, "the summary counts what the filter selects");
    assert.ok(report.scan.scanId, "the report names its scan");
    const etag = (first.headers as Record<string, string>).etag!;
    const again = await complianceReport(new HttpRequest({ method: "GET", url: "http://localhost/api/compliance?kind=sql-server", headers: { "if-none-match": etag } }), context("report"));
    assert.equal(again.status, 304);
    const other = await complianceReport(new HttpRequest({ method: "GET", url: "http://localhost/api/compliance?kind=synapse-workspace", headers: { "if-none-match": etag } }), context("report"));
    assert.equal(other.status, 200);
    // The function key in the URL, as a browser or curl sends it, is the host's business, not a filter.
    const keyed = await complianceReport(new HttpRequest({ method: "GET", url: "http://localhost/api/compliance?kind=sql-server&code=c2VjcmV0LWtleQ==", headers: { "if-none-match": etag } }), context("report"));
    assert.equal(keyed.status, 304);
    // A 304 reads the latest closed scan's pointer, its run and its summary: never a result.
    const ops = services.store.stats.requests;
    assert.equal((await complianceReport(new HttpRequest({ method: "GET", url: "http://localhost/api/compliance?kind=sql-server", headers: { "if-none-match": etag } }), context("report"))).status, 304);
    assert.ok(services.store.stats.requests - ops <= 4, `a 304 costs ${services.store.stats.requests - ops} store requests`);
    // One target per page: the first page links the next, and every target comes once.
    const seen: string[] = [];
    let url = "http://localhost/api/compliance?top=1";
    for (let i = 0; i < 20 && url; i++) {
      const page = JSON.parse(await bodyText(await complianceReport(new HttpRequest({ method: "GET", url }), context("report")))) as { targets: Array<{ id: string }>; page: { size: number; next?: string }; summary: { targets: number } };
      assert.equal(page.page.size, 1);
      seen.push(...page.targets.map((t) => t.id));
      url = page.page.next ? `http://localhost${page.page.next}` : "";
      if (!url) assert.equal(seen.length, page.summary.targets, "the pages together hold every target the summary counts");
    }
    assert.equal(new Set(seen).size, seen.length);
    const forged = await complianceReport(new HttpRequest({ method: "GET", url: "http://localhost/api/compliance?continuation=bm90LWEtdG9rZW4" }), context("report"));
    assert.equal(forged.status, 400, "a continuation token this service did not issue is refused");
    for (const [format, type] of [["html", /^text\/html/], ["csv", /^text\/csv/], ["sarif", /^application\/sarif\+json/], ["markdown", /^text\/markdown/]] as const) {
      const rendered = await complianceReport(new HttpRequest({ method: "GET", url: `http://localhost/api/compliance?format=${format}` }), context("report"));
      assert.equal(rendered.status, 200);
      assert.ok((await bodyText(rendered)).length > 100, `${format} has a body`);
      assert.match((rendered.headers as Record<string, string>)["content-type"]!, type);
      assert.notEqual((rendered.headers as Record<string, string>).etag, etag, "each format has its own ETag");
    }
  });
});
