import { test } from "node:test";
import assert from "node:assert/strict";
import type { TokenCredential } from "@azure/core-auth";
import { connectionConfig } from "../../src/azure/sql-audit.js";
import { loadBaselineText } from "../../src/core/policy/load.js";

const credential: TokenCredential = { getToken: async () => null };
const target = { serverName: "mi-a.0a1b2c3d4e5f.database.windows.net" };

test("Managed Instance connections use TDS 8 strict encryption unless the baseline asks for TDS 7.4", () => {
  const strict = connectionConfig(target, { credential });
  assert.equal(strict.options?.encrypt, "strict" as unknown as boolean);
  assert.equal(strict.options?.trustServerCertificate, false);
  const mandatory = connectionConfig(target, { credential, encryption: "mandatory" });
  assert.equal(mandatory.options?.encrypt, true);
  assert.equal(mandatory.options?.trustServerCertificate, false);
});

test("endpoints.sqlEncryption defaults to strict and refuses anything but strict or mandatory", () => {
  assert.equal(loadBaselineText("version: 1\n", "a.yaml").endpoints.sqlEncryption, "strict");
  assert.equal(loadBaselineText("version: 1\nendpoints: { sqlEncryption: mandatory }\n", "a.yaml").endpoints.sqlEncryption, "mandatory");
  assert.throws(() => loadBaselineText("version: 1\nendpoints: { sqlEncryption: optional }\n", "a.yaml"), /sqlEncryption/);
});

test("several errors of one request (tedious's AggregateError) keep the first SQL number and every message", async () => {
  const { unwrapRequestError } = await import("../../src/azure/sql-audit.js");
  const { describeError } = await import("../../src/scan/errors.js");
  const pair = new AggregateError(
    [
      Object.assign(new Error("VIEW SERVER STATE permission was denied on object 'server', database 'master'."), { number: 300, state: 1, class: 14 }),
      Object.assign(new Error("The user does not have permission to perform this action."), { number: 297, state: 1, class: 16 }),
    ],
    "",
  );
  const unwrapped = unwrapRequestError(pair) as Error & { number?: number };
  assert.equal(unwrapped.number, 300);
  assert.match(unwrapped.message, /VIEW SERVER STATE permission was denied.*does not have permission/);
  const described = describeError(unwrapped, "read-sql-audit", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/managedInstances/mi");
  assert.equal(described.code, "SQL300");
  assert.match(described.missingPermission ?? "", /VIEW SERVER SECURITY STATE/);
  const single = new Error("x");
  assert.equal(unwrapRequestError(single), single);
});
