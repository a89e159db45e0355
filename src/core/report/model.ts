import { z } from "zod";
import { activityEvidenceSchema } from "../activity-evidence.js";
import { TARGET_STATUSES } from "../domain.js";
import { KIND_IDS } from "../../kinds/registry.js";

/**
 * The compliance report: one data model, rendered to JSON, HTML, CSV, SARIF and Markdown with the same content.
 * It is built from the results store (latest result per target plus run history) and is a public format:
 * its JSON Schema is committed in schema/report.schema.json.
 */
export const REPORT_SCHEMA_VERSION = "1.1";

const targetKind = z.enum(KIND_IDS);
const targetStatus = z.enum(TARGET_STATUSES);
const severity = z.enum(["critical", "high", "medium", "low", "info"]);

export const reportRuleSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    severity,
    kind: z.union([targetKind, z.literal("activity")]),
    rationale: z.string(),
    remedy: z.string(),
    /** Whether AuditGuard fixes it in enforce mode (activity rules report only). */
    remediable: z.boolean(),
    /** Rules it presupposes: its failure is shown as a consequence of theirs when they fail too. */
    dependsOn: z.array(z.string()).optional(),
  })
  .strict();

/** One audit record behind an activity finding (the same shape as in the suspicious-activity event). */
export const reportActivityEventSchema = activityEvidenceSchema;

export const reportFindingSchema = z
  .object({
    ruleId: z.string(),
    status: z.enum(["fail", "error"]),
    severity,
    message: z.string(),
    /** When the observation this finding is based on was made (ISO 8601); activity events carry their own times. */
    observedAt: z.string().datetime(),
    /**
     * The rule id of the open finding this one is a consequence of (a rule it depends on that also fails, followed
     * up to the first that has no failing dependency of its own); absent for a root cause.
     */
    consequenceOf: z.string().optional(),
    /** What the rule saw; for activity rules, `events` holds the audit records behind the finding. */
    evidence: z.object({ events: z.array(reportActivityEventSchema).optional() }).catchall(z.unknown()).optional(),
  })
  .strict();

export const reportChangeSchema = z
  .object({
    kind: z.enum(["tsql", "arm-auditing-put", "diagnostic-setting-put"]),
    description: z.string(),
    ruleIds: z.array(z.string()),
    /** The exact T-SQL statement, or `PUT <path>` followed by the JSON body. */
    change: z.string(),
    applied: z.boolean(),
  })
  .strict();

export const reportTargetSchema = z
  .object({
    id: z.string(),
    kind: targetKind,
    name: z.string(),
    subscriptionId: z.string(),
    resourceGroup: z.string(),
    location: z.string().optional(),
    status: targetStatus,
    reason: z.string().optional(),
    scanId: z.string(),
    scannedAt: z.string().datetime(),
    findings: z.array(reportFindingSchema),
    changes: z.array(reportChangeSchema),
    exemption: z.object({ reason: z.string(), expires: z.string().optional() }).strict().optional(),
  })
  .strict();

const statusCounts = z
  .object({
    compliant: z.number().int().nonnegative(),
    remediated: z.number().int().nonnegative(),
    noncompliant: z.number().int().nonnegative(),
    exempt: z.number().int().nonnegative(),
    error: z.number().int().nonnegative(),
  })
  .strict();

export const complianceReportSchema = z
  .object({
    schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
    generatedAt: z.string().datetime(),
    tool: z.object({ name: z.literal("AuditGuard"), version: z.string() }).strict(),
    filters: z
      .object({
        subscriptionIds: z.array(z.string()).optional(),
        kinds: z.array(targetKind).optional(),
        statuses: z.array(targetStatus).optional(),
        ruleIds: z.array(z.string()).optional(),
      })
      .strict(),
    summary: z
      .object({
        targets: z.number().int().nonnegative(),
        /** (compliant + remediated + exempt) / targets, 0..1; 1 when there are no targets. */
        complianceRatio: z.number().min(0).max(1),
        byStatus: statusCounts,
        byKind: z.record(targetKind, statusCounts),
        lastScanAt: z.string().datetime().optional(),
      })
      .strict(),
    /** One point per scan run, oldest first, for the compliance-over-time chart. */
    trend: z.array(
      z
        .object({
          scanId: z.string(),
          finishedAt: z.string().datetime(),
          byStatus: statusCounts,
        })
        .strict(),
    ),
    rules: z.array(reportRuleSchema),
    /** The scan the report shows (the latest closed one unless asked for another). */
    scan: z
      .object({
        scanId: z.string(),
        startedAt: z.string().datetime(),
        finishedAt: z.string().datetime().optional(),
        complete: z.boolean(),
        notScanned: z.number().int().nonnegative().optional(),
        problem: z.string().optional(),
      })
      .strict()
      .optional(),
    /** A page of the targets: the summary covers all of them; `next` fetches the following page. */
    page: z.object({ size: z.number().int().positive(), next: z.string().optional() }).strict().optional(),
    /** Last, so a renderer can stream it: everything above is known before the first target is read. */
    targets: z.array(reportTargetSchema),
  })
  .strict();

/** The report without its targets: all a renderer needs before the targets stream in (summary, trend, rules...). */
export const reportHeaderSchema = complianceReportSchema.omit({ targets: true });

export type ComplianceReport = z.infer<typeof complianceReportSchema>;
export type ReportHeader = z.infer<typeof reportHeaderSchema>;
export type ReportActivityEvent = z.infer<typeof reportActivityEventSchema>;
export type ReportSummary = ReportHeader["summary"];
export type ReportTrendPoint = ReportHeader["trend"][number];
/** Targets as a renderer takes them: an array, a generator, or pages read from the results store. */
export type ReportTargets = Iterable<ReportTarget> | AsyncIterable<ReportTarget>;
export type ReportTarget = z.infer<typeof reportTargetSchema>;
export type ReportFinding = z.infer<typeof reportFindingSchema>;
export type ReportChange = z.infer<typeof reportChangeSchema>;
export type ReportRule = z.infer<typeof reportRuleSchema>;
export type StatusCounts = z.infer<typeof statusCounts>;
export type ReportFormat = "json" | "html" | "csv" | "sarif" | "markdown";
