import { randomUUID } from "node:crypto";

/**
 * Asynchronous operations for PUTs answered 202: the Azure-AsyncOperation URL reports InProgress for a few polls
 * and then Succeeded; the Location URL answers 202 until then and the final resource after. The change takes
 * effect when the operation succeeds, not when it is accepted ("Track asynchronous Azure operations").
 */
export interface AsyncOperation {
  id: string;
  startTime: Date;
  endTime?: Date;
  pollsLeft: number;
  /** The resource body the operation produced (what the Location URL returns once done). */
  result: unknown;
  /** Makes the change take effect: run once, when the operation first reports Succeeded. */
  complete?: () => void;
}

export class OperationStore {
  private readonly operations = new Map<string, AsyncOperation>();
  constructor(private readonly pollsBeforeDone: number, private readonly now: () => Date) {}

  start(result: unknown, complete?: () => void): AsyncOperation {
    const op: AsyncOperation = { id: randomUUID(), startTime: this.now(), pollsLeft: this.pollsBeforeDone, result, ...(complete ? { complete } : {}) };
    this.operations.set(op.id, op);
    return op;
  }

  /** One poll: returns the status to report and advances the operation. */
  poll(id: string): { op: AsyncOperation; status: "InProgress" | "Succeeded" } | undefined {
    const op = this.operations.get(id.toLowerCase()) ?? this.operations.get(id);
    if (!op) return undefined;
    if (op.pollsLeft > 0) {
      op.pollsLeft--;
      return { op, status: "InProgress" };
    }
    if (!op.endTime) {
      op.endTime = this.now();
      op.complete?.();
    }
    return { op, status: "Succeeded" };
  }
}
