import { createHash } from "node:crypto";
import { eventId } from "./event-id.js";
import type { ActivityEvent, Observed, ObservedActivity, Target } from "../core/domain.js";
import type { AuditRoute, SuspicionKind } from "../core/activity/classify.js";
import { NO_AUDIT_ROUTE, storageAccountsIn, SUSPICION_RULES, suspicionsOf } from "../core/activity/classify.js";
import { buildEvent } from "../core/events/build.js";
import { EVENT_TYPES } from "../core/events/catalog.js";
import type { CloudEvent } from "../core/events/catalog.js";
import { ruleById } from "../core/rules/registry.js";
import { redact, redactDeep } from "../core/redaction.js";
import type { Baseline } from "../core/policy/schema.js";
import { PAGE_ROWS, readNewest, readRecordsPage } from "../azure/audit-log-queries.js";
import type { AuditLogRecord } from "../azure/audit-log-queries.js";
import type { ActivityStore, StoredRoute, SweepStatus, TargetActivity } from "../azure/activity-store.js";
import { StaleStatusError } from "../azure/activity-store.js";
import type { ResultsStore } from "../azure/results-store.js";
import type { JsonQueue } from "../azure/queues.js";
import type { ScanEnvironment } from "./environment.js";
import { durationMs } from "./environment.js";
import { startBudget } from "./budget.js";
import { describeError, formatReason } from "./errors.js";
import { KINDS } from "../kinds/registry.js";
import { runPool } from "./pool.js";
import { sameAzureName } from "../core/names.js";

/**
 * The activity sweep: each Log Analytics workspace the targets send their audit records to is read once per sweep
 * (both audit tables, from a durable ingestion-time watermark), the detection is done in KQL, every suspicious
 * record is judged once and announced once (its event id is derived from the record), and each target keeps a verdict
 * the drift scan reads. What could not be read completely leaves the watermark where it was and makes the verdict
 * "could not decide". Log Analytics' limits are a budget for the whole app, so the sweep runs as one instance (a
 * lease) and at most four workspaces are read at once (the service runs five queries per identity at a time).
 */
const WORKSPACE_CONCURRENCY = 4;
const MAX_SUSPICIOUS_PER_TARGET = 50;
/** Records ingested in the last moments may not all be queryable yet; the sweep reads up to this long ago. */
export const INGESTION_LAG_MS = 30_000;

/** The target a record belongs to: server-level audit of a SQL server arrives from its master database. */
export function targetOfResource(resourceId: string): string {
  return resourceId.toLowerCase().replace(/\/(databases|sqlpools)\/[^/]+$/, "");
}

/** A record's identity: its own event id where the service sent one, else what makes it unique. */
export function recordKey(r: Pick<AuditLogRecord, "eventId" | "resourceId" | "time" | "actionId" | "principal" | "statement">): string {
  if (r.eventId) return `id:${r.eventId.toLowerCase()}`;
  return `h:${createHash("sha256").update([r.resourceId.toLowerCase(), r.time, r.actionId, r.principal, r.statement].join("\u0000")).digest("hex").slice(0, 32)}`;
}

function toEvent(workspaceId: string, r: AuditLogRecord): ActivityEvent {
  return {
    time: r.time,
    actionId: r.actionId,
    actionName: r.actionName,
    classType: r.classType,
    statement: redact(r.statement),
    serverPrincipalName: r.principal,
    databaseName: r.databaseName,
    succeeded: r.succeeded,
    ...(r.clientIp ? { clientIp: r.clientIp } : {}),
    ...(r.applicationName ? { applicationName: r.applicationName } : {}),
    recordId: `${workspaceId.toLowerCase()}|${recordKey(r)}`,
    ingestedAt: r.ingestedAt,
  };
}

