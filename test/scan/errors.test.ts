import { test } from "node:test";
import assert from "node:assert/strict";
import { describeError, formatReason } from "../../src/scan/errors.js";
import { startBudget } from "../../src/scan/budget.js";

const MI = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/managedInstances/mi";

test("an ARM 403 names the missing permission on the resource", () => {
  const d = describeError({ statusCode: 403, code: "AuthorizationFailed", message: "The client does not have authorization" }, "write-diagnostic-settings", MI);
  assert.equal(d.code, "AuthorizationFailed");
  assert.equal(d.transient, false);
  assert.match(d.missingPermission ?? "", /Microsoft\.Insights\/diagnosticSettings\/write.*Monitoring Contributor on \/subscriptions/);
  assert.match(formatReason(d), /^AuthorizationFailed: The client does not have authorization — missing permission: /);
});

test("throttling and server errors are transient, client errors are not", () => {
  assert.equal(describeError({ statusCode: 429, code: "TooManyRequests", message: "x" }, "read-auditing-policy", MI).transient, true);
  assert.equal(describeError({ statusCode: 503, message: "x" }, "read-auditing-policy", MI).transient, true);
  assert.equal(describeError({ statusCode: 404, code: "ResourceNotFound", message: "x" }, "read-auditing-policy", MI).transient, false);
});

test("SQL errors keep their number; permission errors say which permission", () => {
  const d = describeError({ name: "RequestError", number: 15247, message: "User does not have permission to perform this action." }, "apply-sql-audit", MI);
  assert.equal(d.code, "SQL15247");
  assert.equal(d.sqlErrorNumber, 15247);
  assert.match(d.missingPermission ?? "", /ALTER ANY SERVER AUDIT/);
  assert.equal(describeError({ number: 40613, message: "Database unavailable" }, "read-sql-audit", MI).transient, true);
});

test("a refused login explains what the scanner needs", () => {
  const d = describeError({ name: "ConnectionError", code: "ELOGIN", message: "Login failed for user '<token-identified principal>'." }, "read-sql-audit", MI);
  assert.equal(d.transient, false);
  assert.match(d.missingPermission ?? "", /FROM EXTERNAL PROVIDER/);
});

test("socket failures are transient; cancellation is recognised by the signal, never by words in a message", () => {
  assert.equal(describeError({ name: "ConnectionError", code: "ESOCKET", message: "Connection lost" }, "read-sql-audit", MI).transient, true);
  const cancelled = new AbortController();
  cancelled.abort(new Error("scan cancelled"));
  assert.equal(describeError(Object.assign(new Error("The operation was aborted."), { name: "AbortError" }), "read-activity", MI, cancelled.signal).code, "Cancelled");
  // A SQL error whose text happens to say "aborted" is the SQL error it is (3998: uncommittable transaction).
  const sqlError = describeError({ name: "RequestError", number: 3998, message: "Uncommittable transaction is detected at the end of the batch. The transaction is rolled back; the batch was aborted." }, "apply-sql-audit", MI);
  assert.equal(sqlError.code, "SQL3998");
  assert.equal(describeError(new Error("the request was aborted by the server"), "read-activity", MI).code, "Error");
});

test("a timeout names the call that stalled and the budget", async () => {
  const budget = startBudget(0.05);
  const stalled = budget.call("querying audit activity (Log Analytics)", () => new Promise<never>(() => undefined));
  await assert.rejects(stalled, (e: unknown) => {
    const d = describeError(e, "read-activity", MI, budget.signal);
    return d.code === "Timeout" && /querying audit activity \(Log Analytics\) did not answer within the target's budget of 0\.05 s/.test(d.message) && d.transient;
  });
  budget.dispose();
});

test("secrets in messages are redacted", () => {
  const d = describeError(new Error("PUT failed with storageAccountAccessKey AccountKey=abcdefghijklmnopqrstuvwxyz0123456789=="), "write-auditing-policy", MI);
  assert.doesNotMatch(d.message, /abcdefghij/);
});

test("a connection lost during or before a request (tedious ECLOSE, EINVALIDSTATE, ESOCKET) is transient; an instance-lookup failure is not", () => {
  for (const code of ["ECLOSE", "EINVALIDSTATE", "ESOCKET"]) {
    assert.equal(describeError({ name: "RequestError", code, message: "Connection closed before request completed." }, "read-sql-audit", MI).transient, true, code);
  }
  assert.equal(describeError({ name: "ConnectionError", code: "EINSTLOOKUP", message: "x" }, "read-sql-audit", MI).transient, false);
});

// "Azure built-in roles" (Microsoft Learn): SQL Security Manager has Microsoft.Sql/servers/auditingSettings/* and
// not extendedAuditingSettings; Reader has */read. Synapse's actions are Microsoft.Synapse/workspaces/auditingSettings/*
// ("Azure resource provider operations", Microsoft.Synapse).
test("a 403 on an auditing policy names the target kind's own permission, and every kind's when the kind is not known", () => {
  const denied = { statusCode: 403, code: "AuthorizationFailed", message: "The client does not have authorization" };
  const server = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/sql-one";
  const workspace = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/syn-one";
  const sqlWrite = describeError(denied, "write-auditing-policy", server, undefined, "sql-server").missingPermission ?? "";
  assert.match(sqlWrite, /^Microsoft\.Sql\/servers\/auditingSettings\/write — role SQL Security Manager; removing a filter writes extendedAuditingSettings\/write.* on \/subscriptions\/s\/.*sql-one$/);
  assert.doesNotMatch(sqlWrite, /Synapse/);
  const synapseRead = describeError(denied, "read-auditing-policy", workspace, undefined, "synapse-workspace").missingPermission ?? "";
  assert.match(synapseRead, /^Microsoft\.Synapse\/workspaces\/auditingSettings\/read — role Reader on /);
  assert.doesNotMatch(synapseRead, /Microsoft\.Sql/);
  assert.equal(describeError(denied, "read-auditing-policy", MI, undefined, "sql-managed-instance").missingPermission, undefined, "a Managed Instance has no ARM auditing policy");
  const unknownKind = describeError(denied, "read-auditing-policy", server).missingPermission ?? "";
  assert.match(unknownKind, /Microsoft\.Sql\/servers\/auditingSettings\/read.*; or Microsoft\.Synapse\/workspaces\/auditingSettings\/read/);
});
