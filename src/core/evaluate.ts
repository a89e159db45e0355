import type { Baseline } from "./policy/schema.js";
import type { Finding, Observation } from "./domain.js";
import { rulesFor } from "./rules/registry.js";
import { exemptionFor, exempts } from "./scope.js";

/**
 * Applies every rule of the target's kind (and the activity rules) to an observation. Pure: the same baseline,
 * observation and time give the same findings. A rule that cannot decide says `error` — never a pass.
 */
export function evaluate(baseline: Baseline, observation: Observation, now: Date): Finding[] {
  const exemption = exemptionFor(baseline, observation.target, now);
  return rulesFor(observation.target.kind).map((rule) => {
    const outcome = rule.check({ baseline, observation, now });
    const exempt = (outcome.status === "fail" || outcome.status === "error") && exempts(exemption, rule.id);
    const finding: Finding = {
      ruleId: rule.id,
      targetId: observation.target.id,
      status: exempt ? "exempt" : outcome.status,
      severity: rule.severity,
      message: exempt && exemption.state === "active" ? `${outcome.message} (exempt: ${exemption.reason})` : outcome.message,
      observedAt: observation.observedAt,
    };
    if ("evidence" in outcome && outcome.evidence) finding.evidence = outcome.evidence;
    if (exemption.state === "expired" && outcome.status === "fail") {
      finding.evidence = { ...finding.evidence, expiredExemption: { reason: exemption.reason, expired: exemption.expires } };
    }
    return finding;
  });
}

/** Findings that still need attention: failures and rules that could not be decided. */
export function openFindings(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.status === "fail" || f.status === "error");
}