export interface WorkspaceRead {
  workspaceId: string;
  window: { after: string; until: string };
  /** Suspicious records (already classified as worth a look by the KQL), per target id (lower case). */
  records: Map<string, ActivityEvent[]>;
  /** The newest record of any kind per target id (lower case), when silence detection is on. */
  newest: Map<string, string>;
  /** The whole window was read: the watermark may move to its end. */
  complete: boolean;
  problem?: string;
  queries: number;
}

function describeWorkspaceProblem(error: unknown, workspaceId: string, signal: AbortSignal): string {
  const d = describeError(error, "read-activity", workspaceId, signal);
  if (d.code === "HTTP403" || d.code === "InsufficientAccessError" || d.code === "AuthorizationFailed" || /403|InsufficientAccess/i.test(d.code)) {
    return `no read access to workspace ${workspaceId} (the scanner needs Log Analytics Reader on it): ${formatReason(d)}`;
  }
  return `workspace ${workspaceId} could not be read: ${formatReason(d)}`;
}

/** Reads one workspace's window: every page of suspicious records, and the newest record per resource. */
export async function readWorkspace(env: ScanEnvironment, workspaceId: string, window: { after: string; until: string }, options: { silence: boolean; signal?: AbortSignal; newestFrom?: string }): Promise<WorkspaceRead> {
  const budget = startBudget(env.baseline.scan.targetTimeoutSeconds, options.signal);
  const read: WorkspaceRead = { workspaceId, window, records: new Map(), newest: new Map(), complete: false, queries: 0 };
  try {
    let after = window.after;
    let take = PAGE_ROWS;
    const seenAtBoundary = new Set<string>();
    let partial = false;
    for (;;) {
      const page = await budget.call(`querying workspace ${workspaceId} for audit records (Log Analytics)`, (signal) => readRecordsPage(env.clients, workspaceId, { after, until: window.until }, signal, take));
      read.queries++;
      partial ||= page.partial;
      const fresh = page.records.filter((r) => !seenAtBoundary.has(recordKey(r)));
      for (const r of fresh) {
        const target = targetOfResource(r.resourceId);
        read.records.set(target, [...(read.records.get(target) ?? []), toEvent(workspaceId, r)]);
      }
      if (!page.more) break;
      // More than a page: read on from the last record. Records sharing its ingestion instant are read again (the
      // query is strictly after) and skipped by key; a page of nothing but one instant doubles the page.
      const last = page.records.at(-1)!.ingestedAt;
      const next = new Date(Date.parse(last) - 1).toISOString();
      if (!fresh.length || next === after) take = Math.min(take * 2, 500_000);
      seenAtBoundary.clear();
      for (const r of page.records) if (r.ingestedAt === last) seenAtBoundary.add(recordKey(r));
      after = next;
    }
    if (options.silence) {
      const newest = await budget.call(`querying workspace ${workspaceId} for the newest records (Log Analytics)`, (signal) => readNewest(env.clients, workspaceId, { after: options.newestFrom ?? window.after, until: window.until }, signal));
      read.queries++;
      partial ||= newest.partial;
      for (const [resource, time] of newest.newest) {
        const target = targetOfResource(resource);
        const known = read.newest.get(target);
        if (!known || known < time) read.newest.set(target, time);
      }
    }
    if (partial) read.problem = `workspace ${workspaceId} answered only in part (a row or size limit of Log Analytics): its window is read again next time`;
    read.complete = !partial;
  } catch (error) {
    read.problem = describeWorkspaceProblem(error, workspaceId, budget.signal);
  } finally {
    budget.dispose();
  }
  return read;
}

/** The suspicious records of a target that fall inside the report window, newest kept, at most 50. */
function withinReport(events: ActivityEvent[], now: Date, lookbackMs: number): ActivityEvent[] {
  const from = now.getTime() - lookbackMs;
  const byId = new Map<string, ActivityEvent>();
  for (const e of events) if (Date.parse(e.time) >= from) byId.set(e.recordId ?? `${e.time}|${e.statement}`, e);
  return [...byId.values()].sort((a, b) => a.time.localeCompare(b.time)).slice(-MAX_SUSPICIOUS_PER_TARGET);
}

