import type { AuditTarget, ManagedInstanceSql, Observation, ObservationError, Observed, ObservedActivity, ObservedDiagnosticSetting, Target } from "../core/domain.js";
import { diagnosticResourceUri } from "../core/domain.js";
import { getAuditingPolicy, listDiagnosticSettings } from "../azure/arm-auditing.js";
import { readAuditActivity } from "../azure/audit-activity.js";
import { SqlAuditConnection } from "../azure/sql-audit.js";
import type { RawAuditCatalog } from "../azure/sql-audit.js";
import { describeError } from "./errors.js";
import type { Operation } from "./errors.js";
import type { ScanEnvironment } from "./environment.js";
import { durationMs } from "./environment.js";

/**
 * Reads what a target looks like. Each part (T-SQL audits, auditing policy, diagnostic settings, activity) is
 * read independently: one failing part becomes an error for the rules that need it and nothing else.
 */
async function attempt<T>(operation: Operation, resource: string, read: () => Promise<T>): Promise<Observed<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (error) {
    const d = describeError(error, operation, resource);
    const e: ObservationError = { code: d.code, message: d.message, ...(d.missingPermission ? { missingPermission: d.missingPermission } : {}), ...(d.transient ? { transient: true } : {}) };
    return { ok: false, error: e };
  }
}

/** The audit's target, derived defensively from the type text: MI's type codes are undocumented data. */
export function auditTargetOf(typeDesc: string, filePath: string | null): AuditTarget {
  const desc = typeDesc.toUpperCase();
  if (desc.includes("EXTERNAL_MONITOR") || desc.includes("EXTERNAL MONITOR")) return { kind: "EXTERNAL_MONITOR" };
  if (desc.includes("URL") || (filePath ?? "").toLowerCase().startsWith("https://")) return { kind: "URL", path: filePath, retentionDays: null };
  return { kind: "OTHER", description: typeDesc || "unknown" };
}

export function toManagedInstanceSql(raw: RawAuditCatalog): ManagedInstanceSql {
  return {
    engineEdition: raw.server.engineEdition,
    loginName: raw.server.loginName,
    canAlterAudits: raw.server.canAlterAudits,
    audits: raw.audits.map((a) => ({
      name: a.name,
      auditGuid: a.auditGuid,
      type: a.type,
      typeDesc: a.typeDesc,
      target: auditTargetOf(a.typeDesc, a.auditFilePath),
      isStateEnabled: a.isStateEnabled,
      queueDelay: a.queueDelay,
      onFailure: a.onFailureDesc,
      predicate: a.predicate,
      status: a.statusDesc,
    })),
    specifications: raw.specifications.map((s) => ({
      name: s.name,
      auditGuid: s.auditGuid,
      isStateEnabled: s.isStateEnabled,
      groups: raw.details.filter((d) => d.specificationId === s.id).map((d) => d.actionName),
    })),
  };
}

/** Connection settings for a target's instance, bounded by the baseline's per-target timeout. */
export function sqlTargetOf(env: ScanEnvironment, target: Target) {
  if (!target.fullyQualifiedDomainName) throw Object.assign(new Error("the instance has no fully qualified domain name"), { code: "NoEndpoint" });
  const timeoutMs = Math.min(15_000, env.baseline.scan.targetTimeoutSeconds * 1000);
  return {
    target: { serverName: target.fullyQualifiedDomainName, ...(env.sqlConnect ? { connect: env.sqlConnect } : {}) },
    access: { credential: env.credential, encryption: env.sqlEncryption, connectTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs * 2, ...(env.caPem ? { caPem: env.caPem } : {}) },
  };
}

const SQL_READ_ATTEMPTS = 3;

/** Reads the audit catalog, retrying transient failures (dropped connections, transient login errors). */
export async function readManagedInstanceSql(env: ScanEnvironment, target: Target, signal?: AbortSignal): Promise<ManagedInstanceSql> {
  const { target: sqlTarget, access } = sqlTargetOf(env, target);
  for (let attempt = 1; ; attempt++) {
    try {
      const connection = await SqlAuditConnection.open(sqlTarget, access);
      try {
        return toManagedInstanceSql(await connection.readCatalog());
      } finally {
        await connection.close().catch(() => undefined);
      }
    } catch (error) {
      const transient = describeError(error, "read-sql-audit", target.id).transient;
      if (!transient || attempt >= SQL_READ_ATTEMPTS || signal?.aborted) throw error;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

export interface ObserveOptions {
  now: Date;
  signal?: AbortSignal;
  /** Reuse an earlier activity read (re-observation after remediation does not change the audit history). */
  activity?: Observed<ObservedActivity>;
  skipActivity?: boolean;
}

export async function observeTarget(env: ScanEnvironment, target: Target, options: ObserveOptions): Promise<Observation> {
  const { baseline, clients } = env;
  const signal = options.signal;
  const diagnostics = attempt<ObservedDiagnosticSetting[]>("read-diagnostic-settings", target.id, () =>
    listDiagnosticSettings(clients, target.subscriptionId, diagnosticResourceUri(target), signal),
  );
  const sql = target.kind === "sql-managed-instance" ? attempt("read-sql-audit", target.id, () => readManagedInstanceSql(env, target, signal)) : undefined;
  const policy =
    target.kind === "sql-managed-instance"
      ? undefined
      : attempt("read-auditing-policy", target.id, () =>
          getAuditingPolicy(clients, { kind: target.kind as "sql-server" | "synapse-workspace", subscriptionId: target.subscriptionId, resourceGroup: target.resourceGroup, name: target.name }, "auditingSettings", signal),
        );
  const diagnosticSettings = await diagnostics;
  let activity = options.activity;
  if (!activity && !options.skipActivity) {
    const to = options.now;
    const from = new Date(to.getTime() - durationMs(baseline.activity.lookback));
    const dedicated = diagnosticSettings.ok && diagnosticSettings.value.some((s) => s.logAnalyticsDestinationType === "Dedicated");
    const hours = baseline.activity.silenceHours;
    activity = await attempt<ObservedActivity>("read-activity", target.id, async () => {
      const read = await readAuditActivity(clients, target.id, {
        from,
        to,
        dedicatedTable: dedicated,
        ...(hours ? { silenceSince: new Date(to.getTime() - hours * 3600_000) } : {}),
        ...(signal ? { signal } : {}),
      });
      return {
        window: read.window,
        events: read.events.map(({ resourceId: _r, ...event }) => event),
        ...(read.lastEventTime !== undefined ? { lastEventTime: read.lastEventTime } : {}),
      };
    });
  }
  const observation: Observation = { target, observedAt: options.now.toISOString(), diagnosticSettings };
  if (sql) observation.sql = await sql;
  if (policy) observation.auditingPolicy = await policy;
  if (activity) observation.activity = activity;
  return observation;
}
