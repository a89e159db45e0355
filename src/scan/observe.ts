import type { AuditTarget, ManagedInstanceSql, Observation, ObservationError, Observed, ObservedActivity, ObservedDiagnosticSetting, Target } from "../core/domain.js";
import { diagnosticResourceUri } from "../core/domain.js";
import { getAuditingPolicy, listDiagnosticSettings } from "../azure/arm-auditing.js";
import { auditRoutes } from "../core/activity/classify.js";
import { SqlAuditConnection } from "../azure/sql-audit.js";
import type { RawAuditCatalog } from "../azure/sql-audit.js";
import { describeError, UntrustedTargetError } from "./errors.js";
import type { Operation } from "./errors.js";
import type { ScanEnvironment } from "./environment.js";
import type { Budget } from "./budget.js";
import { sleepUnder } from "./budget.js";
import { trustedSqlHost } from "./target-trust.js";

/**
 * Reads what a target looks like. Each part (T-SQL audits, auditing policy, diagnostic settings, activity) is
 * read independently, under the target's budget: one failing or stalled part becomes an error for the rules that
 * need it and nothing else, and its reason names the call.
 */
async function attempt<T>(budget: Budget, operation: Operation, call: string, resource: string, read: (signal: AbortSignal) => Promise<T>): Promise<Observed<T>> {
  try {
    return { ok: true, value: await budget.call(call, read) };
  } catch (error) {
    const d = describeError(error, operation, resource, budget.signal);
    const e: ObservationError = { code: d.code, message: d.message, ...(d.missingPermission ? { missingPermission: d.missingPermission } : {}), ...(d.transient ? { transient: true } : {}) };
    return { ok: false, error: e };
  }
}

type FileAudit = RawAuditCatalog["fileAudits"][number];

/**
 * The audit's target, derived defensively from the type text (MI's type codes are undocumented data) and, for a
 * URL audit, its row in sys.server_file_audits: the container path it was given and its retention, if reported.
 */
export function auditTargetOf(typeDesc: string, file: FileAudit | undefined): AuditTarget {
  const desc = typeDesc.toUpperCase();
  if (desc.includes("EXTERNAL_MONITOR") || desc.includes("EXTERNAL MONITOR")) return { kind: "EXTERNAL_MONITOR" };
  if (desc.includes("URL") || (file?.logFilePath ?? "").toLowerCase().startsWith("https://")) {
    return { kind: "URL", path: file?.logFilePath ?? null, retentionDays: file?.retentionDays ?? null };
  }
  return { kind: "OTHER", description: typeDesc || "unknown" };
}

export function toManagedInstanceSql(raw: RawAuditCatalog): ManagedInstanceSql {
  const files = new Map(raw.fileAudits.map((f) => [f.auditId, f]));
  return {
    engineEdition: raw.server.engineEdition,
    loginName: raw.server.loginName,
    canAlterAudits: raw.server.canAlterAudits,
    audits: raw.audits.map((a) => {
      const file = files.get(a.auditId);
      return {
        name: a.name,
        auditGuid: a.auditGuid,
        type: a.type,
        typeDesc: a.typeDesc,
        target: auditTargetOf(a.typeDesc, file),
        isStateEnabled: a.isStateEnabled,
        queueDelay: a.queueDelay,
        onFailure: a.onFailureDesc,
        predicate: a.predicate,
        status: a.statusDesc,
        ...(file
          ? { file: { maxFileSize: file.maxFileSize, maxRolloverFiles: file.maxRolloverFiles, maxFiles: file.maxFiles, reservedDiskSpace: file.reservedDiskSpace, currentFile: a.auditFilePath } }
          : {}),
      };
    }),
    specifications: raw.specifications.map((s) => ({
      name: s.name,
      auditGuid: s.auditGuid,
      isStateEnabled: s.isStateEnabled,
      groups: raw.details.filter((d) => d.specificationId === s.id).map((d) => d.actionName),
    })),
  };
}

/**
 * Connection settings for a target's instance: only a host ARM reported for it and inside the cloud's Managed
 * Instance DNS zone ever gets the scanner's Entra token. Timeouts stay inside what is left of the target's budget.
 */
export function sqlTargetOf(env: ScanEnvironment, target: Target, remainingMs = env.baseline.scan.targetTimeoutSeconds * 1000) {
  const host = trustedSqlHost(target, env.managedInstanceDnsSuffix);
  if (!host.ok) throw new UntrustedTargetError("UntrustedHost", host.reason);
  const timeoutMs = Math.max(1, Math.min(15_000, env.baseline.scan.targetTimeoutSeconds * 1000, remainingMs));
  return {
    target: { serverName: host.host, ...(env.sqlConnect ? { connect: env.sqlConnect } : {}) },
    access: { credential: env.credential, encryption: env.sqlEncryption, connectTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs * 2, ...(env.caPem ? { caPem: env.caPem } : {}) },
  };
}

