import { redact } from "../core/redaction.js";
import { StoreError } from "../azure/errors.js";
import type { TargetKind } from "../core/domain.js";
import { KINDS, kindOf } from "../kinds/registry.js";
import type { KindModule } from "../kinds/kind.js";

/**
 * Turns whatever an observe or apply step threw into a reason a DBA can act on: the service's own code and
 * message, and, for the permission failures that break remediation more than anything else, which permission is
 * missing on what. Messages are redacted before they go anywhere.
 */
export type Operation =
  | "inventory"
  | "resolve-target"
  | "results-store"
  | "read-sql-audit"
  | "apply-sql-audit"
  | "read-auditing-policy"
  | "write-auditing-policy"
  | "read-diagnostic-settings"
  | "write-diagnostic-settings"
  | "read-activity";

export interface DescribedError {
  code: string;
  message: string;
  sqlErrorNumber?: number;
  missingPermission?: string;
  /** Worth retrying later (throttling, timeouts, transient SQL errors); not a verdict on the target. */
  transient: boolean;
}

// What every kind's ARM calls need; a kind's own policy permissions are its module's (KindModule.permissions).
const ARM_PERMISSION: Partial<Record<Operation, string>> = {
  "read-diagnostic-settings": "Microsoft.Insights/diagnosticSettings/read — role Reader or Monitoring Reader",
  "write-diagnostic-settings": "Microsoft.Insights/diagnosticSettings/write — role Monitoring Contributor",
  "read-activity": "Microsoft.Insights/logs/read on the resource, or Log Analytics Reader on its workspace",
  inventory: "Microsoft.ResourceGraph/resources/read and */read on the scope — role Reader",
  "resolve-target": "*/read on the resource — role Reader",
};

const KIND_PERMISSION: Partial<Record<Operation, keyof NonNullable<KindModule["permissions"]>>> = {
  "read-auditing-policy": "readAuditingPolicy",
  "write-auditing-policy": "writeAuditingPolicy",
};

/** The permission an ARM call of the operation needs: the target's kind's own, or, with no kind known, every kind's. */
function armPermission(operation: Operation, kind: TargetKind | undefined): string | undefined {
  const own = KIND_PERMISSION[operation];
  if (!own) return ARM_PERMISSION[operation];
  const texts = (kind ? [kindOf(kind)] : KINDS).flatMap((k) => (k.permissions ? [k.permissions[own]] : []));
  return texts.length ? texts.join("; or ") : undefined;
}

// Login/permission failures on a Managed Instance, and what they mean for AuditGuard.
const SQL_PERMISSION: Record<number, string> = {
  15247: "ALTER ANY SERVER AUDIT (or CONTROL SERVER) on the instance",
  300: "VIEW SERVER SECURITY STATE / VIEW ANY DEFINITION on the instance",
  297: "VIEW SERVER STATE on the instance",
  18456: "a login for the scanner's identity (CREATE LOGIN ... FROM EXTERNAL PROVIDER)",
};

