import type { Baseline, DesiredDiagnosticSetting } from "../core/policy/schema.js";
import type { Observation, Target, TargetKind } from "../core/domain.js";
import type { Rule } from "../core/rules/rule.js";
import type { TargetPlan } from "../core/plan.js";

/**
 * A kind of target, declared in one place (src/kinds/<kind>/index.ts): how Azure names it, how the baseline and the
 * reports speak of it, where its diagnostic setting lives, its rules and how its fixes are planned. Pure data and
 * pure functions: core, the reports and the CLI read kinds through the registry (src/kinds/registry.ts). What a kind
 * reads and writes in Azure is its adapter (src/kinds/<kind>/adapter.ts, KindAdapter), which only the scan layer
 * imports.
 */
/** The baseline's sections that hold a kind's desired state (each has a diagnosticSetting). */
export type KindSection = { [K in keyof Baseline]-?: "diagnosticSetting" extends keyof Baseline[K] ? K : never }[keyof Baseline];

export interface KindModule<K extends TargetKind = TargetKind> {
  id: K;
  /** How reports name one target of the kind, and several. */
  label: string;
  labelPlural: string;
  /** The ARM resource type, in lower case as Resource Graph's `type` column and the inventory compare it. */
  armType: string;
  /** The key of the baseline's `modes` that sets this kind's mode. */
  modeKey: keyof Baseline["modes"];
  /** The baseline's section that holds what the baseline asks of the kind (its auditing, its diagnostic setting). */
  section: KindSection;
  /** Rule ids start with `<rulePrefix>.`; its diagnostic-setting rule is `<rulePrefix>.diagnostic-setting`. */
  rulePrefix: string;
  diagnosticSetting: {
    /** The ARM id of the resource its audit's diagnostic setting is on. */
    resourceUri: (target: Target) => string;
    /** The setting the baseline asks for, if it designates a workspace for the kind. */
    desired: (baseline: Baseline) => DesiredDiagnosticSetting | undefined;
  };
  /**
   * The rules whose failure keeps the kind's audit records from reaching the workspace: the activity rules that read
   * those records (activity.audit-silence) depend on them.
   */
  deliveryRules: readonly string[];
  /** Its rules, in the order the catalog lists them (the diagnostic-setting rule last). */
  rules: readonly Rule[];
  /**
   * The fixes for its own failing rules (`failing`: the failing remediable rules of this kind, its diagnostic
   * setting's excepted, which is planned alike for every kind). Pure.
   */
  plan: (baseline: Baseline, observation: Observation, failing: readonly string[]) => TargetPlan;
  /** The ARM API version `az rest` uses to write its auditing policy, where it has one. */
  auditingPolicyApiVersion?: string;
  /**
   * The Azure RBAC action and built-in role a failed read or write of its auditing policy needs, where it has one
   * (a reason names them when ARM answers 403).
   */
  permissions?: { readAuditingPolicy: string; writeAuditingPolicy: string };
  /** Public documents that define what the kind's rules check. */
  references: ReadonlyArray<{ title: string; url: string }>;
}
