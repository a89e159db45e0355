import { readFileSync } from "node:fs";
import { LineCounter, parseDocument, isNode } from "yaml";
import { fleetSchema } from "./schema.js";
import type { Fleet } from "./schema.js";
import { SEED_DATE_COLUMN, parseSeedTime } from "./seed-time.js";
import { classifyAuditEntry } from "../arm/audit-action-groups.js";
import type { FleetAuditingPolicy } from "./schema.js";

/** One problem in a fleet file: where (path, and line/column when read from text) and what. */
export interface FleetIssue {
  path: (string | number)[];
  message: string;
  line?: number;
  column?: number;
}

export class FleetValidationError extends Error {
  readonly issues: FleetIssue[];
  constructor(source: string, issues: FleetIssue[]) {
    super(`${source}: invalid fleet file (${issues.length} error${issues.length === 1 ? "" : "s"}):\n${issues.map(formatIssue).join("\n")}`);
    this.name = "FleetValidationError";
    this.issues = issues;
  }
}

export function formatIssue(issue: FleetIssue): string {
  const where = issue.path.length ? issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("").replace(/^\./, "") : "(root)";
  const at = issue.line !== undefined ? ` (line ${issue.line}${issue.column !== undefined ? `:${issue.column}` : ""})` : "";
  return `  ${where}${at}: ${issue.message}`;
}

/** Validates the instance's opaque `sql:` state; emulator/mi provides it (its zod state schema). */
export type SqlStateValidator = (sql: unknown) => { path: (string | number)[]; message: string }[];

export interface LoadFleetOptions {
  /** Used in error messages. */
  source?: string;
  validateSql?: SqlStateValidator;
}

/** Parses and validates a fleet from YAML or JSON text (JSON is YAML), reporting every error with path and line. */
export function parseFleet(text: string, options: LoadFleetOptions = {}): Fleet {
  const source = options.source ?? "fleet";
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true });
  if (doc.errors.length > 0) {
    throw new FleetValidationError(
      source,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { path: [], message: e.message.split("\n")[0] ?? e.message, line: pos.line, column: pos.col };
      }),
    );
  }
  const locate = (path: (string | number)[]): { line?: number; column?: number } => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) {
        const pos = lineCounter.linePos(node.range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return {};
  };
  return validateFleet(doc.toJS(), { ...options, source }, locate);
}

export function loadFleetFile(file: string, options: Omit<LoadFleetOptions, "source"> = {}): Fleet {
  return parseFleet(readFileSync(file, "utf8"), { ...options, source: file });
}

/** Validates an already-parsed fleet object (schema, then cross-references). */
export function validateFleet(
  input: unknown,
  options: LoadFleetOptions = {},
  locate: (path: (string | number)[]) => { line?: number; column?: number } = () => ({}),
): Fleet {
  const source = options.source ?? "fleet";
  const result = fleetSchema.safeParse(input);
  if (!result.success) {
    const issues = result.error.issues.map((i) => {
      const path = i.path.map((p) => (typeof p === "symbol" ? String(p) : p));
      return { path, message: i.message, ...locate(path) };
    });
    throw new FleetValidationError(source, issues);
  }
  const issues = crossReferenceIssues(result.data, options.validateSql).map((i) => ({ ...i, ...locate(i.path) }));
  if (issues.length > 0) throw new FleetValidationError(source, issues);
  return result.data;
}

