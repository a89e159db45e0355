import { z } from "zod";
import { ACTION_GROUP_NAMES, IDENTIFIER_RULE, isValidIdentifier, SERVER_AUDITING_ACTION_GROUPS } from "../sql-text/identifiers.js";
import { canonicalPredicate, InvalidPredicateError } from "../sql-text/predicate.js";
import { KIND_IDS } from "../../kinds/registry.js";

/**
 * The baseline: policy as code. One YAML or JSON file says what AuditGuard looks at (scope), what "audited"
 * means for each kind of target, what it may change (mode), what it must leave alone (exemptions) and where
 * Azure is (endpoints). Objects are strict so a misspelt key is an error, not a silently ignored setting.
 */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ARM_ID = /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[-\w._()]+\/providers\/[\w.]+\/[\w.]+\/[^/]+(\/[\w.]+\/[^/]+)*$/i;

export const MODES = ["off", "plan", "enforce"] as const;
export type Mode = (typeof MODES)[number];

const identifier = z.string().refine(isValidIdentifier, { message: IDENTIFIER_RULE });
const actionGroup = z.enum(ACTION_GROUP_NAMES, { message: "not a server audit action group of SQL Server Audit (Managed Instance)" });
const serverActionGroup = z.enum(SERVER_AUDITING_ACTION_GROUPS, {
  message: `not an action group the server and workspace auditing API accepts (it lists ${SERVER_AUDITING_ACTION_GROUPS.join(", ")}; AUDIT_CHANGE_GROUP and the other server-scope groups are Managed Instance groups)`,
});
/** A filter the baseline allows: exactly the documented WHERE grammar, so it can be compared and written safely. */
const auditFilter = z.string().superRefine((text, ctx) => {
  try {
    canonicalPredicate(text);
  } catch (error) {
    if (!(error instanceof InvalidPredicateError)) throw error;
    ctx.addIssue({ code: "custom", message: `not an audit filter of the documented form (field op 'value' joined by AND/OR/NOT): ${error.message}` });
  }
});
const workspaceId = z.string().regex(/^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\/[^/]+\/providers\/Microsoft\.OperationalInsights\/workspaces\/[^/]+$/i, {
  message: "must be a Log Analytics workspace ARM id: /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<name>",
});
const httpsUrl = z.url({ protocol: /^https$/, message: "must be an https:// URL" });
const blobContainerUrl = z
  .string()
  .regex(/^https:\/\/[a-z0-9]{3,24}\.blob\.core\.windows\.net\/[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]\/?$/, {
    message: "must be https://<account>.blob.core.windows.net/<container>",
  });

const diagnosticSetting = z
  .object({
    name: z.string().regex(/^[^<>*%&:\\?+/]{1,260}$/, { message: "invalid diagnostic setting name" }).default("auditguard-SQLSecurityAuditEvents"),
    workspaceId,
    category: z.literal("SQLSecurityAuditEvents").default("SQLSecurityAuditEvents"),
  })
  .strict();

const managedInstance = z
  .object({
    audit: z
      .object({
        name: identifier.default("BackupRestoreAudit"),
        target: z
          .union([
            z.literal("EXTERNAL_MONITOR"),
            z.object({ url: z.object({ path: blobContainerUrl, retentionDays: z.number().int().min(0).max(3285).default(0) }).strict() }).strict(),
          ])
          .default("EXTERNAL_MONITOR"),
        // QUEUE_DELAY 1..999 is invalid (CREATE SERVER AUDIT, Microsoft Learn: "0 or 1000 and higher", error 33227), and
        // Managed Instance does not support 0 ("T-SQL differences between SQL Server and Azure SQL Managed Instance", Auditing).
        queueDelayMs: z.number().int().min(1000, { message: "Managed Instance accepts QUEUE_DELAY of 1000 ms or more" }).max(2147483647).default(1000),
        onFailure: z.enum(["CONTINUE", "FAIL_OPERATION"], { message: "Managed Instance accepts ON_FAILURE CONTINUE or FAIL_OPERATION (SHUTDOWN is not supported)" }).default("CONTINUE"),
        // The one WHERE filter the audit may have; without it, any filter fails mi.audit.filter.
        allowedFilter: auditFilter.optional(),
      })
      .strict()
      .prefault({}),
    specification: z
      .object({
        name: identifier.default("BackupRestoreAuditSpec"),
        actionGroups: z.array(actionGroup).min(1).default(["BACKUP_RESTORE_GROUP", "AUDIT_CHANGE_GROUP"]),
      })
      .strict()
      .prefault({}),
    diagnosticSetting: diagnosticSetting.optional(),
  })
  .strict();

