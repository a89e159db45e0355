import { z } from "zod";

/**
 * One audit record behind an activity finding, as reports and the suspicious-activity event carry it: who, when
 * (the record's own time), from where, what, and the statement with credentials already redacted. Fields a record
 * does not have are absent, never empty.
 */
export const activityEvidenceSchema = z
  .object({
    time: z.string().datetime().describe("When the audited action happened (the record's time, not the scan's)"),
    actionId: z.string(),
    actionName: z.string().optional(),
    principal: z.string(),
    database: z.string().optional(),
    clientIp: z.string().optional(),
    application: z.string().optional(),
    statement: z.string().describe("The audited statement, with any credential redacted"),
    storageAccount: z.string().optional(),
  })
  .strict();

export type ActivityEvidence = z.infer<typeof activityEvidenceSchema>;