function crossReferenceIssues(fleet: Fleet, validateSql?: SqlStateValidator): FleetIssue[] {
  const issues: FleetIssue[] = [];
  const workspaceNames = new Map<string, number>();
  const customerIds = new Set<string>();
  const subscriptionIds = new Set<string>();
  const principals = new Set<string>();
  const clientIds = new Set<string>();
  [fleet.scanner, ...fleet.otherIdentities].forEach((identity, i) => {
    const path = i === 0 ? ["scanner"] : ["otherIdentities", i - 1];
    if (principals.has(identity.principalId.toLowerCase())) issues.push({ path: [...path, "principalId"], message: "duplicate principalId" });
    if (clientIds.has(identity.clientId.toLowerCase())) issues.push({ path: [...path, "clientId"], message: "duplicate clientId" });
    principals.add(identity.principalId.toLowerCase());
    clientIds.add(identity.clientId.toLowerCase());
  });
  fleet.subscriptions.forEach((sub, s) => {
    if (subscriptionIds.has(sub.id.toLowerCase())) issues.push({ path: ["subscriptions", s, "id"], message: "duplicate subscription id" });
    subscriptionIds.add(sub.id.toLowerCase());
    const groups = new Set<string>();
    sub.resourceGroups.forEach((rg, g) => {
      const rgPath = ["subscriptions", s, "resourceGroups", g];
      if (groups.has(rg.name.toLowerCase())) issues.push({ path: [...rgPath, "name"], message: `duplicate resource group '${rg.name}'` });
      groups.add(rg.name.toLowerCase());
      rg.logAnalyticsWorkspaces.forEach((ws, w) => {
        workspaceNames.set(ws.name.toLowerCase(), (workspaceNames.get(ws.name.toLowerCase()) ?? 0) + 1);
        for (const [table, rows] of Object.entries(ws.tables)) {
          rows.forEach((row, r) => {
            for (const [column, value] of Object.entries(row)) {
              if (SEED_DATE_COLUMN.test(column) && (typeof value === "string" || value instanceof Date) && !parseSeedTime(value, new Date())) {
                issues.push({ path: [...rgPath, "logAnalyticsWorkspaces", w, "tables", table, r, column], message: "not a date-time nor a negative ISO 8601 duration such as -PT20M" });
              }
            }
          });
        }
        if (customerIds.has(ws.customerId.toLowerCase())) issues.push({ path: [...rgPath, "logAnalyticsWorkspaces", w, "customerId"], message: "duplicate customerId" });
        customerIds.add(ws.customerId.toLowerCase());
      });
    });
  });
  // A state Azure could never hold is refused: groups outside the documented list (emulator/arm/audit-action-groups.ts),
  // and extendedAuditingSettings that differ from auditingSettings in more than the predicate (they are one policy).
  const checkPolicies = (
    owner: { auditingSettings?: FleetAuditingPolicy | undefined; extendedAuditingSettings?: FleetAuditingPolicy | undefined },
    level: "server" | "database",
    path: (string | number)[],
  ) => {
    for (const key of ["auditingSettings", "extendedAuditingSettings"] as const) {
      owner[key]?.auditActionsAndGroups.forEach((entry, g) => {
        const kind = classifyAuditEntry(entry, level);
        if (kind === "invalid" || (kind === "action" && level === "server")) {
          issues.push({ path: [...path, key, "auditActionsAndGroups", g], message: `'${entry}' is not an action group${level === "database" ? " or action" : ""} Azure accepts for a ${level === "server" ? "server or workspace" : "database"} auditing policy` });
        }
      });
    }
    const { predicateExpression: _a, ...plain } = owner.auditingSettings ?? ({} as FleetAuditingPolicy);
    if (owner.extendedAuditingSettings) {
      const { predicateExpression: _b, ...extended } = owner.extendedAuditingSettings;
      if (owner.auditingSettings && JSON.stringify(plain) !== JSON.stringify(extended)) {
        issues.push({ path: [...path, "extendedAuditingSettings"], message: "auditingSettings and extendedAuditingSettings are one policy in Azure: give the same values (the extended one may add predicateExpression)" });
      }
    }
  };
  const serverNames = new Set<string>();
  fleet.subscriptions.forEach((sub, s) =>
    sub.resourceGroups.forEach((rg, g) => {
      const rgPath = ["subscriptions", s, "resourceGroups", g];
      const checkSettings = (settings: { name: string; workspace?: string | undefined }[], path: (string | number)[]) => {
        const names = new Set<string>();
        settings.forEach((ds, d) => {
          if (names.has(ds.name.toLowerCase())) issues.push({ path: [...path, d, "name"], message: `duplicate diagnostic setting '${ds.name}'` });
          names.add(ds.name.toLowerCase());
          if (ds.workspace && !ds.workspace.startsWith("/")) {
            const count = workspaceNames.get(ds.workspace.toLowerCase()) ?? 0;
            if (count === 0) issues.push({ path: [...path, d, "workspace"], message: `no Log Analytics workspace named '${ds.workspace}' in this fleet (use an ARM id for a workspace outside it)` });
            if (count > 1) issues.push({ path: [...path, d, "workspace"], message: `workspace name '${ds.workspace}' is ambiguous; use its ARM id` });
          }
        });
      };
      rg.managedInstances.forEach((mi, i) => {
        const path = [...rgPath, "managedInstances", i];
        // Instance and server names are global DNS names in Azure.
        if (serverNames.has(mi.name.toLowerCase())) issues.push({ path: [...path, "name"], message: `duplicate server name '${mi.name}'` });
        serverNames.add(mi.name.toLowerCase());
        checkSettings(mi.diagnosticSettings, [...path, "diagnosticSettings"]);
        if (mi.sql !== undefined && validateSql) {
          for (const issue of validateSql(mi.sql)) issues.push({ path: [...path, "sql", ...issue.path], message: issue.message });
        }
      });
      rg.sqlServers.forEach((server, i) => {
        const path = [...rgPath, "sqlServers", i];
        checkPolicies(server, "server", path);
        server.databases.forEach((db, d) => checkPolicies(db, "database", [...path, "databases", d]));
        if (serverNames.has(server.name.toLowerCase())) issues.push({ path: [...path, "name"], message: `duplicate server name '${server.name}'` });
        serverNames.add(server.name.toLowerCase());
        checkSettings(server.diagnosticSettings, [...path, "diagnosticSettings"]);
        server.databases.forEach((db, d) => {
          if (db.name.toLowerCase() === "master") issues.push({ path: [...path, "databases", d, "name"], message: "master is implicit; put its diagnostic settings on the server" });
          checkSettings(db.diagnosticSettings, [...path, "databases", d, "diagnosticSettings"]);
        });
      });
      rg.synapseWorkspaces.forEach((ws, i) => {
        const path = [...rgPath, "synapseWorkspaces", i];
        checkPolicies(ws, "server", path);
        checkSettings(ws.diagnosticSettings, [...path, "diagnosticSettings"]);
      });
    }),
  );
  [fleet.scanner, ...fleet.otherIdentities].forEach((identity, i) =>
    identity.roleAssignments.forEach((a, r) => {
      const sub = /^\/subscriptions\/([^/]+)/i.exec(a.scope)?.[1]?.toLowerCase();
      if (sub && !subscriptionIds.has(sub)) {
        issues.push({ path: [...(i === 0 ? ["scanner"] : ["otherIdentities", i - 1]), "roleAssignments", r, "scope"], message: `scope names unknown subscription '${sub}'` });
      }
    }),
  );
  fleet.faults.throttleBursts.forEach((b, i) => {
    if (b.subscriptionId && !subscriptionIds.has(b.subscriptionId.toLowerCase())) {
      issues.push({ path: ["faults", "throttleBursts", i, "subscriptionId"], message: "unknown subscription" });
    }
  });
  for (const [service, dist] of Object.entries(fleet.faults.latency)) {
    if (dist?.kind === "uniform" && dist.maxMs < dist.minMs) issues.push({ path: ["faults", "latency", service, "maxMs"], message: "maxMs is below minMs" });
  }
  return issues;
}

/** Turns a zod-like schema (anything with safeParse) into the validator for instances' `sql:` state. */
export function sqlValidatorFromSchema(schema: { safeParse(value: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } }): SqlStateValidator {
  return (sql) => {
    const result = schema.safeParse(sql);
    if (result.success) return [];
    return (result.error?.issues ?? []).map((i) => ({ path: i.path.map((p) => (typeof p === "symbol" ? String(p) : p)), message: i.message }));
  };
}
