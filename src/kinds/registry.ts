import type { TargetKind } from "../core/domain.js";
import type { KindModule } from "./kind.js";
import { sqlManagedInstance } from "./sql-managed-instance/index.js";
import { sqlServer } from "./sql-server/index.js";
import { synapseWorkspace } from "./synapse-workspace/index.js";

/**
 * The registered kinds, in the order the rule catalog, the reports and the inventory list them. Adding a kind is
 * adding its module here (and its adapter in adapters.ts); everything else iterates over this list.
 */
const REGISTERED = [sqlManagedInstance, sqlServer, synapseWorkspace] as const;
export const KINDS: readonly KindModule[] = REGISTERED;

/** Every kind's id, in registry order (the baseline's scope default, the schemas' enums). */
export const KIND_IDS: readonly TargetKind[] = KINDS.map((k) => k.id);

const byId = new Map(KINDS.map((k) => [k.id, k]));
const byArmType = new Map(KINDS.map((k) => [k.armType, k]));
if (byId.size !== KINDS.length || byArmType.size !== KINDS.length) throw new Error("two registered kinds share an id or an ARM type");

/** Every member of the TargetKind union must be registered (a kind added to the union alone fails here). */
type Missing = Exclude<TargetKind, (typeof REGISTERED)[number]["id"]>;
const _complete: [Missing] extends [never] ? true : never = true;
void _complete;

export function kindOf(id: TargetKind): KindModule {
  const kind = byId.get(id);
  if (!kind) throw new Error(`no registered kind ${String(id)}`);
  return kind;
}

/** The kind of an ARM resource type (any case), or undefined for a type AuditGuard does not scan. */
export function kindOfArmType(type: string): KindModule | undefined {
  return byArmType.get(type.toLowerCase());
}

/** "a, b or c": the kinds as a message lists them. */
export function listKinds(ids: readonly string[] = KIND_IDS): string {
  return ids.length > 1 ? `${ids.slice(0, -1).join(", ")} or ${ids.at(-1)}` : ids.join("");
}
