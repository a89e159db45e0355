import { eventId } from "./event-id.js";
import type { Finding, RemediationAction, TargetResult } from "../core/domain.js";
import { describeChange } from "../core/domain.js";
import { EVENT_TYPES } from "../core/events/catalog.js";
import type { CloudEvent } from "../core/events/catalog.js";
import { buildEvent } from "../core/events/build.js";
import { ruleById } from "../core/rules/registry.js";
import { redact, redactDeep } from "../core/redaction.js";
import type { Baseline } from "../core/policy/schema.js";
import { suspiciousEvents } from "./activity-sweep.js";

/**
 * The alert events one target's result produces. Event ids are derived from scan, target and type, so a result
 * processed twice (a retried queue message) yields the same ids and consumers can de-duplicate.
 */


const targetRef = (r: TargetResult) => ({ id: r.target.id, kind: r.target.kind, name: r.target.name, subscriptionId: r.target.subscriptionId, resourceGroup: r.target.resourceGroup });
const actionRef = (a: RemediationAction) => ({ kind: a.kind, description: a.description, ruleIds: a.ruleIds, change: redact(describeChange(a)) });
const findingRef = (f: Finding) => ({ ruleId: f.ruleId, severity: f.severity, title: ruleById(f.ruleId)?.title ?? f.ruleId, message: redact(f.message) });

export function eventsForResult(raw: TargetResult, context: { source: string; now: Date; activity?: { baseline: Baseline } }): CloudEvent[] {
  // Events carry only redacted text, whatever the result holds; buildEvent still refuses anything that looks like a credential.
  const result = redactDeep(raw);
  const events: CloudEvent[] = [];
  const ctx = (type: string, extra = "") => ({ source: context.source, now: context.now, id: eventId(result.scanId, result.target.id, type, extra) });
  const drift = result.findings.filter((f) => f.status === "fail" && !f.ruleId.startsWith("activity."));
  if (drift.length) {
    events.push(
      buildEvent(EVENT_TYPES.driftDetected, { scanId: result.scanId, target: targetRef(result), mode: result.mode, findings: drift.map(findingRef), plannedChanges: result.plan.map(actionRef) }, ctx(EVENT_TYPES.driftDetected)),
    );
  }
  if (result.applied.length) {
    const compliantAfter = (result.findingsAfter ?? []).every((f) => f.status !== "fail" || f.ruleId.startsWith("activity."));
    events.push(buildEvent(EVENT_TYPES.remediationApplied, { scanId: result.scanId, target: targetRef(result), applied: result.applied.map(actionRef), compliantAfter }, ctx(EVENT_TYPES.remediationApplied)));
  }
  if (result.failedAction) {
    const e = result.failedAction.error;
    events.push(
      buildEvent(
        EVENT_TYPES.remediationFailed,
        {
          scanId: result.scanId,
          target: targetRef(result),
          failedChange: actionRef(result.failedAction.action),
          appliedBefore: result.applied.map(actionRef),
          error: {
            code: e.code,
            message: redact(e.message),
            ...(/^SQL\d+$/.test(e.code) ? { sqlErrorNumber: Number(e.code.slice(3)) } : {}),
            ...(e.missingPermission ? { missingPermission: e.missingPermission } : {}),
          },
        },
        ctx(EVENT_TYPES.remediationFailed),
      ),
    );
  }
  // Suspicious activity: one event per record and rule, its id derived from the record, so the same record announced
  // by a CLI run and by the Functions app's activity sweep is one event to a consumer. The worker passes no
  // `activity`: there the sweep announces records as it reads them.
  if (context.activity && result.activity?.length) {
    const t = result.target;
    const window = result.activityWindow ?? { from: result.startedAt, to: result.startedAt };
    events.push(...suspiciousEvents({ targetId: t.id, kind: t.kind, name: t.name, subscriptionId: t.subscriptionId, resourceGroup: t.resourceGroup }, result.activity, context.activity.baseline, { sweepId: result.scanId, source: context.source, now: context.now, window }));
  }
  return events;
}
