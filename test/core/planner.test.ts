import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { evaluate, openFindings } from "../../src/core/evaluate.js";
import { plan, planTarget } from "../../src/core/plan.js";
import type { Observation, RemediationAction } from "../../src/core/domain.js";
import { audit, baseline, baselineWith, GUID_B, goodDiagnostics, goodPolicy, LAW, miObservation, miSql, NOW, OTHER_LAW, serverObservation, spec } from "./fixtures.js";

// The planner's exact output for each drift shape, pinned to the documented ordering rules ("ALTER SERVER AUDIT",
// "ALTER SERVER AUDIT SPECIFICATION": 33071, 33223, 33229, 33230). Whether a plan really converges is not decided
// here against a model of our own making: test/scan/mi-enforce-property.test.ts runs plans on the emulator's engine,
// and test/scan/managed-instance.test.ts re-reads every drift shape after its fix.
const B = baseline();
const statements = (actions: RemediationAction[]) => actions.filter((a) => a.kind === "tsql").map((a) => (a as { statement: string }).statement);

function planFor(observation: Observation, b = B) {
  return plan(b, observation, evaluate(b, observation, NOW));
}

function blockedFor(observation: Observation, b = B) {
  return planTarget(b, observation, evaluate(b, observation, NOW)).blocked;
}

