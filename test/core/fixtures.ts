import { parseBaseline } from "../../src/core/policy/load.js";
import type { Baseline } from "../../src/core/policy/schema.js";
import type { ManagedInstanceSql, Observation, ObservedAudit, ObservedDiagnosticSetting, ObservedSpecification, Target } from "../../src/core/domain.js";

export const NOW = new Date("2026-11-24T12:00:00Z");
export const SUB = "11111111-1111-4111-8111-111111111111";
export const LAW = `/subscriptions/${SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law-security`;
export const OTHER_LAW = `/subscriptions/${SUB}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law-other`;

export function baseline(extra = ""): Baseline {
  const text = `version: 1
mode: enforce
managedInstance:
  diagnosticSetting: { workspaceId: ${LAW} }
sqlServer:
  diagnosticSetting: { workspaceId: ${LAW} }
synapseWorkspace:
  diagnosticSetting: { workspaceId: ${LAW} }
activity:
  allowedBackupStorageAccounts: [corpbackups]
  scannerPrincipals: [auditguard-scanner]
${extra}`;
  const parsed = parseBaseline(text);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.baseline;
}

/** The test baseline with some sections' fields replaced or added (one level deep per section). */
export function baselineWith(sections: Record<string, Record<string, unknown>>): Baseline {
  const base: Record<string, Record<string, unknown>> = {
    managedInstance: { diagnosticSetting: { workspaceId: LAW } },
    sqlServer: { diagnosticSetting: { workspaceId: LAW } },
    synapseWorkspace: { diagnosticSetting: { workspaceId: LAW } },
    activity: { allowedBackupStorageAccounts: ["corpbackups"], scannerPrincipals: ["auditguard-scanner"] },
  };
  for (const [name, fields] of Object.entries(sections)) base[name] = { ...base[name], ...fields };
  const parsed = parseBaseline(JSON.stringify({ version: 1, mode: "enforce", ...base }));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.baseline;
}

export function target(kind: Target["kind"] = "sql-managed-instance", name = "mi-1", tags: Record<string, string> = {}): Target {
  const provider = kind === "sql-managed-instance" ? "Microsoft.Sql/managedInstances" : kind === "sql-server" ? "Microsoft.Sql/servers" : "Microsoft.Synapse/workspaces";
  return { id: `/subscriptions/${SUB}/resourceGroups/rg-data/providers/${provider}/${name}`, kind, name, subscriptionId: SUB, resourceGroup: "rg-data", location: "westeurope", tags };
}

export const GUID_A = "8e4f1c5a-0000-4000-8000-00000000000a";
export const GUID_B = "8e4f1c5a-0000-4000-8000-00000000000b";

export function audit(over: Partial<ObservedAudit> = {}): ObservedAudit {
  return {
    name: "BackupRestoreAudit",
    auditGuid: GUID_A,
    type: "EM",
    typeDesc: "EXTERNAL_MONITOR",
    target: { kind: "EXTERNAL_MONITOR" },
    isStateEnabled: true,
    queueDelay: 1000,
    onFailure: "CONTINUE",
    predicate: null,
    status: "STARTED",
    ...over,
  };
}

export function spec(over: Partial<ObservedSpecification> = {}): ObservedSpecification {
  return { name: "BackupRestoreAuditSpec", auditGuid: GUID_A, isStateEnabled: true, groups: ["BACKUP_RESTORE_GROUP", "AUDIT_CHANGE_GROUP"], ...over };
}

export function miSql(over: Partial<ManagedInstanceSql> = {}): ManagedInstanceSql {
  return { engineEdition: 8, loginName: "auditguard-scanner", canAlterAudits: true, audits: [audit()], specifications: [spec()], ...over };
}

export const goodDiagnostics: ObservedDiagnosticSetting[] = [{ name: "audit-to-law", workspaceId: LAW, logs: [{ category: "SQLSecurityAuditEvents", enabled: true }] }];

export function miObservation(sql: ManagedInstanceSql = miSql(), diagnostics: ObservedDiagnosticSetting[] = goodDiagnostics): Observation {
  return {
    target: target(),
    observedAt: NOW.toISOString(),
    sql: { ok: true, value: sql },
    diagnosticSettings: { ok: true, value: diagnostics },
    activity: { ok: true, value: { window: { from: "2026-11-24T10:45:00.000Z", to: NOW.toISOString() }, events: [] } },
  };
}

export function serverObservation(kind: "sql-server" | "synapse-workspace", policy: Record<string, unknown>, diagnostics: ObservedDiagnosticSetting[] = goodDiagnostics): Observation {
  return {
    target: target(kind, kind === "sql-server" ? "sql-1" : "syn-1"),
    observedAt: NOW.toISOString(),
    auditingPolicy: { ok: true, value: policy },
    diagnosticSettings: { ok: true, value: diagnostics },
  };
}

export const goodPolicy = {
  state: "Enabled",
  isAzureMonitorTargetEnabled: true,
  auditActionsAndGroups: ["BATCH_COMPLETED_GROUP", "SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP", "FAILED_DATABASE_AUTHENTICATION_GROUP"],
  retentionDays: 0,
};
