import { z } from "zod";
import { EVENT_TYPES, cloudEventSchema, dataSchemaId, eventDataSchemas } from "./catalog.js";
import type { EventType } from "./catalog.js";

/** The JSON Schema of one whole event (envelope with its typed data), as published in schema/events/. */
export function eventJsonSchema(type: EventType): Record<string, unknown> {
  const envelope = cloudEventSchema.extend({ type: z.literal(type), dataschema: z.literal(dataSchemaId(type)).optional(), data: eventDataSchemas[type] });
  return {
    $id: `urn:auditguard:schema:${type}:1`,
    title: `AuditGuard ${type} (CloudEvents 1.0, JSON structured mode)`,
    ...z.toJSONSchema(envelope, { target: "draft-2020-12" }),
  };
}

/** The JSON Schema of an event's `data` alone: what the event's `dataschema` names. */
export function eventDataJsonSchema(type: EventType): Record<string, unknown> {
  return { $id: dataSchemaId(type), title: `AuditGuard ${type}: the event's data`, ...z.toJSONSchema(eventDataSchemas[type], { target: "draft-2020-12" }) };
}

export function allEventJsonSchemas(): Record<string, Record<string, unknown>> {
  return Object.fromEntries(Object.values(EVENT_TYPES).flatMap((type) => [[`${type}.schema.json`, eventJsonSchema(type)], [`${type}.data.schema.json`, eventDataJsonSchema(type)]]));
}