/** Where a target's records were read from, and what that read said, as the drift scan's activity observation. */
export interface ActivityLookup {
  status(workspaceId: string): Promise<Pick<SweepStatus, "watermark" | "since" | "updatedAt" | "problem" | "workspaceId"> | undefined>;
  verdict(targetId: string): Promise<TargetActivity | undefined>;
}

/** How the drift scan gets a target's activity: a store the sweep keeps (Functions), or a sweep of its own (CLI). */
export interface ActivitySource {
  forTarget(target: Target, routes: readonly AuditRoute[], now: Date): Promise<Observed<ObservedActivity>>;
}

const unread = (code: string, message: string): Observed<ObservedActivity> => ({ ok: false, error: { code, message } });

export async function activityObservation(baseline: Baseline, lookup: ActivityLookup, target: Target, routes: readonly AuditRoute[], now: Date, maxAgeMs: number): Promise<Observed<ObservedActivity>> {
  if (!routes.length) return unread(NO_AUDIT_ROUTE, "no diagnostic setting sends the target's audit records to a Log Analytics workspace");
  // One readable route decides; the first (they normally agree) gives the window.
  const problems: string[] = [];
  for (const route of routes) {
    const status = await lookup.status(route.workspaceId);
    if (!status) {
      problems.push(`the activity sweep has not read workspace ${route.workspaceId} yet`);
      continue;
    }
    if (status.problem) {
      problems.push(status.problem);
      continue;
    }
    if (now.getTime() - Date.parse(status.updatedAt) > maxAgeMs) {
      problems.push(`the activity sweep last read workspace ${route.workspaceId} at ${status.updatedAt}, too long ago to vouch for now`);
      continue;
    }
    const verdict = await lookup.verdict(target.id);
    const lookbackMs = durationMs(baseline.activity.lookback);
    const events = withinReport(verdict?.suspicious ?? [], now, lookbackMs);
    const from = new Date(Math.max(Date.parse(status.since), now.getTime() - lookbackMs)).toISOString();
    const silence = baseline.activity.silenceHours !== undefined ? { lastEventTime: verdict?.silent ? verdict.silent.lastRecordAt : status.watermark } : {};
    return { ok: true, value: { window: { from, to: status.watermark }, events, workspaceId: route.workspaceId, ...silence } };
  }
  return unread("ActivityNotRead", problems.join("; "));
}

export function storeActivitySource(baseline: Baseline, store: ActivityStore, maxAgeMs: number): ActivitySource {
  const lookup: ActivityLookup = { status: (ws) => store.getStatus(ws), verdict: (id) => store.getVerdict(id) };
  return { forTarget: (target, routes, now) => activityObservation(baseline, lookup, target, routes, now, maxAgeMs) };
}

/**
 * The CLI's activity: each workspace a target routes to is swept once for this run (activity.lookback back from now),
 * the first time a target needs it, and every target is judged from that one read.
 */