const serverAuditing = z
  .object({
    auditing: z
      .object({
        state: z.literal("Enabled").default("Enabled"),
        isAzureMonitorTargetEnabled: z.boolean().default(true),
        actionGroups: z
          .array(serverActionGroup)
          .min(1)
          .default(["BATCH_COMPLETED_GROUP", "SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP", "FAILED_DATABASE_AUTHENTICATION_GROUP"]),
        // Checked only where a storage target is configured; 0 means unlimited and always passes.
        minRetentionDays: z.number().int().min(0).max(3285).default(90),
        // The one predicateExpression (extended auditing) the policy may have; without it, any filter fails.
        allowedFilter: auditFilter.optional(),
        // How a PUT may authenticate to the storage target. A PUT cannot resend the key it never read, and a storage
        // endpoint without a key means "use the server's managed identity" (REST reference, storageAccountAccessKey),
        // so with "keep" AuditGuard does not rewrite a key-based policy; "managedIdentity" lets it switch.
        storageAuthentication: z.enum(["keep", "managedIdentity"]).default("keep"),
      })
      .strict()
      .prefault({}),
    diagnosticSetting: diagnosticSetting.optional(),
  })
  .strict();

const tagMap = z.record(z.string().min(1), z.string());

const exemption = z
  .object({
    resourceId: z.string().regex(ARM_ID, { message: "must be an ARM resource id" }),
    reason: z.string().min(3, { message: "say why the resource is exempt" }),
    expires: z.iso.date({ message: "must be a date, YYYY-MM-DD" }),
    rules: z.array(z.string()).min(1).optional(),
  })
  .strict();

const modeByKind = z
  .object({
    sqlManagedInstance: z.enum(MODES).optional(),
    sqlServer: z.enum(MODES).optional(),
    synapseWorkspace: z.enum(MODES).optional(),
  })
  .strict();

const duration = z.string().regex(/^P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$/, { message: "must be an ISO 8601 duration such as PT1H or P1D" });

export const baselineSchema = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(1),
    mode: z.enum(MODES).default("plan"),
    modes: modeByKind.prefault({}),
    scope: z
      .object({
        subscriptions: z.array(z.string().regex(GUID, { message: "must be a subscription GUID" })).default([]),
        resourceGroups: z.array(z.string().min(1)).default([]),
        kinds: z.array(z.enum(KIND_IDS)).default([...KIND_IDS]),
        includeTags: tagMap.default({}),
        excludeTags: tagMap.default({}),
      })
      .strict()
      .prefault({}),
    exemptions: z
      .object({
        tag: z.object({ name: z.string().min(1), value: z.string() }).strict().default({ name: "auditguard:exempt", value: "true" }),
        resources: z.array(exemption).default([]),
      })
      .strict()
      .prefault({}),
    managedInstance: managedInstance.prefault({}),
    sqlServer: serverAuditing.prefault({}),
    synapseWorkspace: serverAuditing.prefault({}),
    activity: z
      .object({
        // How long a suspicious record keeps its rule failing in reports, and how far back a first sweep (or a CLI run)
        // reads; the Functions app's sweep then reads on from its watermark, whatever the look-back.
        lookback: duration.default("PT1H15M"),
        allowedBackupStorageAccounts: z.array(z.string().regex(/^[a-z0-9]{3,24}$/, { message: "a storage account name: 3-24 lower-case letters and digits" })).default([]),
        scannerPrincipals: z.array(z.string().min(1)).default([]),
        silenceHours: z.number().positive().optional(),
        // How old the activity sweep's last read of a workspace may be before the drift scan calls its verdicts stale
        // ("could not decide") rather than trusting them; a few sweep periods.
        maxVerdictAgeMinutes: z.number().positive().max(24 * 60).default(30),
      })
      .strict()
      .prefault({}),
    endpoints: z
      .object({
        resourceManager: httpsUrl.optional(),
        resourceManagerAudience: httpsUrl.optional(),
        logAnalytics: httpsUrl.refine((u) => /\/v1\/?$/.test(u), { message: "must end with /v1 (the client uses it verbatim)" }).optional(),
        logAnalyticsAudience: httpsUrl.optional(),
        caFile: z.string().min(1).optional(),
        sqlConnect: z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }).strict().optional(),
        sqlEncryption: z.enum(["strict", "mandatory"]).default("strict"),
        // The Managed Instance DNS zone suffix of the cloud: the scanner sends its SQL token only to hosts in it.
        managedInstanceDnsSuffix: z
          .string()
          .regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, { message: "a DNS suffix such as database.windows.net" })
          .default("database.windows.net"),
        useResourceGraph: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    scan: z
      .object({
        concurrency: z.number().int().min(1).max(256).default(16),
        deadlineMinutes: z.number().positive().max(24 * 60).default(50),
        targetTimeoutSeconds: z.number().int().positive().max(3600).default(120),
        // Log Analytics' documented per-identity limit, paced per process; lower it when other processes (other
        // Functions instances, other tools) query with the same identity, or rely on the 429 pause.
        logAnalyticsRate: z
          .object({ requests: z.number().int().min(1).max(100_000).default(200), windowSeconds: z.number().positive().max(3600).default(30) })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Baseline = z.infer<typeof baselineSchema>;
export type BaselineInput = z.input<typeof baselineSchema>;
/** The diagnostic setting a kind's section asks for (every kind's section has the same shape of it). */
export type DesiredDiagnosticSetting = z.infer<typeof diagnosticSetting>;
