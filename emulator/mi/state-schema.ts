import { z } from "zod";
import { compileAuditPredicate } from "./audit-filter.js";

/**
 * An emulated Managed Instance's in-instance (T-SQL) state as a fleet file writes it under an instance's `sql:`
 * key. Managed Instance auditing has no ARM API, so this is the only place drift inside the instance is described.
 *
 * Passwords here are test data for the emulator only; the engine never logs or echoes them.
 */

/** Server-level permissions the engine checks. `sysadmin` stands for membership of the fixed server role. */
export const serverPermissions = [
  "ALTER ANY CREDENTIAL",
  "ALTER ANY LOGIN",
  "ALTER ANY SERVER AUDIT",
  "CONTROL SERVER",
  "VIEW ANY DEFINITION",
  "VIEW SERVER STATE",
  "VIEW SERVER SECURITY STATE",
  "sysadmin",
] as const;
export type ServerPermission = (typeof serverPermissions)[number];

const permission = z.enum(serverPermissions);

const sqlLogin = z
  .object({
    kind: z.literal("sql").default("sql"),
    name: z.string().min(1).max(128),
    password: z.string().min(1),
    permissions: z.array(permission).default([]),
    disabled: z.boolean().default(false),
  })
  .strict();

/** CREATE LOGIN [display name] FROM EXTERNAL PROVIDER: matched by the token's oid (users, groups) or appid (apps). */
const entraLogin = z
  .object({
    kind: z.literal("entra"),
    name: z.string().min(1).max(128),
    objectId: z.guid().optional(),
    appId: z.guid().optional(),
    permissions: z.array(permission).default([]),
    disabled: z.boolean().default(false),
  })
  .strict()
  .refine((l) => l.objectId !== undefined || l.appId !== undefined, { message: "an Entra login needs objectId or appId" });

const login = z.union([entraLogin, sqlLogin]);

const auditTarget = z.union([
  z.literal("EXTERNAL_MONITOR"),
  z
    .object({
      type: z.literal("URL"),
      /** The container URL, e.g. https://acct.blob.core.windows.net/sqldbauditlogs */
      path: z.string().min(1),
      /** 0 = unlimited, as on the real service. */
      retentionDays: z.number().int().min(0).default(0),
    })
    .strict(),
]);

export const auditStatuses = ["NOT_STARTED", "STARTED", "RUNTIME_FAIL", "TARGET_CREATION_FAILED", "SHUTTING_DOWN"] as const;
export type AuditStatusDesc = (typeof auditStatuses)[number];

