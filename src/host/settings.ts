import { z } from "zod";

/**
 * The Function App's settings (local.settings.sample.json lists each with its local default). Read once and
 * validated: a bad setting stops the app with a message that names it, instead of failing later in a handler.
 */
const serviceUri = (service: string) =>
  z.url({ protocol: /^https$/, message: `the ${service} service URI of the storage account, https://<account>.${service}.<cloud's storage suffix>` }).optional();

// NCRONTAB as Azure Functions' timer trigger reads it: six fields, seconds first ("Timer trigger for Azure Functions").
const ncrontab = z.string().regex(/^\S+( \S+){5}$/, { message: "an NCRONTAB schedule of six fields ({second} {minute} {hour} {day} {month} {day-of-week}), e.g. 0 */5 * * * *" });

const settingsSchema = z.object({
  AUDITGUARD_BASELINE_PATH: z.string().min(1).default("auditguard.yaml"),
  AUDITGUARD_SCHEDULE: ncrontab.default("0 0 * * * *"),
  AUDITGUARD_SWEEP_SCHEDULE: ncrontab.default("0 */5 * * * *"),
  AUDITGUARD_EVENTS_QUEUE: z.string().regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, { message: "a queue name: 3-63 lower-case letters, digits and single hyphens" }).default("auditguard-events"),
  AUDITGUARD_TABLE_PREFIX: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,40}$/, { message: "letters and digits, starting with a letter" }).default("AuditGuard"),
  AUDITGUARD_EVENT_SOURCE: z.string().min(1).default("urn:auditguard:function-app"),
  AUDITGUARD_RETENTION_DAYS: z.coerce.number({ message: "a whole number of days" }).int({ message: "a whole number of days" }).min(1).max(3650).default(90),
  AzureWebJobsStorage: z.string().optional(),
  AzureWebJobsStorage__accountName: z.string().regex(/^[a-z0-9]{3,24}$/, { message: "a storage account name: 3-24 lower-case letters and digits" }).optional(),
  // Identity-based connections name the service URIs where the cloud is not the public one (Azure Functions'
  // "Connecting to host storage with an identity": AzureWebJobsStorage__queueServiceUri / __tableServiceUri).
  AzureWebJobsStorage__queueServiceUri: serviceUri("queue"),
  AzureWebJobsStorage__tableServiceUri: serviceUri("table"),
});

export type AppSettings = z.infer<typeof settingsSchema>;

/** The app cannot run as configured (a setting, or the baseline): named so every answer says it is configuration. */
export class ConfigurationError extends Error {
  override readonly name = "ConfigurationError";
}

export function readSettings(env: NodeJS.ProcessEnv = process.env): AppSettings {
  const parsed = settingsSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== "")));
  if (!parsed.success) {
    throw new ConfigurationError(`invalid app settings: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  const s = parsed.data;
  if (!s.AzureWebJobsStorage && !s.AzureWebJobsStorage__accountName && !(s.AzureWebJobsStorage__queueServiceUri && s.AzureWebJobsStorage__tableServiceUri)) {
    throw new ConfigurationError(
      "invalid app settings: AzureWebJobsStorage (a connection string), AzureWebJobsStorage__accountName (identity-based, public cloud) or AzureWebJobsStorage__queueServiceUri and __tableServiceUri (identity-based, any cloud) is required",
    );
  }
  return s;
}

/** Where the app's queues and tables are, for an identity-based connection: the URIs given, or the public cloud's. */
export function storageServiceUris(s: AppSettings): { queue: string; table: string } {
  const account = s.AzureWebJobsStorage__accountName;
  return {
    queue: s.AzureWebJobsStorage__queueServiceUri ?? `https://${account}.queue.core.windows.net`,
    table: s.AzureWebJobsStorage__tableServiceUri ?? `https://${account}.table.core.windows.net`,
  };
}

/** host.json's functionTimeout ("hh:mm:ss", or "d.hh:mm:ss") in milliseconds. */
export function parseFunctionTimeout(value: string): number {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$/.exec(value.trim());
  if (!m) throw new Error(`host.json functionTimeout '${value}' is not hh:mm:ss`);
  const [, d, h, min, sec] = m.map((v) => Number(v ?? 0));
  return (((d! * 24 + h!) * 60 + min!) * 60 + sec!) * 1000;
}
