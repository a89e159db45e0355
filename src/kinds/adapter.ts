import type { AuditingPolicy, ManagedInstanceSql, Observation, RemediationAction, Target } from "../core/domain.js";
import type { ResourceReader } from "../azure/inventory.js";
import type { ScanEnvironment } from "../scan/environment.js";
import type { Budget } from "../scan/budget.js";
import type { Operation } from "../scan/errors.js";
import type { ApplyOutcome } from "../scan/apply-outcome.js";

/**
 * A kind's I/O: how ARM lists and reads its resources, what it reads beyond the diagnostic settings every kind has,
 * and how its own changes are applied (the diagnostic setting's are applied alike for every kind). Adapters are
 * part of the scan layer: they use src/azure's clients and src/scan's budget, and only src/scan imports them
 * (through src/kinds/adapters.ts). Everything pure about a kind is its KindModule (src/kinds/kind.ts).
 */
export interface KindAdapter extends ResourceReader {
  /** The kind's own parts of an observation, each read on its own under the target's budget. */
  reads(env: ScanEnvironment, target: Target, budget: Budget): KindReads;
  /** Applies the kind's own actions of a plan, in order, inside the budget; stops at the first failure. */
  apply(env: ScanEnvironment, target: Target, actions: readonly RemediationAction[], budget: Budget, context: ApplyContext): Promise<ApplyOutcome>;
}

/** One part of an observation: the call that reads it, named for the reason when it fails. */
export interface PartRead<T> {
  operation: Operation;
  /** What the budget names while the call runs: "reading the server audits (T-SQL)". */
  call: string;
  read: (signal: AbortSignal) => Promise<T>;
}

/** The parts a kind reads, by the Observation field they fill. */
export interface KindReads {
  /** Read again under the kind's own lock when a change is applied (see ObserveParts.sql). */
  sql?: PartRead<ManagedInstanceSql>;
  auditingPolicy?: PartRead<AuditingPolicy>;
}

/** A fresh read of a part, to plan again from. */
export type ObservationPatch = Partial<Pick<Observation, "sql" | "auditingPolicy">>;

export interface ApplyContext {
  /** Plans again from the observation with fresh parts, read under the kind's lock. */
  replan?: (patch: ObservationPatch) => RemediationAction[];
  /** A budget of its own for switching auditing back on after a failure (the target's may be spent). */
  restoreBudget?: () => Budget;
}