export function inlineActivitySource(env: ScanEnvironment, options: { now?: () => Date; signal?: AbortSignal } = {}): ActivitySource {
  const now = options.now ?? (() => new Date());
  const reads = new Map<string, Promise<WorkspaceRead>>();
  const silenceHours = env.baseline.activity.silenceHours;
  const lookbackMs = durationMs(env.baseline.activity.lookback);
  const sweep = (workspaceId: string) => {
    const key = workspaceId.toLowerCase();
    let read = reads.get(key);
    if (!read) {
      // No watermark to keep, so nothing to hold back: the run reads up to now.
      const until = now().toISOString();
      const after = new Date(now().getTime() - lookbackMs).toISOString();
      const newestFrom = silenceHours !== undefined ? new Date(now().getTime() - Math.max(lookbackMs, silenceHours * 3600_000)).toISOString() : undefined;
      read = readWorkspace(env, workspaceId, { after, until }, { silence: silenceHours !== undefined, ...(options.signal ? { signal: options.signal } : {}), ...(newestFrom ? { newestFrom } : {}) });
      reads.set(key, read);
    }
    return read;
  };
  const lookup: ActivityLookup = {
    status: async (ws) => {
      const r = await sweep(ws);
      return { workspaceId: ws, watermark: r.window.until, since: r.window.after, updatedAt: now().toISOString(), ...(r.problem && !r.complete ? { problem: r.problem } : {}) };
    },
    verdict: async (id) => {
      const key = id.toLowerCase();
      const all = await Promise.all([...reads.values()]);
      const suspicious = all.flatMap((r) => r.records.get(key) ?? []).filter((e) => suspicionsOf(e, env.baseline.activity).length > 0);
      const newest = all.map((r) => r.newest.get(key)).filter((t): t is string => Boolean(t)).sort().at(-1);
      const silent = silenceHours !== undefined && (!newest || now().getTime() - Date.parse(newest) > silenceHours * 3600_000) ? { lastRecordAt: newest ?? null, since: now().toISOString() } : undefined;
      return { targetId: id, suspicious, ...(silent ? { silent } : {}), updatedAt: now().toISOString() };
    },
  };
  return {
    forTarget: async (target, routes, at) => {
      await Promise.all(routes.map((r) => sweep(r.workspaceId)));
      return activityObservation(env.baseline, lookup, target, routes, at, Number.POSITIVE_INFINITY);
    },
  };
}

// ---- the Functions app's sweep ------------------------------------------------------------------------------------

export interface SweepServices {
  env: ScanEnvironment;
  activity: ActivityStore;
  /** For the sweep's singleton lease. */
  store: ResultsStore;
  events: JsonQueue;
  eventSource: string;
  now?: () => Date;
}

export interface SweepSummary {
  sweepId: string;
  skipped?: string;
  workspaces: Array<{ workspaceId: string; window: { after: string; until: string }; queries: number; records: number; complete: boolean; problem?: string }>;
  events: number;
  queries: number;
}

const SWEEP_LEASE = "auditguard:activity-sweep";


type RouteTarget = Pick<StoredRoute, "targetId" | "kind" | "name" | "subscriptionId" | "resourceGroup">;
const targetRef = (t: RouteTarget) => ({ id: t.targetId, kind: t.kind, name: t.name, subscriptionId: t.subscriptionId, resourceGroup: t.resourceGroup });

function evidenceOf(e: ActivityEvent) {
  const account = storageAccountsIn(e.statement)[0];
  return {
    time: new Date(e.time).toISOString(),
    actionId: e.actionId,
    ...(e.actionName ? { actionName: e.actionName } : {}),
    principal: e.serverPrincipalName,
    ...(e.databaseName ? { database: e.databaseName } : {}),
    ...(e.clientIp ? { clientIp: e.clientIp } : {}),
    ...(e.applicationName ? { application: e.applicationName } : {}),
    statement: redact(e.statement),
    ...(account ? { storageAccount: account } : {}),
  };
}

const SUMMARY: Record<SuspicionKind, (e: ActivityEvent) => string> = {
  "copy-only-backup": (e) => `COPY_ONLY backup by ${e.serverPrincipalName}${e.databaseName ? ` of ${e.databaseName}` : ""} at ${e.time}`,
  "unapproved-backup-destination": (e) => `backup or restore through unapproved storage (${storageAccountsIn(e.statement).join(", ")}) by ${e.serverPrincipalName} at ${e.time}`,
  "audit-tampering": (e) => `audit configuration changed by ${e.serverPrincipalName} at ${e.time} (${e.actionName || e.actionId})`,
};

