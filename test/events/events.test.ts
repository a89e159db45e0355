import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EVENT_TYPES } from "../../src/core/events/catalog.js";
import { buildEvent, decodeQueueMessage, encodeQueueMessage, EventContainsSecretError } from "../../src/core/events/build.js";
import { allEventJsonSchemas } from "../../src/core/events/json-schema.js";

const target = {
  id: "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Sql/managedInstances/mi-1",
  kind: "sql-managed-instance" as const,
  name: "mi-1",
  subscriptionId: "00000000-0000-0000-0000-000000000001",
  resourceGroup: "rg",
};
const context = { source: "urn:auditguard:test", now: new Date("2026-11-24T10:00:00Z"), id: "evt-1" };

test("events are CloudEvents 1.0 with the target as subject", () => {
  const event = buildEvent(EVENT_TYPES.suspiciousActivity, {
    scanId: "scan-1",
    target,
    ruleId: "activity.copy-only-backup",
    severity: "high",
    kind: "copy-only-backup",
    summary: "1 COPY_ONLY backup",
    window: { from: "2026-11-24T09:00:00.000Z", to: "2026-11-24T10:00:00.000Z" },
    evidence: [{ time: "2026-11-24T09:30:00.000Z", actionId: "BA", principal: "mallory", statement: "BACKUP DATABASE [db] TO URL = N'https://x.blob.core.windows.net/c/db.bak' WITH COPY_ONLY" }],
  }, context);
  assert.equal(event.specversion, "1.0");
  assert.equal(event.subject, target.id);
  assert.equal(event.time, "2026-11-24T10:00:00.000Z");
  assert.equal(event.datacontenttype, "application/json");
});

test("a payload outside its schema is refused before it is published", () => {
  assert.throws(() =>
    buildEvent(EVENT_TYPES.driftDetected, { scanId: "s", target, mode: "plan", findings: [], plannedChanges: [] }, context),
  );
});

test("a payload that carries a credential is refused", () => {
  assert.throws(
    () =>
      buildEvent(EVENT_TYPES.remediationFailed, {
        scanId: "s",
        target,
        failedChange: { kind: "tsql", description: "d", ruleIds: [], change: "CREATE CREDENTIAL x WITH SECRET = 'sv=1&sig=abcdefghijklmno'" },
        appliedBefore: [],
        error: { code: "SqlError", message: "failed" },
      }, context),
    EventContainsSecretError,
  );
});

test("queue messages are Base64 JSON as the Functions queue trigger expects, and plain JSON is accepted back", () => {
  const text = encodeQueueMessage({ a: 1 });
  assert.match(text, /^[A-Za-z0-9+/]+=*$/);
  assert.deepEqual(decodeQueueMessage(text), { a: 1 });
  assert.deepEqual(decodeQueueMessage('{"a":2}'), { a: 2 });
});

test("the committed JSON Schemas of the events match the code", () => {
  for (const [file, schema] of Object.entries(allEventJsonSchemas())) {
    const committed = JSON.parse(readFileSync(join(process.cwd(), "schema", "events", file), "utf8"));
    assert.deepEqual(committed, schema, `schema/events/${file} is stale: run npm run schemas`);
  }
});

test("dataschema names the schema of the event's data, which validates the data and not the envelope", async () => {
  // CloudEvents 1.0, dataschema: "Identifies the schema that data adheres to."
  const { createRequire } = await import("node:module");
  const require = createRequire(import.meta.url);
  const Ajv2020 = (require("ajv/dist/2020") as { default: new (o: object) => { compile(s: object): (d: unknown) => boolean } }).default;
  const addFormats = require("ajv-formats") as (ajv: unknown) => void;
  const event = buildEvent(EVENT_TYPES.scanCompleted, { scanId: "s", trigger: "cli", mode: "plan", startedAt: "2026-11-24T10:00:00.000Z", finishedAt: "2026-11-24T10:01:00.000Z", complete: true, counts: { targets: 1, compliant: 1, remediated: 0, noncompliant: 0, exempt: 0, error: 0, notScanned: 0 } }, context);
  const schemas = allEventJsonSchemas();
  const data = Object.values(schemas).find((s) => s.$id === event.dataschema);
  assert.ok(data, `a published schema has the id ${event.dataschema}`);
  const ajv = new Ajv2020({ strict: false });
  addFormats(ajv);
  assert.equal(ajv.compile(data)(event.data), true, "the data matches it");
  assert.equal(ajv.compile(data)(event), false, "the whole event does not: it is the data's schema");
  assert.equal(ajv.compile(schemas[`${EVENT_TYPES.scanCompleted}.schema.json`]!)(event), true, "the envelope schema takes the whole event");
});
