/**
 * Errors the adapters raise for the scan to report as what they are: an inventory it could not read, a results
 * store it could not reach. Neither is ever a verdict on a target.
 */
/** The inventory could not be read completely: scanning on would report an estate it never saw. */
export class InventoryError extends Error {
  override readonly name = "InventoryError";
  constructor(
    /** What could not be read, each with its reason (sign-in, a subscription, Resource Graph and its fallback). */
    readonly unreadable: string[],
  ) {
    super(`the inventory could not be read completely, so nothing was scanned: ${unreadable.join("; ")}`);
  }
}

/** A call to the results store (Table storage) failed; named as such so an outage never reads as the target's fault. */
export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(what: string, cause: unknown) {
    super(`the results store could not ${what}`, { cause });
  }
}