/** One event per suspicious record and rule: its id comes from the record, so a consumer gets each record once. */
export function suspiciousEvents(target: RouteTarget, events: readonly ActivityEvent[], baseline: Baseline, context: { sweepId: string; source: string; now: Date; window: { from: string; to: string } }): CloudEvent[] {
  const out: CloudEvent[] = [];
  for (const e of events) {
    for (const kind of suspicionsOf(e, baseline.activity)) {
      const ruleId = SUSPICION_RULES[kind];
      out.push(
        buildEvent(
          EVENT_TYPES.suspiciousActivity,
          redactDeep({ scanId: context.sweepId, target: targetRef(target), ruleId, severity: ruleById(ruleId)!.severity, kind, summary: SUMMARY[kind](e), window: context.window, evidence: [evidenceOf(e)] }),
          { source: context.source, now: context.now, id: eventId(e.recordId ?? `${target.targetId}|${e.time}|${e.statement}`, ruleId) },
        ),
      );
    }
  }
  return out;
}

/** The workspaces the baseline designates for every registered kind's diagnostic setting. */
export function designatedWorkspaces(baseline: Baseline): string[] {
  return KINDS.flatMap((k) => {
    const desired = k.diagnosticSetting.desired(baseline);
    return desired ? [desired.workspaceId] : [];
  });
}

/**
 * One sweep of every workspace the targets send to: read from each workspace's watermark to a moment ago, judge the
 * records, announce what is suspicious, keep the verdicts, then move the watermark (under its ETag). Nothing is
 * lost to a crash: events go out before the watermark moves, and their ids repeat if they go out again.
 */
