import { z } from "zod";

/**
 * The Function App's settings (local.settings.sample.json lists each with its local default). Read once and
 * validated: a bad setting stops the app with a message that names it, instead of failing later in a handler.
 */
const settingsSchema = z.object({
  AUDITGUARD_BASELINE_PATH: z.string().min(1).default("auditguard.yaml"),
  AUDITGUARD_EVENTS_QUEUE: z.string().regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, { message: "a queue name: 3-63 lower-case letters, digits and single hyphens" }).default("auditguard-events"),
  AUDITGUARD_TABLE_PREFIX: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,40}$/, { message: "letters and digits, starting with a letter" }).default("AuditGuard"),
  AUDITGUARD_EVENT_SOURCE: z.string().min(1).default("urn:auditguard:function-app"),
  AzureWebJobsStorage: z.string().optional(),
  AzureWebJobsStorage__accountName: z.string().regex(/^[a-z0-9]{3,24}$/).optional(),
});

export type AppSettings = z.infer<typeof settingsSchema>;

export function readSettings(env: NodeJS.ProcessEnv = process.env): AppSettings {
  const parsed = settingsSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== "")));
  if (!parsed.success) {
    throw new Error(`invalid app settings: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  if (!parsed.data.AzureWebJobsStorage && !parsed.data.AzureWebJobsStorage__accountName) {
    throw new Error("invalid app settings: AzureWebJobsStorage (a connection string) or AzureWebJobsStorage__accountName (identity-based) is required");
  }
  return parsed.data;
}
