import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { evaluate, openFindings } from "../../src/core/evaluate.js";
import { plan } from "../../src/core/plan.js";
import type { Observation, RemediationAction } from "../../src/core/domain.js";
import { applyPlan } from "./state-model.js";
import { audit, baseline, GUID_B, goodDiagnostics, goodPolicy, LAW, miObservation, miSql, NOW, OTHER_LAW, serverObservation, spec } from "./fixtures.js";

const B = baseline();
const statements = (actions: RemediationAction[]) => actions.filter((a) => a.kind === "tsql").map((a) => (a as { statement: string }).statement);

function planFor(observation: Observation) {
  return plan(B, observation, evaluate(B, observation, NOW));
}

/** Applies the plan to the model, then proves the result evaluates clean and re-plans to nothing. */
function assertFixes(observation: Observation) {
  const actions = planFor(observation);
  const after = applyPlan(observation, actions);
  const remaining = openFindings(evaluate(B, after, NOW));
  assert.deepEqual(remaining.map((f) => `${f.ruleId}: ${f.message}`), [], "a second evaluate is clean");
  assert.deepEqual(planFor(after), [], "re-planning a clean state yields nothing");
  return actions;
}

const AUDIT = "[BackupRestoreAudit]";
const SPEC = "[BackupRestoreAuditSpec]";

