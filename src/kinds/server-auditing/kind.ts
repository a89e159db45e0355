import type { KindModule } from "../kind.js";
import type { Target, TargetKind } from "../../core/domain.js";
import { diagnosticSettingRule } from "../../core/rules/diagnostic-settings.js";
import type { PolicyKindSpec } from "./spec.js";
import { serverAuditingRules } from "./rules.js";
import { planServerAuditing } from "./plan.js";

/** What a policy kind declares beyond its spec: how Azure and the reports name it, where its diagnostic setting lives. */
export interface PolicyKindDeclaration {
  spec: PolicyKindSpec;
  labelPlural: string;
  armType: string;
  modeKey: KindModule["modeKey"];
  /** Where the diagnostic setting is, as the rule's title says it. */
  diagnosticWhere: string;
  diagnosticResourceUri: (target: Target) => string;
  auditingPolicyApiVersion: string;
  permissions: NonNullable<KindModule["permissions"]>;
  references: KindModule["references"];
}

/** A kind whose auditing is an ARM server auditing policy: its rules, its plan and its diagnostic setting. */
export function policyKind<K extends TargetKind>(d: PolicyKindDeclaration & { spec: { kind: K } }): KindModule<K> {
  const { spec } = d;
  const desired = (baseline: Parameters<KindModule["diagnosticSetting"]["desired"]>[0]) => baseline[spec.section].diagnosticSetting;
  return {
    id: d.spec.kind,
    label: spec.label,
    labelPlural: d.labelPlural,
    armType: d.armType,
    modeKey: d.modeKey,
    section: spec.section,
    rulePrefix: spec.prefix,
    // Auditing off or no diagnostic setting: nothing reaches the workspace.
    deliveryRules: [`${spec.prefix}.auditing.enabled`, `${spec.prefix}.diagnostic-setting`],
    diagnosticSetting: { resourceUri: d.diagnosticResourceUri, desired },
    rules: [...serverAuditingRules(spec), diagnosticSettingRule({ kind: spec.kind, prefix: spec.prefix, where: d.diagnosticWhere, desired })],
    plan: (baseline, observation, failing) => planServerAuditing(spec, baseline, observation, failing),
    auditingPolicyApiVersion: d.auditingPolicyApiVersion,
    permissions: d.permissions,
    references: d.references,
  };
}
