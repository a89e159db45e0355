import type { TargetKind } from "../core/domain.js";
import type { KindAdapter } from "./adapter.js";
import { KIND_IDS } from "./registry.js";
import { sqlManagedInstanceAdapter } from "./sql-managed-instance/adapter.js";
import { sqlServerAdapter } from "./sql-server/adapter.js";
import { synapseWorkspaceAdapter } from "./synapse-workspace/adapter.js";

/**
 * Each registered kind's adapter (its ARM and T-SQL I/O), in registry order. Only the scan layer imports this
 * module: core, the reports, the host and the CLI see kinds through the pure registry.
 */
export const KIND_ADAPTERS: readonly KindAdapter[] = [sqlManagedInstanceAdapter, sqlServerAdapter, synapseWorkspaceAdapter];

const byKind = new Map(KIND_ADAPTERS.map((a) => [a.kind, a]));
if (byKind.size !== KIND_IDS.length || KIND_IDS.some((id, i) => KIND_ADAPTERS[i]?.kind !== id)) throw new Error("every registered kind needs its adapter, in registry order");

export function adapterOf(kind: TargetKind): KindAdapter {
  const adapter = byKind.get(kind);
  if (!adapter) throw new Error(`no adapter for kind ${String(kind)}`);
  return adapter;
}
