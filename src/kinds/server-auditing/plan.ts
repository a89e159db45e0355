import type { Baseline } from "../../core/policy/schema.js";
import type { AuditingPolicy, Observation } from "../../core/domain.js";
import type { TargetPlan } from "../../core/plan.js";
import { missingActionGroups } from "./rules.js";
import type { PolicyKindSpec } from "./spec.js";
import { desiredAuditing } from "./spec.js";

/**
 * The auditing policy's fix: one PUT of the policy as it is, with what the baseline requires. Pure. A policy that
 * writes to storage with an access key is not rewritten (a PUT cannot resend the key, and an endpoint without one
 * means "use the managed identity") unless the baseline says so; that refusal is returned as `blocked`, with why.
 */
// Write-only or secret fields never go back in a PUT.
const NEVER_SENT = new Set(["storageAccountAccessKey"]);

export function planServerAuditing(spec: PolicyKindSpec, baseline: Baseline, observation: Observation, failing: readonly string[]): TargetPlan {
  const ruleIds = [...failing];
  if (!ruleIds.length || !observation.auditingPolicy?.ok) return { actions: [], blocked: [] };
  const current = observation.auditingPolicy.value;
  const want = desiredAuditing(baseline, spec);
  // A storage endpoint without the key is read by ARM as "authenticate with the managed identity": resending the
  // policy without the key it never returns would switch a key-based policy to an identity that may have no access.
  const keyBased = Boolean(current.storageEndpoint) && current.isManagedIdentityInUse !== true;
  if (keyBased && want.storageAuthentication === "keep") {
    return {
      actions: [],
      blocked: [
        {
          ruleIds,
          reason: `the policy writes to ${current.storageEndpoint} with ${current.isManagedIdentityInUse === undefined && spec.identityFlagMayBeMissing ? `an access key or an identity (${spec.service} does not say which)` : "an access key"}; a PUT cannot resend the key and would switch it to the managed identity, so it is not rewritten (set ${spec.section}.auditing.storageAuthentication: managedIdentity to allow it)`,
        },
      ],
    };
  }
  const body: AuditingPolicy = Object.fromEntries(Object.entries(current).filter(([k, v]) => v !== undefined && !NEVER_SENT.has(k)));
  body.state = "Enabled";
  if (want.isAzureMonitorTargetEnabled) body.isAzureMonitorTargetEnabled = true;
  const missing = missingActionGroups(current, want.actionGroups);
  if (missing.length) body.auditActionsAndGroups = [...(current.auditActionsAndGroups ?? []), ...missing];
  if (current.storageEndpoint && (current.retentionDays ?? 0) !== 0 && (current.retentionDays ?? 0) < want.minRetentionDays) body.retentionDays = want.minRetentionDays;
  // The filter lives in the extended policy, the same policy with predicateExpression: one PUT there fixes everything.
  const filterFails = ruleIds.includes(`${spec.prefix}.auditing.filter`);
  if (filterFails) body.predicateExpression = want.allowedFilter ?? "";
  else delete body.predicateExpression;
  if (keyBased) body.isManagedIdentityInUse = true;
  return {
    actions: [
      {
        kind: "arm-auditing-put",
        ruleIds,
        description: `Update the ${filterFails ? "extended " : ""}auditing policy of ${observation.target.name}: ${ruleIds.join(", ")}${keyBased ? " (switching its storage access to the managed identity, as the baseline allows)" : ""}`,
        resourceId: observation.target.id,
        policy: filterFails ? "extendedAuditingSettings" : "auditingSettings",
        body,
      },
    ],
    blocked: [],
  };
}
