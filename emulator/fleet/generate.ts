import { mulberry32 } from "../faults/prng.js";
import { stableGuid } from "../estate/ids.js";
import type { FleetInput } from "./schema.js";

/**
 * A fleet of any size for benchmarks and scale tests: resources spread over subscriptions and resource groups,
 * a seeded mix of compliant and drifted ones (the same drift kinds as demo.yaml), one designated security
 * workspace and one other workspace. Same options, same fleet.
 */
export interface GenerateFleetOptions {
  seed?: number;
  subscriptions?: number;
  resourceGroupsPerSubscription?: number;
  managedInstances: number;
  sqlServers?: number;
  synapseWorkspaces?: number;
  /** Fraction (0..1) of resources with some drift; the rest are compliant. */
  driftRate?: number;
  armPageSize?: number;
  /**
   * Log Analytics workspaces the targets send their audit to, taken in turn (`law-00`, `law-01`, ..., spread over
   * the subscriptions), as an estate with regional workspaces has them; the designated workspace hint is the first.
   * Default: one, `law-security`. The `other-workspace` drift sends to `law-other` either way.
   */
  workspaces?: number;
  faults?: FleetInput["faults"];
  /** Lift ARM's and Resource Graph's throttling and Log Analytics' limits (a benchmark measures the scanner, not the quotas). */
  liftServiceLimits?: boolean;
}

/** The fleet keys that lift every service limit the emulator enforces by default. */
export const LIFTED_SERVICE_LIMITS = {
  armThrottling: false,
  enforceResourceGraphQuota: false,
  logAnalyticsRateLimit: false,
  logAnalyticsQueryLimits: false,
} as const satisfies Partial<FleetInput>;

export const MI_DRIFTS = ["audit-missing", "audit-off", "spec-missing-group", "spec-off", "no-diagnostic-setting", "other-workspace", "exempt"] as const;
export type MiDrift = (typeof MI_DRIFTS)[number] | "compliant";

const GROUPS = ["BACKUP_RESTORE_GROUP", "AUDIT_CHANGE_GROUP"];
/** What a compliant server or workspace audits: the groups their API accepts (AUDIT_CHANGE_GROUP is not one). */
const SERVER_GROUPS = ["BACKUP_RESTORE_GROUP", "BATCH_COMPLETED_GROUP"];

function miSql(drift: MiDrift, scannerLogin: Record<string, unknown>): Record<string, unknown> {
  const audit = { name: "auditguard", target: "EXTERNAL_MONITOR", enabled: drift !== "audit-off", queueDelay: 1000, onFailure: "CONTINUE" };
  const spec = {
    name: "auditguard-spec",
    audit: "auditguard",
    enabled: drift !== "spec-off",
    actionGroups: drift === "spec-missing-group" ? ["AUDIT_CHANGE_GROUP"] : GROUPS,
  };
  if (drift === "audit-missing" || drift === "exempt") return { logins: [scannerLogin], audits: [], serverAuditSpecifications: [] };
  return { logins: [scannerLogin], audits: [audit], serverAuditSpecifications: [spec] };
}