describe("Managed Instance drift shapes: exact T-SQL in the order the instance accepts", () => {
  const cases: Array<{ name: string; sql: ReturnType<typeof miSql>; expected: string[] }> = [
    { name: "compliant", sql: miSql(), expected: [] },
    {
      name: "audit missing (spec missing too)",
      sql: miSql({ audits: [], specifications: [] }),
      expected: [
        `CREATE SERVER AUDIT ${AUDIT} TO EXTERNAL_MONITOR WITH (QUEUE_DELAY = 1000, ON_FAILURE = CONTINUE);`,
        `CREATE SERVER AUDIT SPECIFICATION ${SPEC} FOR SERVER AUDIT ${AUDIT} ADD (BACKUP_RESTORE_GROUP), ADD (AUDIT_CHANGE_GROUP) WITH (STATE = OFF);`,
        `ALTER SERVER AUDIT SPECIFICATION ${SPEC} WITH (STATE = ON);`,
        `ALTER SERVER AUDIT ${AUDIT} WITH (STATE = ON);`,
      ],
    },
    {
      name: "audit missing, our spec left bound to a dropped audit",
      sql: miSql({ audits: [], specifications: [spec({ auditGuid: null })] }),
      expected: [
        `CREATE SERVER AUDIT ${AUDIT} TO EXTERNAL_MONITOR WITH (QUEUE_DELAY = 1000, ON_FAILURE = CONTINUE);`,
        `ALTER SERVER AUDIT SPECIFICATION ${SPEC} WITH (STATE = OFF);`,
        `DROP SERVER AUDIT SPECIFICATION ${SPEC};`,
        `CREATE SERVER AUDIT SPECIFICATION ${SPEC} FOR SERVER AUDIT ${AUDIT} ADD (BACKUP_RESTORE_GROUP), ADD (AUDIT_CHANGE_GROUP) WITH (STATE = OFF);`,
        `ALTER SERVER AUDIT SPECIFICATION ${SPEC} WITH (STATE = ON);`,
        `ALTER SERVER AUDIT ${AUDIT} WITH (STATE = ON);`,
      ],
    },
    {
      name: "wrong target (URL instead of EXTERNAL_MONITOR)",
      sql: miSql({ audits: [audit({ type: "UL", typeDesc: "URL", target: { kind: "URL", path: "https://x.blob.core.windows.net/audit", retentionDays: 0 } })] }),
      expected: [`ALTER SERVER AUDIT ${AUDIT} WITH (STATE = OFF);`, `ALTER SERVER AUDIT ${AUDIT} TO EXTERNAL_MONITOR;`, `ALTER SERVER AUDIT ${AUDIT} WITH (STATE = ON);`],
    },
    { name: "audit disabled", sql: miSql({ audits: [audit({ isStateEnabled: false, status: null })] }), expected: [`ALTER SERVER AUDIT ${AUDIT} WITH (STATE = ON);`] },
    {
      name: "audit enabled but not STARTED",
      sql: miSql({ audits: [audit({ status: "RUNTIME_FAIL" })] }),
      expected: [`ALTER SERVER AUDIT ${AUDIT} WITH (STATE = OFF);`, `ALTER SERVER AUDIT ${AUDIT} WITH (STATE = ON);`],
    },
    {
      name: "QUEUE_DELAY and ON_FAILURE differ",
      sql: miSql({ audits: [audit({ queueDelay: 5000, onFailure: "FAIL_OPERATION" })] }),
      expected: [`ALTER SERVER AUDIT ${AUDIT} WITH (STATE = OFF);`, `ALTER SERVER AUDIT ${AUDIT} WITH (QUEUE_DELAY = 1000, ON_FAILURE = CONTINUE);`, `ALTER SERVER AUDIT ${AUDIT} WITH (STATE = ON);`],
    },
    {
      name: "spec missing",
      sql: miSql({ specifications: [] }),
      expected: [
        `CREATE SERVER AUDIT SPECIFICATION ${SPEC} FOR SERVER AUDIT ${AUDIT} ADD (BACKUP_RESTORE_GROUP), ADD (AUDIT_CHANGE_GROUP) WITH (STATE = OFF);`,
        `ALTER SERVER AUDIT SPECIFICATION ${SPEC} WITH (STATE = ON);`,
      ],
    },
    {
      name: "spec bound to another audit",
      sql: miSql({ audits: [audit(), audit({ name: "OtherAudit", auditGuid: GUID_B })], specifications: [spec({ auditGuid: GUID_B })] }),
      expected: [
        `ALTER SERVER AUDIT SPECIFICATION ${SPEC} WITH (STATE = OFF);`,
        `DROP SERVER AUDIT SPECIFICATION ${SPEC};`,
        `CREATE SERVER AUDIT SPECIFICATION ${SPEC} FOR SERVER AUDIT ${AUDIT} ADD (BACKUP_RESTORE_GROUP), ADD (AUDIT_CHANGE_GROUP) WITH (STATE = OFF);`,
        `ALTER SERVER AUDIT SPECIFICATION ${SPEC} WITH (STATE = ON);`,
      ],
    },
    {
      name: "group missing (spec on)",
      sql: miSql({ specifications: [spec({ groups: ["AUDIT_CHANGE_GROUP", "FAILED_LOGIN_GROUP"] })] }),
      expected: [`ALTER SERVER AUDIT SPECIFICATION ${SPEC} WITH (STATE = OFF);`, `ALTER SERVER AUDIT SPECIFICATION ${SPEC} ADD (BACKUP_RESTORE_GROUP);`, `ALTER SERVER AUDIT SPECIFICATION ${SPEC} WITH (STATE = ON);`],
    },
    { name: "spec disabled", sql: miSql({ specifications: [spec({ isStateEnabled: false })] }), expected: [`ALTER SERVER AUDIT SPECIFICATION ${SPEC} WITH (STATE = ON);`] },
    {
      name: "everything off and a group missing",
      sql: miSql({ audits: [audit({ isStateEnabled: false, status: null })], specifications: [spec({ isStateEnabled: false, groups: ["AUDIT_CHANGE_GROUP"] })] }),
      expected: [`ALTER SERVER AUDIT SPECIFICATION ${SPEC} ADD (BACKUP_RESTORE_GROUP);`, `ALTER SERVER AUDIT SPECIFICATION ${SPEC} WITH (STATE = ON);`, `ALTER SERVER AUDIT ${AUDIT} WITH (STATE = ON);`],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const observation = miObservation(c.sql);
      const actions = assertFixes(observation);
      assert.deepEqual(statements(actions), c.expected);
    });
  }

  it("extra groups on the spec are kept", () => {
    const observation = miObservation(miSql({ specifications: [spec({ groups: ["FAILED_LOGIN_GROUP", "AUDIT_CHANGE_GROUP"] })] }));
    const after = applyPlan(observation, planFor(observation));
    assert.deepEqual(after.sql?.ok && after.sql.value.specifications[0]!.groups, ["FAILED_LOGIN_GROUP", "AUDIT_CHANGE_GROUP", "BACKUP_RESTORE_GROUP"]);
  });

  it("a specification with another name serving the audit is not ours to change: reported, not planned", () => {
    const observation = miObservation(miSql({ specifications: [spec({ name: "TheirSpec", groups: ["AUDIT_CHANGE_GROUP"] })] }));
    const findings = evaluate(B, observation, NOW);
    assert.equal(findings.find((f) => f.ruleId === "mi.specification.groups")?.status, "fail");
    assert.deepEqual(statements(plan(B, observation, findings)), []);
  });

  it("an audit the baseline does not name is never dropped or altered", () => {
    const observation = miObservation(miSql({ audits: [audit({ name: "LegacyAudit", auditGuid: GUID_B, isStateEnabled: false })], specifications: [] }));
    for (const s of statements(planFor(observation))) assert.doesNotMatch(s, /LegacyAudit/);
  });

  it("a plan for an unreadable or non-MI server is empty", () => {
    assert.deepEqual(planFor({ ...miObservation(), sql: { ok: false, error: { code: "ELOGIN", message: "Login failed" } } }), []);
    assert.deepEqual(planFor(miObservation(miSql({ engineEdition: 5, audits: [] }))), []);
  });
});

