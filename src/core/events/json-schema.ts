import { z } from "zod";
import { EVENT_TYPES, cloudEventSchema, eventDataSchemas } from "./catalog.js";
import type { EventType } from "./catalog.js";

/** The JSON Schema of one whole event (envelope with its typed data), as published in schema/events/. */
export function eventJsonSchema(type: EventType): Record<string, unknown> {
  const envelope = cloudEventSchema.extend({ type: z.literal(type), data: eventDataSchemas[type] });
  return {
    $id: `urn:auditguard:schema:${type}:1`,
    title: `AuditGuard ${type} (CloudEvents 1.0, JSON structured mode)`,
    ...z.toJSONSchema(envelope, { target: "draft-2020-12" }),
  };
}

export function allEventJsonSchemas(): Record<string, Record<string, unknown>> {
  return Object.fromEntries(Object.values(EVENT_TYPES).map((type) => [`${type}.schema.json`, eventJsonSchema(type)]));
}
