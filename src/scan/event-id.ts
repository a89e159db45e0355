import { createHash } from "node:crypto";

/** A deterministic event id from its parts: the same fact announced twice carries the same id, so consumers de-duplicate. */
export function eventId(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 32);
}
