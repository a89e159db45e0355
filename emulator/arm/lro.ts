import { randomUUID } from "node:crypto";

/**
 * Asynchronous operations for PUTs answered 202: the Azure-AsyncOperation URL reports InProgress for a few polls
 * and then Succeeded; the Location URL answers 202 until then and the final resource after.
 */
export interface AsyncOperation {
  id: string;
  startTime: Date;
  endTime?: Date;
  pollsLeft: number;
  /** The resource body the operation produced (what the Location URL returns once done). */
  result: unknown;
}

export class OperationStore {
  private readonly operations = new Map<string, AsyncOperation>();
  constructor(private readonly pollsBeforeDone: number, private readonly now: () => Date) {}

  start(result: unknown): AsyncOperation {
    const op: AsyncOperation = { id: randomUUID(), startTime: this.now(), pollsLeft: this.pollsBeforeDone, result };
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
    op.endTime ??= this.now();
    return { op, status: "Succeeded" };
  }
}