const audit = z
  .object({
    name: z.string().min(1).max(128),
    /** Upper- or lower-case GUID; generated deterministically from the name when absent. */
    guid: z.guid().optional(),
    target: auditTarget,
    /** is_state_enabled. A new audit created by DDL is disabled; a fleet may describe any state. */
    enabled: z.boolean().default(false),
    /** QUEUE_DELAY in ms; MI refuses 0 and 1–999, but a fleet may describe what it likes. */
    queueDelay: z.number().int().min(0).default(1000),
    onFailure: z.enum(["CONTINUE", "FAIL_OPERATION"]).default("CONTINUE"),
    operatorAudit: z.boolean().default(false),
    /** The WHERE predicate text as sys.server_audits.predicate shows it. */
    predicate: z.string().optional(),
    /**
     * Overrides sys.dm_server_audit_status.status_desc for drift tests (e.g. RUNTIME_FAIL while enabled).
     * Absent: STARTED when enabled, NOT_STARTED otherwise. Audit records are emitted only while STARTED.
     */
    status: z.enum(auditStatuses).optional(),
    /** Login name of the creator (principal_id in the views is resolved from it; sa-like id 1 when unknown). */
    createdBy: z.string().optional(),
    createDate: z.iso.datetime({ offset: true }).optional(),
    modifyDate: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

const serverAuditSpecification = z
  .object({
    name: z.string().min(1).max(128),
    /** Name of the server audit it is bound to (FOR SERVER AUDIT). */
    audit: z.string().min(1),
    enabled: z.boolean().default(false),
    actionGroups: z.array(z.string().regex(/^[A-Z_]+$/, "action groups are upper-case names like BACKUP_RESTORE_GROUP")).default([]),
    createDate: z.iso.datetime({ offset: true }).optional(),
    modifyDate: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

/**
 * sys.server_audits.type / type_desc for the MI-only targets. Undocumented: the
 * defaults are the codes most commonly reported, [unverified] against a real instance — hence data, not constants.
 */
const auditTypeCodes = z
  .object({
    externalMonitor: z.object({ type: z.string().length(2), typeDesc: z.string().max(60) }).strict().default({ type: "EM", typeDesc: "EXTERNAL_MONITOR" }),
    url: z.object({ type: z.string().length(2), typeDesc: z.string().max(60) }).strict().default({ type: "UL", typeDesc: "URL" }),
  })
  .strict();

/**
 * An injected statement failure, for tests of what a client does when a statement fails or its outcome is unknown.
 * `statement` is a regular expression (case-insensitive) matched against each statement's text. `error` is an engine
 * error number to raise instead of running the statement, "drop-connection" to close the connection before running
 * it, or "no-reply" to run it and close the connection before the reply (the client cannot know the outcome).
 * `times`: how many matching statements fail (absent: every one).
 */
const statementFault = z
  .object({
    statement: z.string().min(1).refine(
      (re) => {
        try {
          new RegExp(re, "i");
          return true;
        } catch {
          return false;
        }
      },
      { message: "statement must be a valid regular expression" },
    ),
    error: z.union([z.number().int().min(1).max(2147483647), z.enum(["drop-connection", "no-reply"])]),
    /** The error's message; by default the engine's own text for known numbers. */
    message: z.string().optional(),
    times: z.number().int().min(1).optional(),
  })
  .strict();
export type MiStatementFault = z.output<typeof statementFault>;

export const miStateSchema = z
  .object({
    /** SERVERPROPERTY('EngineEdition'): 8 for Managed Instance; other values let tests model non-MI endpoints. */
    engineEdition: z.number().int().default(8),
    logins: z.array(login).default([]),
    /**
     * The instance's Microsoft Entra admin (set through ARM on a real instance): a sysadmin Entra login. Lets a
     * fleet give the scanner access without listing logins.
     */
    entraAdmin: z
      .object({ name: z.string().min(1).max(128), objectId: z.guid().optional(), appId: z.guid().optional() })
      .strict()
      .refine((l) => l.objectId !== undefined || l.appId !== undefined, { message: "the Entra admin needs objectId or appId" })
      .optional(),
    /** User databases; master, tempdb, model and msdb always exist. */
    databases: z.array(z.object({ name: z.string().min(1).max(128) }).strict()).default([]),
    audits: z.array(audit).default([]),
    serverAuditSpecifications: z.array(serverAuditSpecification).default([]),
    auditTypeCodes: auditTypeCodes.prefault({}),
    faults: z.array(statementFault).default([]),
  })
  .strict()
  .superRefine((state, ctx) => {
    const seen = (items: { name: string }[], path: string): void => {
      const names = new Set<string>();
      items.forEach((item, i) => {
        const key = item.name.toLowerCase();
        if (names.has(key)) ctx.addIssue({ code: "custom", path: [path, i, "name"], message: `duplicate name "${item.name}"` });
        names.add(key);
      });
    };
    seen(state.logins, "logins");
    seen(state.databases, "databases");
    seen(state.audits, "audits");
    seen(state.serverAuditSpecifications, "serverAuditSpecifications");
    state.audits.forEach((a, i) => {
      if (a.predicate === undefined) return;
      try {
        compileAuditPredicate(a.predicate);
      } catch (e) {
        ctx.addIssue({ code: "custom", path: ["audits", i, "predicate"], message: e instanceof Error ? e.message : String(e) });
      }
    });
    const audits = new Set(state.audits.map((a) => a.name.toLowerCase()));
    const bound = new Set<string>();
    state.serverAuditSpecifications.forEach((spec, i) => {
      const key = spec.audit.toLowerCase();
      if (!audits.has(key)) ctx.addIssue({ code: "custom", path: ["serverAuditSpecifications", i, "audit"], message: `no server audit named "${spec.audit}"` });
      if (bound.has(key)) ctx.addIssue({ code: "custom", path: ["serverAuditSpecifications", i, "audit"], message: `audit "${spec.audit}" already has a specification (33230)` });
      bound.add(key);
    });
  });

export type MiState = z.output<typeof miStateSchema>;
export type MiStateInput = z.input<typeof miStateSchema>;
export type MiLogin = MiState["logins"][number];
export type MiAudit = MiState["audits"][number];
export type MiAuditSpecification = MiState["serverAuditSpecifications"][number];
