/**
 * The domain model: what AuditGuard scans (targets), what it sees (observations), what it concludes (findings)
 * and what it would change (remediation actions). Plain data only, so evaluate and plan stay pure functions.
 */
/** The kinds AuditGuard scans; each is a module in src/kinds/<kind>/ registered in src/kinds/registry.ts. */
export type TargetKind = "sql-managed-instance" | "sql-server" | "synapse-workspace";

export interface Target {
  /** ARM resource id, as ARM spells it. */
  id: string;
  kind: TargetKind;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  /** Managed Instances: the host to connect to, as ARM reports it (checked against the DNS zone before use). */
  fullyQualifiedDomainName?: string;
  /** Managed Instances: the instance's DNS zone, as ARM reports it. */
  dnsZone?: string;
}

export interface ObservationError {
  code: string;
  message: string;
  missingPermission?: string;
  /** Throttling, a timeout, a dropped connection: reading again later may succeed. */
  transient?: boolean;
}

/** Each part of an observation is read on its own and can fail on its own. */
export type Observed<T> = { ok: true; value: T } | { ok: false; error: ObservationError };

/**
 * Where an audit writes. A URL audit's path is the container it was given (sys.server_file_audits.log_file_path);
 * its retention is null where the instance does not report one.
 */
export type AuditTarget =
  | { kind: "EXTERNAL_MONITOR" }
  | { kind: "URL"; path: string | null; retentionDays: number | null }
  | { kind: "OTHER"; description: string };

/** A file-like audit's options as sys.server_file_audits reports them (evidence; the baseline does not govern them). */
export interface AuditFileOptions {
  maxFileSize: number | null;
  maxRolloverFiles: number | null;
  maxFiles: number | null;
  reservedDiskSpace: number | null;
  /** The .xel file being written now (sys.dm_server_audit_status.audit_file_path), null while stopped. */
  currentFile: string | null;
}

export interface ObservedAudit {
  name: string;
  auditGuid: string;
  /** The raw type code from sys.server_audits: undocumented for MI targets, kept as data. */
  type: string;
  typeDesc: string;
  target: AuditTarget;
  isStateEnabled: boolean;
  queueDelay: number;
  onFailure: string;
  /** The audit's filter (sys.server_audits.predicate): the WHERE clause that decides which events it records. */
  predicate: string | null;
  /** sys.dm_server_audit_status.status_desc, or null when the audit has no row there. */
  status: string | null;
  file?: AuditFileOptions;
}

export interface ObservedSpecification {
  name: string;
  /** The audit it is bound to, or null when the audit no longer exists. */
  auditGuid: string | null;
  isStateEnabled: boolean;
  groups: string[];
}

export interface ManagedInstanceSql {
  engineEdition: number | null;
  loginName: string;
  canAlterAudits: boolean;
  audits: ObservedAudit[];
  specifications: ObservedSpecification[];
}

export interface DiagnosticSettingLog {
  category?: string;
  categoryGroup?: string;
  enabled: boolean;
}

export interface ObservedDiagnosticSetting {
  name: string;
  workspaceId?: string;
  logAnalyticsDestinationType?: string;
  storageAccountId?: string;
  eventHubAuthorizationRuleId?: string;
  eventHubName?: string;
  logs: DiagnosticSettingLog[];
  metrics?: Array<{ category?: string; enabled: boolean }>;
}

/** A server auditing policy as ARM returns it (properties flattened as the SDKs do); fields AuditGuard does not govern are kept as they are. */
export interface AuditingPolicy {
  state?: string;
  isAzureMonitorTargetEnabled?: boolean;
  auditActionsAndGroups?: string[];
  retentionDays?: number;
  storageEndpoint?: string;
  queueDelayMs?: number;
  isDevopsAuditEnabled?: boolean;
  isStorageSecondaryKeyInUse?: boolean;
  storageAccountSubscriptionId?: string;
  isManagedIdentityInUse?: boolean;
  predicateExpression?: string;
  [field: string]: unknown;
}

export interface ActivityEvent {
  time: string;
  actionId: string;
  actionName: string;
  classType: string;
  statement: string;
  serverPrincipalName: string;
  databaseName: string;
  succeeded: boolean | null;
  clientIp?: string;
  applicationName?: string;
  /** The audit record's identity in its workspace: the same record is judged, and announced, once. */
  recordId?: string;
  /** When Log Analytics ingested it. */
  ingestedAt?: string;
}

/**
 * What the activity sweep found for a target: the suspicious records of the report window (activity.lookback), the
 * window the sweep has covered, and, with silence detection on, the newest record of any kind.
 */
export interface ObservedActivity {
  window: { from: string; to: string };
  events: ActivityEvent[];
  /** Newest audit record of any kind when silence detection is on; null when there is none. */
  lastEventTime?: string | null;
  /** The workspace (and table) the records were read from. */
  workspaceId?: string;
}

export interface Observation {
  target: Target;
  observedAt: string;
  /** Managed Instances only. */
  sql?: Observed<ManagedInstanceSql>;
  /** SQL servers and Synapse workspaces only. */
  auditingPolicy?: Observed<AuditingPolicy>;
  diagnosticSettings: Observed<ObservedDiagnosticSetting[]>;
  activity?: Observed<ObservedActivity>;
}

