import { createHash } from "node:crypto";
import type { Finding, RemediationAction, TargetResult } from "../core/domain.js";
import { describeChange } from "../core/domain.js";
import { EVENT_TYPES } from "../core/events/catalog.js";
import type { CloudEvent } from "../core/events/catalog.js";
import { buildEvent } from "../core/events/build.js";
import { storageAccountsIn } from "../core/rules/activity.js";
import { ruleById } from "../core/rules/registry.js";
import { redact, redactDeep } from "../core/redaction.js";
import type { ActivityEvidence } from "../core/activity-evidence.js";

/**
 * The alert events one target's result produces. Event ids are derived from scan, target and type, so a result
 * processed twice (a retried queue message) yields the same ids and consumers can de-duplicate.
 */
const ACTIVITY_KIND: Record<string, "copy-only-backup" | "unapproved-backup-destination" | "audit-tampering" | "audit-silence"> = {
  "activity.copy-only-backup": "copy-only-backup",
  "activity.unapproved-backup-destination": "unapproved-backup-destination",
  "activity.audit-tampering": "audit-tampering",
  "activity.audit-silence": "audit-silence",
};

function eventId(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 32);
}

const targetRef = (r: TargetResult) => ({ id: r.target.id, kind: r.target.kind, name: r.target.name, subscriptionId: r.target.subscriptionId, resourceGroup: r.target.resourceGroup });
const actionRef = (a: RemediationAction) => ({ kind: a.kind, description: a.description, ruleIds: a.ruleIds, change: redact(describeChange(a)) });
const findingRef = (f: Finding) => ({ ruleId: f.ruleId, severity: f.severity, title: ruleById(f.ruleId)?.title ?? f.ruleId, message: redact(f.message) });

export function eventsForResult(raw: TargetResult, context: { source: string; now: Date }): CloudEvent[] {
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
  for (const finding of result.findings) {
    const kind = ACTIVITY_KIND[finding.ruleId];
    if (!kind || finding.status !== "fail") continue;
    const raw = (finding.evidence?.events as Array<Omit<ActivityEvidence, "storageAccount">> | undefined) ?? [];
    const window = result.activityWindow ?? { from: result.startedAt, to: result.startedAt };
    events.push(
      buildEvent(
        EVENT_TYPES.suspiciousActivity,
        {
          scanId: result.scanId,
          target: targetRef(result),
          ruleId: finding.ruleId,
          severity: finding.severity,
          kind,
          summary: redact(finding.message),
          window,
          evidence: raw.map((e) => {
            const accounts = storageAccountsIn(e.statement);
            return {
              time: new Date(e.time).toISOString(),
              actionId: e.actionId,
              ...(e.actionName ? { actionName: e.actionName } : {}),
              principal: e.principal,
              ...(e.database ? { database: e.database } : {}),
              ...(e.clientIp ? { clientIp: e.clientIp } : {}),
              ...(e.application ? { application: e.application } : {}),
              statement: redact(e.statement),
              ...(accounts[0] ? { storageAccount: accounts[0] } : {}),
            };
          }),
        },
        ctx(EVENT_TYPES.suspiciousActivity, finding.ruleId),
      ),
    );
  }
  return events;
}
