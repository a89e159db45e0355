import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseBaseline } from "../../src/core/policy/load.js";
import { parseReportQuery } from "../../src/host/report-query.js";
import { InvalidScanRequestError, parseScanRequest } from "../../src/scan/fan-out.js";
import { isValidIdentifier, quoteIdentifier, UnsafeNameError } from "../../src/core/sql-text/identifiers.js";
import { renderStatement } from "../../src/core/sql-text/render.js";
import { evaluate } from "../../src/core/evaluate.js";
import { plan } from "../../src/core/plan.js";
import { mulberry32, mutate, pick, randomString } from "../support/prng.js";
import { miObservation, miSql, NOW } from "../core/fixtures.js";

// Bounded, seeded fuzzing of every input AuditGuard takes from outside: a clear error, never a crash, and never a
// statement the plan did not contain.
const SEED = Number(process.env.FUZZ_SEED ?? 20261124);
const ROUNDS = 400;
const example = readFileSync(join(process.cwd(), "auditguard.example.yaml"), "utf8");

describe(`fuzzing (seed ${SEED})`, () => {
  it("mutated baseline files: every problem has a path and a message; valid ones load", () => {
    const random = mulberry32(SEED);
    let valid = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const text = mutate(random, example, 1 + Math.floor(random() * 6));
      const parsed = parseBaseline(text, { fileName: "fuzz.yaml" });
      if (parsed.ok) {
        valid++;
        continue;
      }
      assert.ok(parsed.problems.length > 0);
      for (const p of parsed.problems) assert.ok(p.path.length > 0 && p.message.length > 0, JSON.stringify(p));
    }
    assert.ok(valid < ROUNDS, "mutations broke some files");
    for (let i = 0; i < ROUNDS / 4; i++) {
      const parsed = parseBaseline(randomString(random, 200), { format: pick(random, ["yaml", "json"] as const) });
      assert.ok(parsed.ok || parsed.problems.length > 0);
    }
  });

  it("HTTP query strings: 400 with a reason or a valid query, never a throw", () => {
    const random = mulberry32(SEED + 1);
    const keys = ["format", "subscription", "kind", "status", "rule", "colour", "", "format[]"];
    const values = ["json", "html", "csv", "sarif", "markdown", "pdf", "sql-server", "compliant,error", "mi.audit.exists", "11111111-1111-4111-8111-111111111111", "' or 1=1 --", "%00", ",,,", "x".repeat(3000)];
    for (let i = 0; i < ROUNDS; i++) {
      const params: Array<[string, string]> = Array.from({ length: Math.floor(random() * 4) }, () => [pick(random, keys), random() < 0.7 ? pick(random, values) : randomString(random)]);
      const parsed = parseReportQuery(params);
      if (!parsed.ok) assert.ok(parsed.reason.length > 0);
    }
  });

  it("queue messages: a valid scan request or an InvalidScanRequestError, never anything else", () => {
    const random = mulberry32(SEED + 2);
    const valid = { version: 1, scanId: "20261124T100000-abcd1234", trigger: "timer", target: { id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/x", kind: "sql-server", name: "x", subscriptionId: "s", resourceGroup: "rg", location: "westeurope", tags: {} } };
    const text = JSON.stringify(valid);
    for (let i = 0; i < ROUNDS; i++) {
      const candidate = mutate(random, text, 1 + Math.floor(random() * 4));
      let message: unknown;
      try {
        message = JSON.parse(candidate);
      } catch {
        continue;
      }
      try {
        parseScanRequest(message);
      } catch (error) {
        assert.ok(error instanceof InvalidScanRequestError, String(error));
      }
    }
  });

  it("identifiers: refused with UnsafeNameError, or quoted so that the name cannot end the identifier", () => {
    const random = mulberry32(SEED + 3);
    for (let i = 0; i < ROUNDS * 2; i++) {
      const name = randomString(random, 30);
      if (!isValidIdentifier(name)) {
        assert.throws(() => quoteIdentifier(name), UnsafeNameError);
        continue;
      }
      const quoted = quoteIdentifier(name);
      assert.equal(quoted.slice(1, -1).replace(/]]/g, ""), name.replace(/]/g, ""));
      assert.doesNotMatch(quoted.slice(1, -1).replace(/]]/g, ""), /]/);
    }
  });

  it("hostile audit names in observations never reach a statement the planner did not build from the baseline", () => {
    const random = mulberry32(SEED + 4);
    const b = { ...JSON.parse(JSON.stringify(parseBaselineOk())) };
    for (let i = 0; i < ROUNDS / 2; i++) {
      const hostile = randomString(random, 20);
      const observation = miObservation(miSql({ audits: [{ ...miSql().audits[0]!, name: hostile, isStateEnabled: false }], specifications: [{ ...miSql().specifications[0]!, name: hostile }] }));
      const actions = plan(b, observation, evaluate(b, observation, NOW));
      for (const a of actions) {
        if (a.kind !== "tsql") continue;
        assert.equal(a.statement, renderStatement(a.operation), "every statement is rendered from its structured operation");
        if (hostile.length && hostile !== "BackupRestoreAudit" && hostile !== "BackupRestoreAuditSpec") {
          assert.ok(!a.statement.includes(`[${hostile}]`) || hostile.toLowerCase() === "backuprestoreaudit", "only the baseline's names are written");
        }
      }
    }
  });
});

function parseBaselineOk() {
  const parsed = parseBaseline("version: 1\nmode: enforce\n");
  if (!parsed.ok) throw new Error("baseline");
  return parsed.baseline;
}