/** An activity observation that could not be read is thrown here so `attempt` reports it like any failed read. */
class ActivityUnreadable extends Error {
  constructor(readonly error: ObservationError) {
    super(error.message);
    this.name = error.code;
  }
}

function unwrap(observed: Observed<ObservedActivity>): ObservedActivity {
  if (observed.ok) return observed.value;
  throw Object.assign(new ActivityUnreadable(observed.error), { code: observed.error.code });
}

const SQL_READ_ATTEMPTS = 3;

/** Reads the audit catalog, retrying transient failures (dropped connections, transient login errors) inside the budget. */
export async function readManagedInstanceSql(env: ScanEnvironment, target: Target, budget: Budget): Promise<ManagedInstanceSql> {
  for (let attempt = 1; ; attempt++) {
    const { target: sqlTarget, access } = sqlTargetOf(env, target, budget.remainingMs());
    try {
      const connection = await SqlAuditConnection.open(sqlTarget, access, budget.signal);
      try {
        return toManagedInstanceSql(await connection.readCatalog());
      } finally {
        await connection.close().catch(() => undefined);
      }
    } catch (error) {
      const transient = describeError(error, "read-sql-audit", target.id, budget.signal).transient;
      if (!transient || attempt >= SQL_READ_ATTEMPTS || budget.signal.aborted) throw error;
      await sleepUnder(budget.signal, 200 * attempt, "waiting to retry the T-SQL read", budget.seconds);
    }
  }
}

/** Which parts to read beyond the ARM configuration (diagnostic settings, auditing policy), which is always read. */
export interface ObserveParts {
  /** The T-SQL catalog of a Managed Instance (under a lease it is re-read under the instance's application lock instead). */
  sql?: boolean;
  activity?: boolean;
}

export interface ObserveOptions {
  now: Date;
  budget: Budget;
  parts?: ObserveParts;
  /** Reuse earlier reads (re-observation after remediation does not change the audit history). */
  reuse?: Partial<Pick<Observation, "sql" | "activity">>;
}

export async function observeTarget(env: ScanEnvironment, target: Target, options: ObserveOptions): Promise<Observation> {
  const { clients } = env;
  const { budget } = options;
  const parts = { sql: true, activity: true, ...options.parts };
  const diagnostics = attempt<ObservedDiagnosticSetting[]>(budget, "read-diagnostic-settings", "reading the diagnostic settings (ARM)", target.id, (signal) =>
    listDiagnosticSettings(clients, target.subscriptionId, diagnosticResourceUri(target), signal),
  );
  const sql =
    target.kind === "sql-managed-instance"
      ? parts.sql
        ? attempt(budget, "read-sql-audit", "reading the server audits (T-SQL)", target.id, () => readManagedInstanceSql(env, target, budget))
        : options.reuse?.sql
      : undefined;
  const policy =
    target.kind === "sql-managed-instance"
      ? undefined
      : attempt(budget, "read-auditing-policy", "reading the auditing policy (ARM)", target.id, (signal) =>
                    // The extended policy is the same policy with its filter (predicateExpression): one read gives both.
          getAuditingPolicy(clients, { kind: target.kind as "sql-server" | "synapse-workspace", subscriptionId: target.subscriptionId, resourceGroup: target.resourceGroup, name: target.name }, "extendedAuditingSettings", signal),
        );
  const diagnosticSettings = await diagnostics;
  let activity = options.reuse?.activity;
  if (!activity && parts.activity && env.activity) {
    const source = env.activity;
    // The target's diagnostic settings say which workspace and table its records land in.
    activity = diagnosticSettings.ok
      ? await attempt<ObservedActivity>(budget, "read-activity", "reading its audit activity (Log Analytics, through the activity sweep)", target.id, () => source.forTarget(target, auditRoutes(diagnosticSettings.value), options.now).then(unwrap))
      : { ok: false, error: { code: diagnosticSettings.error.code, message: `its diagnostic settings could not be read, so where its audit records land is unknown: ${diagnosticSettings.error.message}` } };
  }
  const observation: Observation = { target, observedAt: options.now.toISOString(), diagnosticSettings };
  const sqlRead = await sql;
  if (sqlRead) observation.sql = sqlRead;
  if (policy) observation.auditingPolicy = await policy;
  if (activity) observation.activity = activity;
  return observation;
}