describe("diagnostic settings", () => {
  it("missing: a new setting is created", () => {
    const actions = assertFixes(miObservation(miSql(), []));
    assert.equal(actions.length, 1);
    assert.deepEqual(actions[0], {
      kind: "diagnostic-setting-put",
      ruleIds: ["mi.diagnostic-setting"],
      description: "Create diagnostic setting auditguard-SQLSecurityAuditEvents sending SQLSecurityAuditEvents to the designated workspace",
      resourceUri: miObservation().target.id,
      name: "auditguard-SQLSecurityAuditEvents",
      body: { workspaceId: LAW, logs: [{ category: "SQLSecurityAuditEvents", enabled: true }] },
    });
  });

  it("pointing elsewhere: another tool's setting is left alone and ours is added", () => {
    const theirs = [{ name: "siem", workspaceId: OTHER_LAW, logs: [{ category: "SQLSecurityAuditEvents", enabled: true }] }];
    const actions = assertFixes(miObservation(miSql(), theirs));
    assert.equal(actions[0]?.kind === "diagnostic-setting-put" && actions[0].name, "auditguard-SQLSecurityAuditEvents");
  });

  it("our own setting lacking the category is updated in place, keeping its other logs", () => {
    const ours = [{ name: "auditguard-SQLSecurityAuditEvents", workspaceId: LAW, logs: [{ category: "Errors", enabled: true }] }];
    const actions = assertFixes(miObservation(miSql(), ours));
    assert.deepEqual(actions[0]?.kind === "diagnostic-setting-put" && actions[0].body.logs, [{ category: "Errors", enabled: true }, { category: "SQLSecurityAuditEvents", enabled: true }]);
  });

  it("any setting already sending the category to the workspace is accepted, by category group too", () => {
    const other = [{ name: "policy-made", workspaceId: LAW.toUpperCase(), logs: [{ categoryGroup: "audit", enabled: true }] }];
    assert.deepEqual(planFor(miObservation(miSql(), other)), []);
  });

  it("a disabled category does not count", () => {
    const off = [{ name: "x", workspaceId: LAW, logs: [{ category: "SQLSecurityAuditEvents", enabled: false }] }];
    assert.equal(planFor(miObservation(miSql(), off)).length, 1);
  });
});

