import type { ManagedInstanceSql, Observation, RemediationAction, SqlOperation } from "../../src/core/domain.js";

/**
 * A test-only model of a Managed Instance's audit objects and of ARM state, applying the planner's STRUCTURED
 * operations (not by parsing SQL) with the instance's ordering rules, so an out-of-order plan fails here with
 * the error number the real instance would raise.
 */
export class ModelError extends Error {
  constructor(readonly number: number, message: string) {
    super(`Msg ${number}: ${message}`);
  }
}

let guidCounter = 0;
const eq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export function applySql(sql: ManagedInstanceSql, op: SqlOperation): void {
  const audit = (name: string) => sql.audits.find((a) => eq(a.name, name));
  const spec = (name: string) => sql.specifications.find((s) => eq(s.name, name));
  switch (op.op) {
    case "create-audit": {
      if (audit(op.audit)) throw new ModelError(15530, `The server audit with name "${op.audit}" already exists.`);
      const url = op.target === "EXTERNAL_MONITOR" ? null : op.target;
      sql.audits.push({
        name: op.audit,
        auditGuid: `00000000-0000-4000-8000-${String(++guidCounter).padStart(12, "0")}`,
        type: url ? "UL" : "EM",
        typeDesc: url ? "URL" : "EXTERNAL_MONITOR",
        target: url ? { kind: "URL", path: url.url, retentionDays: url.retentionDays } : { kind: "EXTERNAL_MONITOR" },
        isStateEnabled: false,
        queueDelay: op.queueDelayMs,
        onFailure: op.onFailure,
        predicate: null,
        status: null,
      });
      return;
    }
    case "alter-audit-target":
    case "alter-audit-options": {
      const a = audit(op.audit);
      if (!a) throw new ModelError(15151, `Cannot alter the server audit '${op.audit}'`);
      if (a.isStateEnabled) throw new ModelError(33071, "This command requires audit to be disabled.");
      if (op.op === "alter-audit-target") {
        const url = op.target === "EXTERNAL_MONITOR" ? null : op.target;
        a.target = url ? { kind: "URL", path: url.url, retentionDays: url.retentionDays } : { kind: "EXTERNAL_MONITOR" };
        a.typeDesc = url ? "URL" : "EXTERNAL_MONITOR";
      } else {
        a.queueDelay = op.queueDelayMs;
        a.onFailure = op.onFailure;
      }
      return;
    }
    case "set-audit-state": {
      const a = audit(op.audit);
      if (!a) throw new ModelError(15151, `Cannot alter the server audit '${op.audit}'`);
      a.isStateEnabled = op.state === "ON";
      a.status = a.isStateEnabled ? "STARTED" : null;
      return;
    }
    case "create-specification": {
      if (spec(op.specification)) throw new ModelError(15530, `The server audit specification with name "${op.specification}" already exists.`);
      const a = audit(op.audit);
      if (!a) throw new ModelError(15151, `Cannot find the server audit '${op.audit}'`);
      if (sql.specifications.some((s) => s.auditGuid === a.auditGuid)) throw new ModelError(33230, `An audit specification for audit '${op.audit}' already exists.`);
      sql.specifications.push({ name: op.specification, auditGuid: a.auditGuid, isStateEnabled: false, groups: [...op.groups] });
      return;
    }
    case "drop-specification": {
      const s = spec(op.specification);
      if (!s) throw new ModelError(15151, `Cannot drop the server audit specification '${op.specification}'`);
      if (s.isStateEnabled) throw new ModelError(33229, "Changes to an audit specification must be done while the audit specification is disabled.");
      sql.specifications.splice(sql.specifications.indexOf(s), 1);
      return;
    }
    case "add-specification-groups": {
      const s = spec(op.specification);
      if (!s) throw new ModelError(15151, `Cannot alter the server audit specification '${op.specification}'`);
      if (s.isStateEnabled) throw new ModelError(33229, "Changes to an audit specification must be done while the audit specification is disabled.");
      for (const g of op.groups) if (!s.groups.includes(g)) s.groups.push(g);
      return;
    }
    case "set-specification-state": {
      const s = spec(op.specification);
      if (!s) throw new ModelError(15151, `Cannot alter the server audit specification '${op.specification}'`);
      s.isStateEnabled = op.state === "ON";
      return;
    }
  }
}

/** Applies a whole plan to a copy of the observation and returns the observation of the resulting state. */
export function applyPlan(observation: Observation, actions: readonly RemediationAction[]): Observation {
  const next = structuredClone(observation) as Observation;
  for (const action of actions) {
    if (action.kind === "tsql") {
      if (!next.sql?.ok) throw new Error("no SQL state to apply to");
      applySql(next.sql.value, action.operation);
    } else if (action.kind === "arm-auditing-put") {
      if (!next.auditingPolicy?.ok) throw new Error("no policy to apply to");
      next.auditingPolicy = { ok: true, value: structuredClone(action.body) };
    } else {
      if (!next.diagnosticSettings.ok) throw new Error("no diagnostic settings to apply to");
      const list = next.diagnosticSettings.value.filter((s) => !eq(s.name, action.name));
      list.push({ name: action.name, ...structuredClone(action.body) });
      next.diagnosticSettings = { ok: true, value: list };
    }
  }
  return next;
}
