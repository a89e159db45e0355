import type { RemediationAction, Target } from "../../core/domain.js";
import type { AuditingPolicyApi } from "../../azure/arm-auditing.js";
import type { ResourceReader } from "../../azure/inventory.js";
import { failure } from "../../scan/apply-outcome.js";
import type { ApplyOutcome } from "../../scan/apply-outcome.js";
import type { KindAdapter } from "../adapter.js";

const policyTarget = (target: Target) => ({ subscriptionId: target.subscriptionId, resourceGroup: target.resourceGroup, name: target.name });

/**
 * The I/O of a kind whose auditing is an ARM server auditing policy: its policy is read through the extended view
 * (the same policy with its filter, predicateExpression: one read gives both) and written by the SDK's long-running
 * PUT of the policy the plan names.
 */
export function policyKindAdapter(resources: ResourceReader, policies: AuditingPolicyApi): KindAdapter {
  return {
    ...resources,
    reads: (env, target) => ({
      auditingPolicy: {
        operation: "read-auditing-policy",
        call: "reading the auditing policy (ARM)",
        read: (signal) => policies.get(env.clients, policyTarget(target), "extendedAuditingSettings", signal),
      },
    }),
    async apply(env, target, actions, budget): Promise<ApplyOutcome> {
      const applied: RemediationAction[] = [];
      for (const action of actions) {
        if (action.kind !== "arm-auditing-put") continue;
        try {
          await budget.call(`writing the auditing policy (ARM PUT ${action.policy})`, (signal) => policies.put(env.clients, policyTarget(target), action.policy, action.body, signal));
          applied.push(action);
        } catch (error) {
          return { applied, failed: failure(action, error, "write-auditing-policy", target, budget) };
        }
      }
      return { applied };
    },
  };
}