export async function runActivitySweep(services: SweepServices, options: { sweepId: string; signal?: AbortSignal; leaseMs?: number }): Promise<SweepSummary> {
  const now = services.now ?? (() => new Date());
  const { env, activity } = services;
  const baseline = env.baseline;
  const summary: SweepSummary = { sweepId: options.sweepId, workspaces: [], events: 0, queries: 0 };
  const lease = await services.store.acquireLease(SWEEP_LEASE, options.sweepId, options.leaseMs ?? 10 * 60_000);
  if (!lease.acquired) return { ...summary, skipped: `another sweep (${lease.holder.owner}) is running` };
  try {
    const routes: StoredRoute[] = [];
    for await (const r of activity.routes()) routes.push(r);
    const designated = designatedWorkspaces(baseline);
    const workspaces = new Map<string, string>();
    for (const id of [...designated, ...routes.flatMap((r) => r.routes.map((x) => x.workspaceId))]) workspaces.set(id.toLowerCase(), id);
    const byTarget = new Map(routes.map((r) => [r.targetId.toLowerCase(), r]));
    const lookbackMs = durationMs(baseline.activity.lookback);
    const silenceMs = baseline.activity.silenceHours !== undefined ? baseline.activity.silenceHours * 3600_000 : undefined;

    const outcomes = await runPool(
      [...workspaces.values()],
      async (workspaceId) => {
        const at = now();
        const status = await activity.getStatus(workspaceId);
        const after = status?.watermark ?? new Date(at.getTime() - lookbackMs).toISOString();
        const until = new Date(at.getTime() - INGESTION_LAG_MS).toISOString();
        if (until <= after) return;
        const read = await readWorkspace(env, workspaceId, { after, until }, { silence: silenceMs !== undefined, ...(options.signal ? { signal: options.signal } : {}) });
        summary.queries += read.queries;
        const since = status?.since ?? after;
        const window = { from: since, to: read.complete ? until : after };
        const events: CloudEvent[] = [];
        // Suspicious records, judged once: announced, and kept in the target's verdict for the report window.
        for (const [targetId, records] of read.records) {
          const target = byTarget.get(targetId);
          if (!target) continue; // not a target of this baseline
          const suspicious = records.filter((e) => suspicionsOf(e, baseline.activity).length > 0);
          if (!suspicious.length) continue;
          events.push(...suspiciousEvents(target, suspicious, baseline, { sweepId: options.sweepId, source: services.eventSource, now: at, window }));
          const verdict = await activity.getVerdict(target.targetId);
          await activity.saveVerdict({ targetId: target.targetId, suspicious: withinReport([...(verdict?.suspicious ?? []), ...suspicious], at, lookbackMs), ...(verdict?.silent ? { silent: verdict.silent } : {}), updatedAt: at.toISOString() });
        }
        // Silence: the newest record per target of this workspace, kept across sweeps.
        let silent = new Set(status?.silent ?? []);
        if (silenceMs !== undefined && read.complete) {
          const newest = await activity.getNewest(workspaceId);
          for (const [t, time] of read.newest) if (!newest[t] || newest[t] < time) newest[t] = time;
          await activity.saveNewest(workspaceId, newest);
          const routed = routes.filter((r) => r.routes.some((x) => sameAzureName(x.workspaceId, workspaceId)));
          const nowSilent = new Set(routed.filter((r) => at.getTime() - Date.parse(newest[r.targetId.toLowerCase()] ?? since) > silenceMs).map((r) => r.targetId.toLowerCase()));
          for (const r of routed) {
            const key = r.targetId.toLowerCase();
            if (nowSilent.has(key) === silent.has(key)) continue;
            const verdict = await activity.getVerdict(r.targetId);
            const lastRecordAt = newest[key] ?? null;
            if (nowSilent.has(key)) {
              events.push(
                buildEvent(
                  EVENT_TYPES.suspiciousActivity,
                  { scanId: options.sweepId, target: targetRef(r), ruleId: "activity.audit-silence", severity: ruleById("activity.audit-silence")!.severity, kind: "audit-silence", summary: `no audit record ${lastRecordAt ? `since ${lastRecordAt}` : `since the sweep began covering it at ${since}`}`, window, evidence: [] },
                  { source: services.eventSource, now: at, id: eventId(r.targetId.toLowerCase(), "silence", lastRecordAt ?? since) },
                ),
              );
            }
            const { silent: _old, ...rest } = verdict ?? { targetId: r.targetId, suspicious: [], updatedAt: at.toISOString() };
            await activity.saveVerdict({ ...rest, targetId: r.targetId, updatedAt: at.toISOString(), ...(nowSilent.has(key) ? { silent: { lastRecordAt, since: at.toISOString() } } : {}) });
          }
          silent = nowSilent;
        }
        for (const event of events) await services.events.send(event);
        summary.events += events.length;
        try {
          await activity.saveStatus({
            workspaceId,
            watermark: read.complete ? until : after,
            since,
            updatedAt: at.toISOString(),
            sweepId: options.sweepId,
            ...(read.problem ? { problem: read.problem } : {}),
            silent: [...silent],
            ...(status?.etag ? { etag: status.etag } : {}),
          });
        } catch (error) {
          if (!(error instanceof StaleStatusError)) throw error;
        }
        summary.workspaces.push({ workspaceId, window: { after, until }, queries: read.queries, records: [...read.records.values()].reduce((n, r) => n + r.length, 0), complete: read.complete, ...(read.problem ? { problem: read.problem } : {}) });
      },
      { concurrency: WORKSPACE_CONCURRENCY, ...(options.signal ? { signal: options.signal } : {}) },
    );
    // A workspace whose sweep failed on the store or the events queue keeps its watermark: the next sweep reads it again.
    const failed = outcomes.flatMap((o, i) => (o.status === "rejected" ? [`${[...workspaces.values()][i]}: ${(o.reason as Error)?.message ?? String(o.reason)}`] : []));
    if (failed.length) throw new Error(`the activity sweep could not finish ${failed.length} workspace${failed.length === 1 ? "" : "s"}: ${redact(failed.join("; "))}`);
    return summary;
  } finally {
    await services.store.releaseLease(SWEEP_LEASE, options.sweepId).catch(() => undefined);
  }
}
