import type { Rule, RuleContext, RuleOutcome } from "../../core/rules/rule.js";
import { fail, pass } from "../../core/rules/rule.js";
import { filterAllowed } from "../../core/sql-text/predicate.js";
import { describeTarget, isView, managedInstanceView, missingGroups, targetMatches } from "./view.js";
import type { ManagedInstanceView } from "./view.js";
import { KIND } from "./id.js";

/** Runs `check` on the MI view, or returns why the view could not be built (wrong kind, unreadable, not an MI). */
function withView(check: (view: ManagedInstanceView, context: RuleContext) => RuleOutcome) {
  return (context: RuleContext): RuleOutcome => {
    const view = managedInstanceView(context.baseline, context.observation);
    return isView(view) ? check(view, context) : view;
  };
}

const auditName = (v: ManagedInstanceView) => v.desired.audit.name;
const specName = (v: ManagedInstanceView) => v.desired.specification.name;

/** The instance's server audit and specification, read over T-SQL (the diagnostic-setting rule is added in index.ts). */
export const managedInstanceRules: Rule[] = [
  {
    id: "mi.engine-edition",
    title: "The server is a SQL Managed Instance",
    severity: "high",
    kind: KIND,
    rationale: "Managed Instance audit rules only make sense on engine edition 8; anything else answering on the instance's name is reported, not scanned as an MI.",
    remedy: "Check the resource's fully qualified domain name and DNS; the scanner reached a server that is not a Managed Instance.",
    remediable: false,
    check: withView((v) => pass(`engine edition ${v.sql.engineEdition} (Managed Instance)`)),
  },
  {
    id: "mi.audit.exists",
    title: "The baseline's server audit exists",
    severity: "critical",
    kind: KIND,
    rationale: "Managed Instance has no ARM auditing API: the T-SQL server audit is the only thing that records backups, restores and audit changes.",
    remedy: "CREATE SERVER AUDIT [<name>] TO EXTERNAL_MONITOR, then turn it on.",
    remediable: true,
    dependsOn: ["mi.engine-edition"],
    check: withView((v) =>
      v.audit
        ? pass(`server audit ${auditName(v)} exists`, { auditGuid: v.audit.auditGuid })
        : fail(`server audit ${auditName(v)} does not exist`, { audits: v.sql.audits.map((a) => a.name) }),
    ),
  },
  {
    id: "mi.audit.target",
    title: "The server audit writes to the baseline's target",
    severity: "high",
    kind: KIND,
    rationale: "An audit to EXTERNAL_MONITOR reaches Log Analytics through the diagnostic setting; an audit that writes elsewhere is invisible to the alerts built on that workspace.",
    remedy: "Turn the audit off, ALTER SERVER AUDIT [<name>] TO EXTERNAL_MONITOR (or the baseline's URL), turn it back on.",
    remediable: true,
    dependsOn: ["mi.audit.exists"],
    check: withView((v) => {
      if (!v.audit) return fail(`server audit ${auditName(v)} does not exist`);
      return targetMatches(v.audit.target, v.desired)
        ? pass(`audit writes to ${describeTarget(v.audit.target)}`)
        : fail(`audit writes to ${describeTarget(v.audit.target)}, not the baseline's target`, { type: v.audit.type, typeDesc: v.audit.typeDesc, ...(v.audit.file ? { file: v.audit.file } : {}) });
    }),
  },
  {
    id: "mi.audit.filter",
    title: "The server audit has no filter beyond the one the baseline allows",
    severity: "high",
    kind: KIND,
    rationale:
      "A WHERE clause on the server audit (sys.server_audits.predicate) silently drops every event it excludes: WHERE server_principal_name <> 'mallory' blinds the audit to one principal while it still looks enabled and started.",
    remedy: "Turn the audit off, ALTER SERVER AUDIT [<name>] REMOVE WHERE (or WHERE <the baseline's allowedFilter>), turn it back on.",
    remediable: true,
    check: withView((v) => {
      if (!v.audit) return fail(`server audit ${auditName(v)} does not exist`);
      const allowed = v.desired.audit.allowedFilter;
      if (filterAllowed(v.audit.predicate, allowed)) return pass(v.audit.predicate ? `audit filter is the allowed one: ${v.audit.predicate}` : "audit has no filter");
      return fail(v.audit.predicate ? `audit records only events matching WHERE ${v.audit.predicate}${allowed ? `, not the allowed ${allowed}` : ""}` : `audit has no filter, but the baseline's allowedFilter is ${allowed}`, {
        predicate: v.audit.predicate,
        ...(allowed ? { allowedFilter: allowed } : {}),
      });
    }),
  },
  {
    id: "mi.audit.enabled",
    title: "The server audit is enabled",
    severity: "critical",
    kind: KIND,
    rationale: "A disabled audit records nothing; switching it off is the first step of covering a backup taken out of the estate.",
    remedy: "ALTER SERVER AUDIT [<name>] WITH (STATE = ON).",
    remediable: true,
    dependsOn: ["mi.audit.exists"],
    check: withView((v) => {
      if (!v.audit) return fail(`server audit ${auditName(v)} does not exist`);
      return v.audit.isStateEnabled ? pass("audit is enabled") : fail("audit is disabled (STATE = OFF)");
    }),
  },
  {
    id: "mi.audit.started",
    title: "The server audit session is started",
    severity: "high",
    kind: KIND,
    rationale: "An enabled audit whose session failed (sys.dm_server_audit_status not STARTED) writes nothing, though its definition looks right.",
    remedy: "Restart the audit: ALTER SERVER AUDIT [<name>] WITH (STATE = OFF), then WITH (STATE = ON); investigate the target if it fails again.",
    remediable: true,
    dependsOn: ["mi.audit.enabled"],
    check: withView((v) => {
      if (!v.audit) return fail(`server audit ${auditName(v)} does not exist`);
      if (!v.audit.isStateEnabled) return fail("audit is disabled, so its session is not started", { status: v.audit.status });
      return v.audit.status === "STARTED" ? pass("audit status is STARTED") : fail(`audit status is ${v.audit.status ?? "absent from sys.dm_server_audit_status"}`, { status: v.audit.status });
    }),
  },
  {
    id: "mi.audit.options",
    title: "QUEUE_DELAY and ON_FAILURE match the baseline",
    severity: "medium",
    kind: KIND,
    rationale: "A long queue delay loses more events if the instance fails; ON_FAILURE decides whether work continues when auditing cannot write.",
    remedy: "Turn the audit off, ALTER SERVER AUDIT [<name>] WITH (QUEUE_DELAY = n, ON_FAILURE = x), turn it back on.",
    remediable: true,
    dependsOn: ["mi.audit.exists"],
    check: withView((v) => {
      if (!v.audit) return fail(`server audit ${auditName(v)} does not exist`);
      const want = v.desired.audit;
      const problems = [
        ...(v.audit.queueDelay !== want.queueDelayMs ? [`QUEUE_DELAY is ${v.audit.queueDelay}, baseline ${want.queueDelayMs}`] : []),
        ...(v.audit.onFailure.replace(/ /g, "_").toUpperCase() !== want.onFailure ? [`ON_FAILURE is ${v.audit.onFailure}, baseline ${want.onFailure}`] : []),
      ];
      return problems.length ? fail(problems.join("; ")) : pass(`QUEUE_DELAY ${want.queueDelayMs}, ON_FAILURE ${want.onFailure}`);
    }),
  },
  {
    id: "mi.specification.exists",
    title: "A server audit specification is bound to the audit",
    severity: "critical",
    kind: KIND,
    rationale: "An audit without a specification records only its own state changes; the specification decides which actions are audited.",
    remedy: "CREATE SERVER AUDIT SPECIFICATION [<spec>] FOR SERVER AUDIT [<name>] ADD (<groups>) WITH (STATE = ON).",
    remediable: true,
    dependsOn: ["mi.audit.exists"],
    check: withView((v) => {
      if (!v.audit) return fail(`server audit ${auditName(v)} does not exist, so no specification is bound to it`);
      if (v.boundSpecifications.length) return pass(`specification ${v.boundSpecifications.map((s) => s.name).join(", ")} is bound to the audit`);
      if (v.namedSpecification) {
        const other = v.sql.audits.find((a) => a.auditGuid === v.namedSpecification!.auditGuid);
        return fail(`specification ${specName(v)} exists but is bound to ${other ? `audit ${other.name}` : "an audit that no longer exists"}: a conflict AuditGuard does not resolve by taking it over`, {
          auditGuid: v.namedSpecification.auditGuid,
          ...(other ? { boundTo: other.name } : {}),
        });
      }
      return fail(`no server audit specification is bound to ${auditName(v)}`);
    }),
  },
  {
    id: "mi.specification.groups",
    title: "The specification holds every required action group",
    severity: "high",
    kind: KIND,
    rationale: "BACKUP_RESTORE_GROUP records backups and restores (the exfiltration path); AUDIT_CHANGE_GROUP records anyone tampering with the audit first.",
    remedy: "Turn the specification off, ALTER SERVER AUDIT SPECIFICATION [<spec>] ADD (<group>), turn it back on. Extra groups are kept.",
    remediable: true,
    dependsOn: ["mi.specification.exists"],
    check: withView((v) => {
      const required = v.desired.specification.actionGroups;
      const bound = v.boundSpecifications;
      if (!bound.length) return fail("no specification is bound to the audit", { required });
      const best = bound.map((s) => ({ spec: s, missing: missingGroups(s, required) })).sort((a, b) => a.missing.length - b.missing.length)[0]!;
      return best.missing.length
        ? fail(`specification ${best.spec.name} lacks ${best.missing.join(", ")}`, { groups: best.spec.groups, missing: best.missing })
        : pass(`specification ${best.spec.name} holds ${required.join(", ")}`, { groups: best.spec.groups });
    }),
  },
  {
    id: "mi.specification.enabled",
    title: "The specification is enabled",
    severity: "critical",
    kind: KIND,
    rationale: "A disabled specification audits nothing even when the audit is on.",
    remedy: "ALTER SERVER AUDIT SPECIFICATION [<spec>] WITH (STATE = ON).",
    remediable: true,
    dependsOn: ["mi.specification.exists"],
    check: withView((v) => {
      const bound = v.boundSpecifications;
      if (!bound.length) return fail("no specification is bound to the audit");
      const enabled = bound.filter((s) => s.isStateEnabled);
      return enabled.length ? pass(`specification ${enabled.map((s) => s.name).join(", ")} is enabled`) : fail(`specification ${bound.map((s) => s.name).join(", ")} is disabled`);
    }),
  },
];
