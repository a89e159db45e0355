import { AsyncLocalStorage } from "node:async_hooks";
import type { LogRow, ResourceGraphStore } from "../data-contracts.js";
import type { FleetIdentity } from "../fleet/schema.js";
import { canSeeSubscription, isAuthorized } from "./rbac.js";

/**
 * Resource Graph answers only with what the caller may read. The ARM front runs the Resource Graph handler inside
 * the caller's scope; the store the handler was built with filters by it, across awaits, so the handler (KQL,
 * emulator/loganalytics) needs no notion of identities.
 */
const caller = new AsyncLocalStorage<{ identity: FleetIdentity | undefined }>();

export function runAsCaller<T>(identity: FleetIdentity | undefined, fn: () => T): T {
  return caller.run({ identity }, fn);
}

export function callerScopedGraphStore(store: ResourceGraphStore): ResourceGraphStore {
  return {
    *resources(): Iterable<LogRow> {
      const scope = caller.getStore();
      for (const row of store.resources()) {
        if (!scope || isAuthorized(scope.identity, `${String(row.type)}/read`, String(row.id))) yield row;
      }
    },
    subscriptionIds(): string[] {
      const scope = caller.getStore();
      return store.subscriptionIds().filter((id) => !scope || canSeeSubscription(scope.identity, id));
    },
  };
}
