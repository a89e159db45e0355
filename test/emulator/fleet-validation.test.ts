import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseFleet, FleetValidationError, loadFleetFile, sqlValidatorFromSchema } from "../../emulator/fleet/load.js";
import { FaultInjector, sampleLatency } from "../../emulator/faults/faults.js";
import { mulberry32 } from "../../emulator/faults/prng.js";
import { shippedFleet } from "../../emulator/fleets/paths.js";
import { miStateSchema } from "../../emulator/mi/state-schema.js";

const HEADER = `tenantId: 9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a
scanner:
  principalId: 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
  clientId: 1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e
  displayName: scanner
`;

function issuesOf(text: string) {
  try {
    parseFleet(text, { source: "test.yaml" });
  } catch (error) {
    assert.ok(error instanceof FleetValidationError);
    return error.issues;
  }
  assert.fail("expected the fleet to be rejected");
}

describe("fleet validation", () => {
  it("reports every schema error with its path and line", () => {
    const issues = issuesOf(`tenantId: not-a-guid
scanner:
  principalId: 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
  clientId: 1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e
  displayName: scanner
subscriptions:
  - id: 11111111-1111-4111-8111-111111111111
    displayName: one
    resourceGroups:
      - name: rg
        sqlServers:
          - name: s1
            auditingSettings: { state: On }
        managedInstances:
          - name: mi1
            dnsZone: UPPER
            surprise: true
`);
    const byPath = new Map(issues.map((i) => [i.path.join("."), i]));
    assert.ok(byPath.has("tenantId"));
    assert.equal(byPath.get("tenantId")!.line, 1);
    assert.equal(byPath.get("subscriptions.0.resourceGroups.0.sqlServers.0.auditingSettings.state")!.line, 13);
    assert.equal(byPath.get("subscriptions.0.resourceGroups.0.managedInstances.0.dnsZone")!.line, 16);
    assert.ok(issues.some((i) => i.path.join(".") === "subscriptions.0.resourceGroups.0.managedInstances.0" && /surprise/.test(i.message)));
    assert.equal(issues.length, 4);
  });

  it("checks cross-references: unknown workspace names, duplicates, scopes in unknown subscriptions", () => {
    const issues = issuesOf(`${HEADER}  roleAssignments:
    - scope: /subscriptions/99999999-9999-4999-8999-999999999999
      role: Reader
subscriptions:
  - id: 11111111-1111-4111-8111-111111111111
    displayName: one
    resourceGroups:
      - name: rg
        managedInstances:
          - name: mi1
            dnsZone: abcdef123
            diagnosticSettings:
              - name: d
                workspace: law-missing
                logs: [{ category: SQLSecurityAuditEvents }]
          - name: MI1
            dnsZone: abcdef123
`);
    const paths = issues.map((i) => i.path.join("."));
    assert.ok(paths.includes("subscriptions.0.resourceGroups.0.managedInstances.0.diagnosticSettings.0.workspace"));
    assert.ok(paths.includes("subscriptions.0.resourceGroups.0.managedInstances.1.name"));
    assert.ok(paths.includes("scanner.roleAssignments.0.scope"));
  });

  it("reports YAML syntax errors with a line", () => {
    const issues = issuesOf(`${HEADER}subscriptions: [\n  - bad`);
    assert.ok(issues.length >= 1);
    assert.ok(issues[0]!.line !== undefined);
  });

  it("hands each instance's sql: state to the MI validator and reports its issues under the instance", () => {
    const text = `${HEADER}subscriptions:
  - id: 11111111-1111-4111-8111-111111111111
    displayName: one
    resourceGroups:
      - name: rg
        managedInstances:
          - name: mi1
            dnsZone: abcdef123
            sql: { audits: 3 }
`;
    assert.throws(
      () => parseFleet(text, { validateSql: () => [{ path: ["audits"], message: "expected an array" }] }),
      (e: unknown) => e instanceof FleetValidationError && e.issues.some((i) => i.path.join(".") === "subscriptions.0.resourceGroups.0.managedInstances.0.sql.audits"),
    );
  });

  it("the shipped fleets are valid", () => {
    assert.ok(loadFleetFile(shippedFleet("test-small.yaml")).subscriptions.length >= 1);
    const demo = loadFleetFile(shippedFleet("demo.yaml"));
    assert.equal(demo.subscriptions.length, 3);
  });
});