export function generateFleet(options: GenerateFleetOptions): { fleet: FleetInput; drift: Record<string, MiDrift> } {
  const seed = options.seed ?? 1;
  const random = mulberry32(seed);
  const subs = Math.max(1, options.subscriptions ?? 3);
  const groupsPerSub = Math.max(1, options.resourceGroupsPerSubscription ?? 4);
  const driftRate = options.driftRate ?? 0.3;
  const id = (label: string) => stableGuid(`fleet:${seed}:${label}`);
  const subscriptionIds = Array.from({ length: subs }, (_, i) => id(`sub:${i}`));
  const drift: Record<string, MiDrift> = {};
  const groups = subscriptionIds.map((sub, s) =>
    Array.from({ length: groupsPerSub }, (_, g) => ({
      name: `rg-${s}-${g}`,
      location: ["westeurope", "northeurope", "eastus", "uksouth"][g % 4]!,
      managedInstances: [] as Record<string, unknown>[],
      sqlServers: [] as Record<string, unknown>[],
      synapseWorkspaces: [] as Record<string, unknown>[],
      logAnalyticsWorkspaces: [] as Record<string, unknown>[],
    })),
  );
  const logs = groups[0]![0]!;
  const workspaceCount = options.workspaces;
  const workspaceNames = workspaceCount ? Array.from({ length: Math.max(1, workspaceCount) }, (_, w) => `law-${String(w).padStart(2, "0")}`) : ["law-security"];
  workspaceNames.forEach((name, w) => groups[w % subs]![0]!.logAnalyticsWorkspaces.push({ name, customerId: id(workspaceCount ? `law:${w}` : "law:security") }));
  logs.logAnalyticsWorkspaces.push({ name: "law-other", customerId: id("law:other") });
  const auditWorkspace = (i: number) => workspaceNames[i % workspaceNames.length]!;
  const place = (i: number) => groups[i % subs]![Math.floor(i / subs) % groupsPerSub]!;
  const pickDrift = (): MiDrift => (random() < driftRate ? MI_DRIFTS[Math.floor(random() * MI_DRIFTS.length)]! : "compliant");
  const auditSetting = (workspace: string) => [{ name: "audit", workspace, logs: [{ category: "SQLSecurityAuditEvents" }] }];

  const scannerLogin = {
    kind: "entra",
    name: "auditguard-scanner",
    objectId: id("scanner:principal"),
    appId: id("scanner:client"),
    permissions: ["ALTER ANY SERVER AUDIT", "VIEW SERVER STATE", "VIEW ANY DEFINITION"],
  };
  for (let i = 0; i < options.managedInstances; i++) {
    const name = `mi-${String(i).padStart(5, "0")}`;
    const d = pickDrift();
    drift[name] = d;
    place(i).managedInstances.push({
      name,
      dnsZone: stableGuid(`zone:${seed}:${i % 7}`).replace(/-/g, "").slice(0, 12),
      tags: d === "exempt" ? { "auditguard:exempt": "true" } : { env: i % 3 === 0 ? "prod" : "dev" },
      diagnosticSettings: d === "no-diagnostic-setting" ? [] : auditSetting(d === "other-workspace" ? "law-other" : auditWorkspace(i)),
      sql: miSql(d, scannerLogin),
    });
  }
  for (let i = 0; i < (options.sqlServers ?? 0); i++) {
    const drifted = random() < driftRate;
    place(i).sqlServers.push({
      name: `sql-${String(i).padStart(5, "0")}`,
      auditingSettings: drifted
        ? { state: "Disabled" }
        : { state: "Enabled", isAzureMonitorTargetEnabled: true, auditActionsAndGroups: SERVER_GROUPS },
      diagnosticSettings: drifted ? [] : auditSetting(auditWorkspace(i)),
    });
  }
  for (let i = 0; i < (options.synapseWorkspaces ?? 0); i++) {
    const drifted = random() < driftRate;
    place(i).synapseWorkspaces.push({
      name: `syn-${String(i).padStart(5, "0")}`,
      auditingSettings: drifted ? { state: "Enabled", storageEndpoint: "https://auditstore.blob.core.windows.net/", retentionDays: 30 } : { state: "Enabled", isAzureMonitorTargetEnabled: true, auditActionsAndGroups: SERVER_GROUPS },
      diagnosticSettings: auditSetting(auditWorkspace(i)),
    });
  }

  const fleet: FleetInput = {
    tenantId: id("tenant"),
    scanner: {
      principalId: id("scanner:principal"),
      clientId: id("scanner:client"),
      displayName: "auditguard-scanner",
      roleAssignments: subscriptionIds.map((scope) => ({ scope: `/subscriptions/${scope}`, role: "Contributor" as const })),
    },
    subscriptions: subscriptionIds.map((sub, s) => ({
      id: sub,
      displayName: `Generated ${s + 1}`,
      resourceGroups: groups[s]!.filter((g) => g.managedInstances.length + g.sqlServers.length + g.synapseWorkspaces.length + g.logAnalyticsWorkspaces.length > 0) as never,
    })),
    baselineHints: { designatedWorkspace: workspaceNames[0]!, allowedBackupStorageAccounts: ["contosobackups"] },
    ...(options.armPageSize ? { armPageSize: options.armPageSize } : {}),
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.liftServiceLimits ? LIFTED_SERVICE_LIMITS : {}),
  };
  return { fleet, drift };
}