describe("SQL server and Synapse auditing policies", () => {
  for (const kind of ["sql-server", "synapse-workspace"] as const) {
    it(`${kind}: disabled, monitor flag off and groups missing are fixed in one PUT that keeps the user's fields`, () => {
      const current = {
        state: "Disabled",
        isAzureMonitorTargetEnabled: false,
        auditActionsAndGroups: ["BATCH_COMPLETED_GROUP", "DATABASE_LOGOUT_GROUP"],
        storageEndpoint: "https://audits.blob.core.windows.net/",
        retentionDays: 30,
        isDevopsAuditEnabled: true,
        storageAccountAccessKey: "secret-from-an-old-api",
      };
      const actions = assertFixes(serverObservation(kind, current));
      const put = actions[0];
      assert.ok(put?.kind === "arm-auditing-put");
      assert.deepEqual(put.body, {
        state: "Enabled",
        isAzureMonitorTargetEnabled: true,
        auditActionsAndGroups: ["BATCH_COMPLETED_GROUP", "DATABASE_LOGOUT_GROUP", "SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP", "FAILED_DATABASE_AUTHENTICATION_GROUP"],
        storageEndpoint: "https://audits.blob.core.windows.net/",
        retentionDays: 90,
        isDevopsAuditEnabled: true,
      });
    });

    it(`${kind}: compliant policy plans nothing; retention 0 (unlimited) passes`, () => {
      assert.deepEqual(planFor(serverObservation(kind, { ...goodPolicy, storageEndpoint: "https://a.blob.core.windows.net/", retentionDays: 0 })), []);
    });

    it(`${kind}: diagnostic setting missing on the resource`, () => {
      const actions = assertFixes(serverObservation(kind, goodPolicy, []));
      assert.equal(actions.length, 1);
      const put = actions[0]!;
      assert.ok(put.kind === "diagnostic-setting-put");
      assert.equal(put.resourceUri.endsWith("/databases/master"), kind === "sql-server");
    });
  }
});

describe("exemptions", () => {
  it("a tagged target is exempt: nothing is planned", () => {
    const observation = miObservation(miSql({ audits: [], specifications: [] }));
    observation.target.tags = { "auditguard:exempt": "true" };
    const findings = evaluate(B, observation, NOW);
    assert.ok(findings.some((f) => f.status === "exempt"));
    assert.deepEqual(openFindings(findings), []);
    assert.deepEqual(plan(B, observation, findings), []);
  });

  it("a listed exemption holds until its expiry day and then no longer exempts", () => {
    const observation = miObservation(miSql({ audits: [audit({ isStateEnabled: false, status: null })] }));
    const b = baseline(`exemptions:\n  resources:\n    - resourceId: ${observation.target.id}\n      reason: migration window\n      expires: 2026-11-24\n      rules: [mi.audit.enabled, mi.audit.started]\n`);
    const during = evaluate(b, observation, NOW);
    assert.equal(during.find((f) => f.ruleId === "mi.audit.enabled")?.status, "exempt");
    const after = evaluate(b, observation, new Date("2026-11-25T00:00:01Z"));
    const finding = after.find((f) => f.ruleId === "mi.audit.enabled");
    assert.equal(finding?.status, "fail");
    assert.deepEqual(finding?.evidence?.expiredExemption, { reason: "migration window", expired: "2026-11-24" });
  });
});

describe("the planner is deterministic", () => {
  it("the same input gives the same plan", () => {
    const observation = miObservation(miSql({ audits: [], specifications: [] }), []);
    assert.deepEqual(planFor(observation), planFor(structuredClone(observation)));
  });
  it("goodDiagnostics fixture is compliant", () => {
    assert.deepEqual(openFindings(evaluate(B, miObservation(miSql(), goodDiagnostics), NOW)), []);
  });
});