describe("seeded faults", () => {
  const config = {
    seed: 42,
    latency: { arm: { kind: "lognormal" as const, medianMs: 20, sigma: 0.5 }, tds: { kind: "uniform" as const, minMs: 1, maxMs: 9 } },
    errorRate: { arm: 0.3 },
    throttleBursts: [],
    unreachable: ["mi-down", "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Sql/servers/s-down"],
    hanging: ["mi-hang"],
    stallAfterHeaders: [],
    stallAfterLogin: [],
    ingestionDelay: { kind: "fixed" as const, ms: 0 },
    tds: { dropConnectionRate: 0.25, refuseLoginRate: 0.5 },
  };

  it("the same seed gives the same decisions, a different seed different ones", () => {
    const run = (seed: number) => {
      const f = new FaultInjector({ ...config, seed });
      const tds = f.forTds("mi-one.abc.database.windows.net");
      return Array.from({ length: 50 }, () => [f.forHttp("arm", "sub").kind, Math.round(f.latencyMs("arm")), tds.dropConnection(), tds.refuseLogin()].join("|"));
    };
    assert.deepEqual(run(42), run(42));
    assert.notDeepEqual(run(42), run(43));
  });

  it("rates are honoured roughly and distributions stay in range", () => {
    const f = new FaultInjector(config);
    const kinds = Array.from({ length: 2000 }, () => f.forHttp("arm").kind);
    const errors = kinds.filter((k) => k === "server-error").length / kinds.length;
    assert.ok(errors > 0.25 && errors < 0.35, String(errors));
    const random = mulberry32(7);
    for (let i = 0; i < 200; i++) {
      const ms = sampleLatency({ kind: "uniform", minMs: 5, maxMs: 10 }, random);
      assert.ok(ms >= 5 && ms <= 10);
    }
    assert.equal(sampleLatency({ kind: "fixed", ms: 12 }, random), 12);
  });

  it("429 bursts cover exactly their requests, per subscription when scoped", () => {
    const f = new FaultInjector({ ...config, errorRate: {}, throttleBursts: [{ service: "arm", startAtRequest: 2, requests: 2, retryAfterSeconds: 3, subscriptionId: "s1" }] });
    const s1 = Array.from({ length: 5 }, () => f.forHttp("arm", "s1").kind);
    assert.deepEqual(s1, ["none", "throttle", "throttle", "none", "none"]);
    assert.equal(f.forHttp("arm", "s2").kind, "none");
  });

  it("unreachable and hanging instances, by name, FQDN or ARM id", () => {
    const f = new FaultInjector(config);
    assert.ok(f.forTds("mi-down.abc.database.windows.net").unreachable());
    assert.ok(f.forTds("mi-hang").hang());
    assert.ok(!f.forTds("mi-one").unreachable());
    assert.ok(f.isUnreachable("/subscriptions/x/resourceGroups/rg/providers/Microsoft.Sql/managedInstances/mi-down"));
    assert.ok(f.isUnreachable("/subscriptions/x/resourceGroups/rg/providers/Microsoft.Sql/servers/s-down/databases/master"));
    assert.ok(!f.isUnreachable("/subscriptions/x/resourceGroups/rg/providers/Microsoft.Sql/servers/s-up"));
  });
});

describe("Managed Instance state in the shipped fleets", () => {
  it("every sql: block satisfies emulator/mi/state-schema.ts, and its errors are reported under the instance", () => {
    const validateSql = sqlValidatorFromSchema(miStateSchema);
    for (const name of ["demo.yaml", "test-small.yaml"]) loadFleetFile(shippedFleet(name), { validateSql });
    const bad = `${HEADER}subscriptions:
  - id: 11111111-1111-4111-8111-111111111111
    displayName: one
    resourceGroups:
      - name: rg
        managedInstances:
          - name: mi1
            dnsZone: abcdef123
            sql:
              audits: [{ name: a, target: EXTERNAL_MONITOR }]
              serverAuditSpecifications: [{ name: s, audit: missing }]
`;
    assert.throws(
      () => parseFleet(bad, { validateSql }),
      (e: unknown) => e instanceof FleetValidationError && e.issues.some((i) => i.path.join(".") === "subscriptions.0.resourceGroups.0.managedInstances.0.sql.serverAuditSpecifications.0.audit" && i.line === 16),
    );
  });
});

describe("fleet JSON Schema", () => {
  it("emulator/fleets/fleet.schema.json is the schema generated from the zod schema", async () => {
    const { readFileSync } = await import("node:fs");
    const { fleetJsonSchema } = await import("../../emulator/fleet/json-schema.js");
    const committed = JSON.parse(readFileSync(shippedFleet("fleet.schema.json"), "utf8")) as unknown;
    assert.deepEqual(committed, JSON.parse(JSON.stringify(fleetJsonSchema())), "regenerate: npm run schemas");
  });
});