export type Severity = "critical" | "high" | "medium" | "low" | "info";
export type FindingStatus = "pass" | "fail" | "error" | "exempt" | "not-applicable";

export interface Finding {
  ruleId: string;
  targetId: string;
  status: FindingStatus;
  severity: Severity;
  message: string;
  observedAt: string;
  evidence?: Record<string, unknown>;
}

/** One Managed Instance change, as structured data; the statement is rendered from it. */
export type SqlOperation =
  | { op: "create-audit"; audit: string; target: "EXTERNAL_MONITOR" | { url: string; retentionDays: number }; queueDelayMs: number; onFailure: string; predicate?: string }
  /** `predicate` null: REMOVE WHERE; otherwise WHERE <predicate> (the baseline's allowed filter). */
  | { op: "alter-audit-filter"; audit: string; predicate: string | null }
  | { op: "alter-audit-target"; audit: string; target: "EXTERNAL_MONITOR" | { url: string; retentionDays: number } }
  | { op: "alter-audit-options"; audit: string; queueDelayMs: number; onFailure: string }
  | { op: "set-audit-state"; audit: string; state: "ON" | "OFF" }
  | { op: "create-specification"; specification: string; audit: string; groups: string[] }
  | { op: "drop-specification"; specification: string }
  | { op: "add-specification-groups"; specification: string; groups: string[] }
  | { op: "set-specification-state"; specification: string; state: "ON" | "OFF" };

export type RemediationAction =
  | { kind: "tsql"; ruleIds: string[]; description: string; operation: SqlOperation; statement: string }
  | {
      kind: "arm-auditing-put";
      ruleIds: string[];
      description: string;
      /** The target's ARM id; the policy lives at `${resourceId}/${policy}/default`. */
      resourceId: string;
      policy: "auditingSettings" | "extendedAuditingSettings";
      body: AuditingPolicy;
    }
  | {
      kind: "diagnostic-setting-put";
      ruleIds: string[];
      description: string;
      /** The resource the setting is on (a SQL server's master database for server-level audit). */
      resourceUri: string;
      name: string;
      body: Omit<ObservedDiagnosticSetting, "name">;
    };

/** A target's status after a scan, in the order counts are kept and written (stored runs, events, reports). */
export const TARGET_STATUSES = ["compliant", "remediated", "noncompliant", "exempt", "error"] as const;
export type TargetStatus = (typeof TARGET_STATUSES)[number];
export type StatusCounts = Record<TargetStatus, number>;

/** Every status at zero, in TARGET_STATUSES order (the key order JSON keeps). */
export function emptyCounts(): StatusCounts {
  return { compliant: 0, remediated: 0, noncompliant: 0, exempt: 0, error: 0 };
}

/** A fix the planner will not make, and why: a conflict with an object the baseline does not own, a switch of storage authentication it was not told to make, a fix that did not converge. */
export interface BlockedChange {
  ruleIds: string[];
  reason: string;
}

export interface TargetResult {
  scanId: string;
  target: Target;
  status: TargetStatus;
  reason?: string;
  mode: "off" | "plan" | "enforce";
  startedAt: string;
  finishedAt: string;
  /** Findings of the first observation. */
  findings: Finding[];
  plan: RemediationAction[];
  applied: RemediationAction[];
  failedAction?: { action: RemediationAction; error: ObservationError };
  /** Findings after remediation, when anything was applied. */
  findingsAfter?: Finding[];
  /** Fixes the planner would not make, with why (reported, never applied). */
  blocked?: BlockedChange[];
  /** Set when auditing switched off for a change was switched back on after the change failed part-way. */
  restored?: { actions: RemediationAction[]; error?: ObservationError };
  /**
   * Rules still failing right after their fix was applied: the fix does not converge. `planDigest` names the plan
   * that was applied, so the next scan does not apply the same plan again while nothing changed.
   */
  notConverged?: { ruleIds: string[]; planDigest: string; at: string };
  exemption?: { reason: string; expires?: string };
  /** The window the activity sweep had covered for this target, when activity was read. */
  activityWindow?: { from: string; to: string };
  /** The suspicious audit records the activity rules judged (their ids make their events unique). */
  activity?: ActivityEvent[];
  /** Where the target's audit records land (its diagnostic settings), for the activity sweep. */
  routes?: Array<{ workspaceId: string; table: "AzureDiagnostics" | "SQLSecurityAuditEvents" }>;
  /** Status `error` from transient failures only: scanning again in a few minutes may succeed. */
  retryable?: boolean;
}

/** How a change is shown to people and tools: the exact statement, or the PUT line and its JSON body. */
export function describeChange(action: RemediationAction): string {
  switch (action.kind) {
    case "tsql":
      return action.statement;
    case "arm-auditing-put":
      return `PUT ${action.resourceId}/${action.policy}/default\n${JSON.stringify({ properties: action.body }, null, 2)}`;
    case "diagnostic-setting-put":
      return `PUT ${action.resourceUri}/providers/Microsoft.Insights/diagnosticSettings/${action.name}\n${JSON.stringify({ properties: action.body }, null, 2)}`;
  }
}