const assertFixes = (observation: Observation) => planFor(observation);

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
    // Bound to another audit, the specification of the baseline's name is someone else's setup: a conflict to report.
    { name: "spec bound to another audit", sql: miSql({ audits: [audit(), audit({ name: "OtherAudit", auditGuid: GUID_B })], specifications: [spec({ auditGuid: GUID_B })] }), expected: [] },
    {
      name: "a filter on the audit",
      sql: miSql({ audits: [audit({ predicate: "([server_principal_name]<>'mallory')" })] }),
      expected: [`ALTER SERVER AUDIT ${AUDIT} WITH (STATE = OFF);`, `ALTER SERVER AUDIT ${AUDIT} REMOVE WHERE;`, `ALTER SERVER AUDIT ${AUDIT} WITH (STATE = ON);`],
    },
    {
      // sys.server_file_audits reports the container; an unreported retention is no reason to re-target.
      name: "URL audit at the baseline's container, retention not reported: nothing to change",
      sql: miSql({ audits: [audit({ type: "UL", typeDesc: "URL", target: { kind: "URL", path: "https://corpaudit.blob.core.windows.net/sqlaudit", retentionDays: null } })] }),
      expected: [],
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

  const urlBaseline = baselineWith({ managedInstance: { audit: { target: { url: { path: "https://corpaudit.blob.core.windows.net/sqlaudit", retentionDays: 30 } } } } });
  for (const c of cases) {
    it(c.name, () => {
      const b = c.name.startsWith("URL audit") ? urlBaseline : B;
      assert.deepEqual(statements(planFor(miObservation(c.sql), b)), c.expected);
    });
  }

  it("a specification bound to another audit is reported as the conflict it is, and left alone", () => {
    const observation = miObservation(miSql({ audits: [audit(), audit({ name: "OtherAudit", auditGuid: GUID_B })], specifications: [spec({ auditGuid: GUID_B })] }));
    const finding = evaluate(B, observation, NOW).find((f) => f.ruleId === "mi.specification.exists");
    assert.equal(finding?.status, "fail");
    assert.match(finding?.message ?? "", /bound to audit OtherAudit: a conflict AuditGuard does not resolve by taking it over/);
    const blocked = blockedFor(observation);
    assert.deepEqual(blocked.map((b) => b.ruleIds), [["mi.specification.exists", "mi.specification.groups", "mi.specification.enabled"]]);
    assert.match(blocked[0]!.reason, /bound to audit OtherAudit, not BackupRestoreAudit/);
  });

  it("the allowed filter: kept when it is the one on the audit, in whatever form the engine stores it", () => {
    const b = baselineWith({ managedInstance: { audit: { allowedFilter: "server_principal_name <> 'AzureSQLConnectivityChecker'" } } });
    assert.deepEqual(planFor(miObservation(miSql({ audits: [audit({ predicate: "([server_principal_name]<>N'AzureSQLConnectivityChecker')" })] })), b), []);
    assert.deepEqual(statements(planFor(miObservation(miSql({ audits: [audit({ predicate: "([server_principal_name]<>'mallory')" })] })), b)), [
      `ALTER SERVER AUDIT ${AUDIT} WITH (STATE = OFF);`,
      `ALTER SERVER AUDIT ${AUDIT} WHERE server_principal_name <> N'AzureSQLConnectivityChecker';`,
      `ALTER SERVER AUDIT ${AUDIT} WITH (STATE = ON);`,
    ]);
  });

  it("the URL target's retention is compared where the instance reports it", () => {
    const reported = miSql({ audits: [audit({ type: "UL", typeDesc: "URL", target: { kind: "URL", path: "https://corpaudit.blob.core.windows.net/sqlaudit/", retentionDays: 7 } })] });
    assert.deepEqual(statements(planFor(miObservation(reported), urlBaseline)), [
      `ALTER SERVER AUDIT ${AUDIT} WITH (STATE = OFF);`,
      `ALTER SERVER AUDIT ${AUDIT} TO URL (PATH = N'https://corpaudit.blob.core.windows.net/sqlaudit', RETENTION_DAYS = 30);`,
      `ALTER SERVER AUDIT ${AUDIT} WITH (STATE = ON);`,
    ]);
  });

  it("extra groups on the spec are kept", () => {
    const observation = miObservation(miSql({ specifications: [spec({ groups: ["FAILED_LOGIN_GROUP", "AUDIT_CHANGE_GROUP"] })] }));
    assert.deepEqual(statements(planFor(observation)), [
      `ALTER SERVER AUDIT SPECIFICATION ${SPEC} WITH (STATE = OFF);`,
      `ALTER SERVER AUDIT SPECIFICATION ${SPEC} ADD (BACKUP_RESTORE_GROUP);`,
      `ALTER SERVER AUDIT SPECIFICATION ${SPEC} WITH (STATE = ON);`,
    ], "only the missing group is added; nothing is dropped");
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
    const keyBased = {
      state: "Disabled",
      isAzureMonitorTargetEnabled: false,
      auditActionsAndGroups: ["BATCH_COMPLETED_GROUP", "DATABASE_LOGOUT_GROUP"],
      storageEndpoint: "https://audits.blob.core.windows.net/",
      retentionDays: 30,
      isDevopsAuditEnabled: true,
      storageAccountAccessKey: "secret-from-an-old-api",
    };
    it(`${kind}: disabled, monitor flag off and groups missing are fixed in one PUT that keeps the user's fields`, () => {
      const current = { ...keyBased, isManagedIdentityInUse: true };
      const put = planFor(serverObservation(kind, current))[0];
      assert.ok(put?.kind === "arm-auditing-put");
      assert.equal(put.policy, "auditingSettings");
      assert.deepEqual(put.body, {
        state: "Enabled",
        isAzureMonitorTargetEnabled: true,
        auditActionsAndGroups: ["BATCH_COMPLETED_GROUP", "DATABASE_LOGOUT_GROUP", "SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP", "FAILED_DATABASE_AUTHENTICATION_GROUP"],
        storageEndpoint: "https://audits.blob.core.windows.net/",
        retentionDays: 90,
        isDevopsAuditEnabled: true,
        isManagedIdentityInUse: true,
      });
    });

    // "storageAccountAccessKey: … If storageEndpoint is specified and storageAccountAccessKey is not, the storage will
    // be accessed with the server's managed identity" (Server Blob Auditing Policies - Create Or Update).
    it(`${kind}: a policy that reaches storage with a key is not rewritten unless the baseline allows the switch`, () => {
      const observation = serverObservation(kind, keyBased);
      assert.deepEqual(planFor(observation), []);
      const blocked = blockedFor(observation);
      assert.equal(blocked.length, 1);
      assert.match(blocked[0]!.reason, /a PUT cannot resend the key and would switch it to the managed identity/);
      const section = kind === "sql-server" ? "sqlServer" : "synapseWorkspace";
      const allowing = baselineWith({ [section]: { auditing: { storageAuthentication: "managedIdentity" } } });
      const put = planFor(observation, allowing)[0];
      assert.ok(put?.kind === "arm-auditing-put");
      assert.equal(put.body.isManagedIdentityInUse, true);
      assert.match(put.description, /switching its storage access to the managed identity, as the baseline allows/);
    });

    it(`${kind}: a filter (predicateExpression) is removed through the extended policy, everything else kept`, () => {
      const put = planFor(serverObservation(kind, { ...goodPolicy, predicateExpression: "server_principal_name <> 'mallory'" }))[0];
      assert.ok(put?.kind === "arm-auditing-put");
      assert.equal(put.policy, "extendedAuditingSettings");
      assert.deepEqual(put.body, { ...goodPolicy, predicateExpression: "" });
      assert.deepEqual(put.ruleIds, [`${kind === "sql-server" ? "sql" : "synapse"}.auditing.filter`]);
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
