import type { RemediationAction, Target } from "../core/domain.js";
import { quoteString } from "../core/sql-text/identifiers.js";
import { APPLOCK_RESOURCE } from "../azure/sql-audit.js";
import { TOOL_VERSION } from "../core/version.js";
import { kindOf } from "../kinds/registry.js";

/**
 * `--format sql`: the plan as an operator runs it by hand. One section per Managed Instance, in sqlcmd's dialect
 * (`GO` ends a batch; `:on error exit` stops at the first error, Microsoft Learn "sqlcmd utility"); the ARM PUTs
 * follow as `az rest` commands in a closing comment.
 *
 * Audit DDL is not wrapped in a transaction: a STATE change of an audit specification "must be done outside a
 * user transaction" (ALTER SERVER AUDIT SPECIFICATION, Microsoft Learn), so there is nothing to roll back. Each
 * statement is its own batch and the script stops at the first failure, as AuditGuard's own remediation does;
 * what ran before it stays applied, and running `auditguard plan` again shows what remains. SET XACT_ABORT ON
 * still makes any run-time error end its batch. The section first checks it is connected to the instance it was
 * written for (@@SERVERNAME is the instance's FQDN on Managed Instance), then takes the same application lock as
 * AuditGuard's remediation, so a scan that starts meanwhile waits instead of interleaving its changes.
 */
export interface ScriptTarget {
  target: Target;
  actions: readonly RemediationAction[];
}

// The api-version @azure/arm-monitor 8 sends for diagnostic settings; each kind names its auditing policy's own.
const API_VERSION = { diagnosticSettings: "2021-05-01-preview" } as const;

function auditingPolicyApiVersion(target: Target): string {
  const version = kindOf(target.kind).auditingPolicyApiVersion;
  if (!version) throw new Error(`${target.kind} has no ARM auditing policy`);
  return version;
}

const comment = (text: string) => text.replace(/[\r\n]+/g, " ");

function tsqlSection({ target, actions }: ScriptTarget): string {
  const tsql = actions.filter((a): a is Extract<RemediationAction, { kind: "tsql" }> => a.kind === "tsql");
  const fqdn = target.fullyQualifiedDomainName;
  const lines = [
    "",
    `-- ===== ${comment(target.name)} (${comment(target.id)})`,
    fqdn ? `-- Run against ${comment(fqdn)}, database master: sqlcmd -S ${comment(fqdn)} -d master -G -i <this file>` : "-- The instance's host name is not known: check you are connected to the right instance before running this section.",
  ];
  if (fqdn) {
    lines.push(`IF @@SERVERNAME <> ${quoteString(fqdn)} THROW 50000, ${quoteString(`AuditGuard: this section is for ${fqdn}; nothing was changed.`)}, 1;`, "GO");
  }
  lines.push(
    `DECLARE @lock int; EXEC @lock = sp_getapplock @Resource = ${quoteString(APPLOCK_RESOURCE)}, @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = 30000;`,
    `IF @lock < 0 THROW 50001, ${quoteString("AuditGuard: another AuditGuard run holds the remediation lock; nothing was changed.")}, 1;`,
    "GO",
  );
  for (const [i, action] of tsql.entries()) {
    lines.push(`-- ${i + 1}. ${comment(action.description)} [${action.ruleIds.join(", ") || "ordering step"}]`, action.statement, "GO");
  }
  lines.push(`EXEC sp_releaseapplock @Resource = ${quoteString(APPLOCK_RESOURCE)}, @LockOwner = 'Session';`, "GO");
  return lines.join("\n");
}

/** A POSIX shell single-quoted word. */
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function armCommand(target: Target, action: Exclude<RemediationAction, { kind: "tsql" }>): string {
  const [path, version] =
    action.kind === "arm-auditing-put"
      ? [`${action.resourceId}/${action.policy}/default`, auditingPolicyApiVersion(target)]
      : [`${action.resourceUri}/providers/Microsoft.Insights/diagnosticSettings/${action.name}`, API_VERSION.diagnosticSettings];
  const body = JSON.stringify({ properties: action.body });
  // "*/" would end the comment the commands sit in; in the JSON body "\/" is the same character.
  return `# ${comment(target.name)}: ${comment(action.description)} [${action.ruleIds.join(", ")}]\naz rest --method put --url ${shellQuote(`${path}?api-version=${version}`)} --body ${shellQuote(body)}`.replace(/\*\//g, "*\\/");
}

export function sqlScript(targets: readonly ScriptTarget[], options: { generatedAt: string; origin: string }): string {
  const withSql = targets.filter((t) => t.actions.some((a) => a.kind === "tsql"));
  const arm = targets.flatMap((t) => t.actions.filter((a): a is Exclude<RemediationAction, { kind: "tsql" }> => a.kind !== "tsql").map((a) => armCommand(t.target, a)));
  const head = [
    `-- AuditGuard ${TOOL_VERSION}: remediation script from ${comment(options.origin)}, generated ${options.generatedAt}.`,
    "-- Run each section against its own Managed Instance with sqlcmd, as a login with ALTER ANY SERVER AUDIT. Each",
    "-- statement is a batch of its own; the script stops at the first error and what ran before it stays applied",
    "-- (audit state changes cannot run inside a user transaction): run `auditguard plan` again to see what remains.",
    ":on error exit",
    "SET NOCOUNT ON;",
    "SET XACT_ABORT ON;",
    "GO",
  ];
  const sections = withSql.length ? withSql.map(tsqlSection) : ["", "-- No T-SQL change to make."];
  const tail = arm.length
    ? [
        "",
        "/* ARM changes: not T-SQL. Run them in a shell signed in with `az login` (az rest signs each request with your",
        "   credential and prefixes the resource id with your cloud's Resource Manager endpoint; a PUT sets the whole",
        "   policy or setting, so running one twice is harmless).",
        "",
        ...arm.flatMap((c) => [c, ""]),
        "*/",
      ]
    : [];
  return `${[...head, ...sections, ...tail].join("\n")}\n`;
}
