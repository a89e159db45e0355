import { z } from "zod";
import type { Observation } from "./domain.js";
import { KIND_IDS } from "../kinds/registry.js";

/** Validates a saved observation (`auditguard plan --observation`), so a hand-edited file fails clearly. */
const error = z.object({ code: z.string(), message: z.string(), missingPermission: z.string().optional(), transient: z.boolean().optional() }).strict();
const observed = <T extends z.ZodType>(value: T) => z.union([z.object({ ok: z.literal(true), value }).strict(), z.object({ ok: z.literal(false), error }).strict()]);

const auditTarget = z.union([
  z.object({ kind: z.literal("EXTERNAL_MONITOR") }).strict(),
  z.object({ kind: z.literal("URL"), path: z.string().nullable(), retentionDays: z.number().int().nullable() }).strict(),
  z.object({ kind: z.literal("OTHER"), description: z.string() }).strict(),
]);

const sql = z
  .object({
    engineEdition: z.number().int().nullable(),
    loginName: z.string(),
    canAlterAudits: z.boolean(),
    audits: z.array(
      z
        .object({
          name: z.string(),
          auditGuid: z.string(),
          type: z.string(),
          typeDesc: z.string(),
          target: auditTarget,
          isStateEnabled: z.boolean(),
          queueDelay: z.number().int(),
          onFailure: z.string(),
          predicate: z.string().nullable(),
          status: z.string().nullable(),
          file: z
            .object({ maxFileSize: z.number().nullable(), maxRolloverFiles: z.number().nullable(), maxFiles: z.number().nullable(), reservedDiskSpace: z.number().nullable(), currentFile: z.string().nullable() })
            .strict()
            .optional(),
        })
        .strict(),
    ),
    specifications: z.array(z.object({ name: z.string(), auditGuid: z.string().nullable(), isStateEnabled: z.boolean(), groups: z.array(z.string()) }).strict()),
  })
  .strict();

const diagnosticSetting = z
  .object({
    name: z.string(),
    workspaceId: z.string().optional(),
    logAnalyticsDestinationType: z.string().optional(),
    storageAccountId: z.string().optional(),
    eventHubAuthorizationRuleId: z.string().optional(),
    eventHubName: z.string().optional(),
    logs: z.array(z.object({ category: z.string().optional(), categoryGroup: z.string().optional(), enabled: z.boolean() }).strict()),
    metrics: z.array(z.object({ category: z.string().optional(), enabled: z.boolean() }).strict()).optional(),
  })
  .strict();

const activityEvent = z
  .object({
    time: z.string(),
    actionId: z.string(),
    actionName: z.string(),
    classType: z.string(),
    statement: z.string(),
    serverPrincipalName: z.string(),
    databaseName: z.string(),
    succeeded: z.boolean().nullable(),
    clientIp: z.string().optional(),
    applicationName: z.string().optional(),
  })
  .strict();

export const observationSchema = z
  .object({
    target: z
      .object({
        id: z.string().regex(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\//i, { message: "must be an ARM resource id" }),
        kind: z.enum(KIND_IDS),
        name: z.string().min(1),
        subscriptionId: z.string().min(1),
        resourceGroup: z.string().min(1),
        location: z.string(),
        tags: z.record(z.string(), z.string()),
        fullyQualifiedDomainName: z.string().optional(),
      })
      .strict(),
    observedAt: z.iso.datetime(),
    sql: observed(sql).optional(),
    auditingPolicy: observed(z.record(z.string(), z.unknown())).optional(),
    diagnosticSettings: observed(z.array(diagnosticSetting)),
    activity: observed(
      z.object({ window: z.object({ from: z.string(), to: z.string() }).strict(), events: z.array(activityEvent), lastEventTime: z.string().nullable().optional() }).strict(),
    ).optional(),
  })
  .strict();

export function parseObservation(value: unknown): { ok: true; observation: Observation } | { ok: false; problems: string[] } {
  const result = observationSchema.safeParse(value);
  if (result.success) return { ok: true, observation: result.data };
  return { ok: false, problems: result.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`) };
}
