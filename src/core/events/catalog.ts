import { z } from "zod";
import { activityEvidenceSchema } from "../activity-evidence.js";
import { KIND_IDS } from "../../kinds/registry.js";

/**
 * The events AuditGuard publishes, as CloudEvents 1.0 in JSON structured mode. Each event type has a zod schema
 * for its `data`, from which the JSON Schemas in schema/events/ are generated for consumers (Logic Apps,
 * Sentinel, a pager). Everything here is public contract: add fields, never rename or repurpose one.
 */
export const EVENT_TYPES = {
  driftDetected: "com.auditguard.drift.detected",
  remediationApplied: "com.auditguard.remediation.applied",
  remediationFailed: "com.auditguard.remediation.failed",
  suspiciousActivity: "com.auditguard.activity.suspicious",
  scanCompleted: "com.auditguard.scan.completed",
} as const;

export type EventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

/**
 * What an event's `dataschema` names: the schema of its `data` ("Identifies the schema that data adheres to",
 * CloudEvents 1.0 spec, dataschema), published as schema/events/<type>.data.schema.json. The whole event's
 * envelope schema (<type>.schema.json) has an id of its own.
 */
export const dataSchemaId = (type: EventType) => `urn:auditguard:schema:${type}:data:1`;

const targetRef = z
  .object({
    id: z.string().describe("ARM resource id of the target"),
    kind: z.enum(KIND_IDS),
    name: z.string(),
    subscriptionId: z.string(),
    resourceGroup: z.string(),
  })
  .strict();

const severity = z.enum(["critical", "high", "medium", "low", "info"]);

const findingRef = z
  .object({
    ruleId: z.string(),
    severity,
    title: z.string(),
    message: z.string(),
  })
  .strict();

const actionRef = z
  .object({
    kind: z.enum(["tsql", "arm-auditing-put", "diagnostic-setting-put"]),
    description: z.string(),
    ruleIds: z.array(z.string()),
    /** The exact T-SQL statement or `PUT <resource>` line that was (or would have been) applied. */
    change: z.string(),
  })
  .strict();

export const eventDataSchemas = {
  [EVENT_TYPES.driftDetected]: z
    .object({
      scanId: z.string(),
      target: targetRef,
      mode: z.enum(["off", "plan", "enforce"]),
      findings: z.array(findingRef).min(1),
      plannedChanges: z.array(actionRef).describe("The exact plan; applied only in enforce mode"),
    })
    .strict(),
  [EVENT_TYPES.remediationApplied]: z
    .object({
      scanId: z.string(),
      target: targetRef,
      applied: z.array(actionRef).min(1),
      compliantAfter: z.boolean().describe("Whether the re-observation after applying found no remaining drift"),
    })
    .strict(),
  [EVENT_TYPES.remediationFailed]: z
    .object({
      scanId: z.string(),
      target: targetRef,
      failedChange: actionRef,
      appliedBefore: z.array(actionRef),
      error: z
        .object({
          code: z.string(),
          message: z.string(),
          sqlErrorNumber: z.number().int().optional(),
          missingPermission: z.string().optional(),
        })
        .strict(),
    })
    .strict(),
  [EVENT_TYPES.suspiciousActivity]: z
    .object({
      scanId: z.string(),
      target: targetRef,
      ruleId: z.string(),
      severity,
      kind: z.enum(["copy-only-backup", "unapproved-backup-destination", "audit-tampering", "audit-silence"]),
      summary: z.string(),
      window: z.object({ from: z.string().datetime(), to: z.string().datetime() }).strict(),
      evidence: z.array(activityEvidenceSchema),
    })
    .strict(),
  [EVENT_TYPES.scanCompleted]: z
    .object({
      scanId: z.string(),
      trigger: z.enum(["timer", "http", "cli", "queue"]),
      mode: z.enum(["off", "plan", "enforce"]),
      startedAt: z.string().datetime(),
      finishedAt: z.string().datetime(),
      complete: z.boolean().describe("False when cancelled, cut short by the deadline, or when part of the scope could not be read"),
      problem: z.string().optional().describe("Why the scan is incomplete, when it is: e.g. the subscriptions the inventory could not read"),
      counts: z
        .object({
          targets: z.number().int(),
          compliant: z.number().int(),
          remediated: z.number().int(),
          noncompliant: z.number().int(),
          exempt: z.number().int(),
          error: z.number().int(),
          notScanned: z.number().int(),
        })
        .strict(),
    })
    .strict(),
} as const satisfies Record<EventType, z.ZodType>;

export type EventData<T extends EventType> = z.infer<(typeof eventDataSchemas)[T]>;

export const cloudEventSchema = z
  .object({
    specversion: z.literal("1.0"),
    id: z.string().min(1),
    source: z.string().min(1),
    type: z.enum(Object.values(EVENT_TYPES) as [EventType, ...EventType[]]),
    subject: z.string().optional(),
    time: z.string().datetime(),
    datacontenttype: z.literal("application/json"),
    dataschema: z.string().optional(),
    data: z.unknown(),
  })
  .strict();

export interface CloudEvent<T extends EventType = EventType> {
  specversion: "1.0";
  id: string;
  source: string;
  type: T;
  subject?: string;
  time: string;
  datacontenttype: "application/json";
  dataschema?: string;
  data: EventData<T>;
}