// tedious's transient list (lib/transient-error-lookup.js) plus deadlock and lock timeout.
const SQL_TRANSIENT = new Set([4060, 10928, 10929, 40197, 40501, 40613, 1205, 1222, 49918, 49919, 49920]);
// ECLOSE and EINVALIDSTATE are tedious's: the connection went away during or before a request; a new one may work.
const NODE_TRANSIENT = new Set(["ETIMEOUT", "ESOCKET", "ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "ECONNCLOSED", "EHOSTUNREACH", "ECLOSE", "EINVALIDSTATE"]);

interface ErrorLike {
  name?: string;
  message?: string;
  code?: string | number;
  statusCode?: number;
  number?: number;
  originalError?: { info?: { number?: number }; code?: string };
  errors?: unknown[];
}

function sqlNumber(e: ErrorLike): number | undefined {
  if (typeof e.number === "number") return e.number;
  if (typeof e.originalError?.info?.number === "number") return e.originalError.info.number;
  return undefined;
}

/**
 * `kind` is the kind of the target the call was for, where there is one: its own permissions are named.
 * `signal` is the signal the failed call ran under: cancellation and timeouts are recognised by it (and by the
 * errors this module's budget raises), never by words in a message — a SQL error whose text says "aborted" is a
 * SQL error.
 */
export function describeError(error: unknown, operation: Operation, resource: string, signal?: AbortSignal, kind?: TargetKind): DescribedError {
  if (error instanceof CallTimeoutError) return { code: "Timeout", message: redact(error.message), transient: true };
  if (error instanceof ScanStoppedError) return { code: "Cancelled", message: redact(error.message), transient: true };
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof CallTimeoutError || reason instanceof TargetBudgetExceeded) return { code: "Timeout", message: redact(reason.message), transient: true };
    return { code: "Cancelled", message: redact(reason instanceof Error ? reason.message : "the scan was cancelled"), transient: true };
  }
  if (error instanceof StoreError) {
    const inner = describeError(error.cause, "results-store", resource);
    return { code: "StoreUnavailable", message: redact(`${error.message}: ${inner.code}: ${inner.message}`), transient: inner.transient };
  }
  if (error instanceof UntrustedTargetError) return { code: error.code, message: redact(error.message), transient: false };
  const e = (typeof error === "object" && error !== null ? error : { message: String(error) }) as ErrorLike;
  const message = redact(e.message ?? String(error));
  if (typeof e.statusCode === "number") {
    const code = typeof e.code === "string" ? e.code : `HTTP${e.statusCode}`;
    const described: DescribedError = { code, message, transient: e.statusCode === 429 || e.statusCode >= 500 || e.statusCode === 408 };
    if (e.statusCode === 403 || code === "AuthorizationFailed") {
      const permission = armPermission(operation, kind);
      if (permission) described.missingPermission = `${permission} on ${resource}`;
    }
    return described;
  }
  const number = sqlNumber(e);
  if (number !== undefined) {
    const described: DescribedError = { code: `SQL${number}`, message, sqlErrorNumber: number, transient: SQL_TRANSIENT.has(number) };
    const permission = SQL_PERMISSION[number];
    if (permission) described.missingPermission = `${permission} (${resource})`;
    return described;
  }
  const code = typeof e.code === "string" ? e.code : (e.originalError?.code ?? e.name ?? "Error");
  if (code === "ELOGIN") {
    return { code, message, transient: false, missingPermission: `${SQL_PERMISSION[18456]} (${resource})` };
  }
  if (code === "EFEDAUTH" || /CredentialUnavailableError|AuthenticationRequiredError|AggregateAuthenticationError/.test(String(e.name))) {
    return { code: String(code), message, transient: false };
  }
  return { code: String(code), message, transient: NODE_TRANSIENT.has(String(code)) };
}

export function formatReason(described: DescribedError): string {
  const base = `${described.code}: ${described.message}`;
  return described.missingPermission ? `${base} — missing permission: ${described.missingPermission}` : base;
}

/** One call of a target did not answer within what was left of the target's budget. */
export class CallTimeoutError extends Error {
  override readonly name = "CallTimeoutError";
  constructor(
    readonly call: string,
    readonly budgetSeconds: number,
  ) {
    super(`${call} did not answer within the target's budget of ${budgetSeconds} s (scan.targetTimeoutSeconds)`);
  }
}

/** The abort reason of a target's own signal when its budget runs out (before any single call is blamed). */
export class TargetBudgetExceeded extends Error {
  override readonly name = "TargetBudgetExceeded";
  constructor(readonly budgetSeconds: number) {
    super(`the target's budget of ${budgetSeconds} s ran out (scan.targetTimeoutSeconds)`);
  }
}

/** The scan (or the function invocation) was cancelled or reached its deadline while a call was under way. */
export class ScanStoppedError extends Error {
  override readonly name = "ScanStoppedError";
}

/** A target the scanner refuses to touch: not what ARM says, outside the scope, or a host outside the instance's DNS zone. */
export class UntrustedTargetError extends Error {
  override readonly name = "UntrustedTargetError";
  constructor(
    readonly code: "TargetNotFound" | "TargetOutOfScope" | "UntrustedHost" | "UnsupportedTarget",
    message: string,
  ) {
    super(message);
  }
}
