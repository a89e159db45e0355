import { findSecret } from "../redaction.js";
import { cloudEventSchema, dataSchemaId, eventDataSchemas } from "./catalog.js";
import type { CloudEvent, EventData, EventType } from "./catalog.js";

export interface EventContext {
  /** Identifies this deployment, e.g. the Function App's host name: CloudEvents' `source`. */
  source: string;
  now: Date;
  /** Unique per event; a deterministic id lets a consumer de-duplicate a message delivered twice. */
  id: string;
}

export class EventContainsSecretError extends Error {
  constructor(type: string) {
    super(`refusing to publish a ${type} event: it contains text that looks like a credential`);
    this.name = "EventContainsSecretError";
  }
}

/**
 * Builds a CloudEvent and validates it against its published schema. A payload that fails validation or
 * looks like it carries a credential is a bug in AuditGuard, so it throws rather than publishing.
 */
export function buildEvent<T extends EventType>(type: T, data: EventData<T>, context: EventContext): CloudEvent<T> {
  const parsedData = eventDataSchemas[type].parse(data) as EventData<T>;
  const subject = (parsedData as { target?: { id: string } }).target?.id;
  const event: CloudEvent<T> = {
    specversion: "1.0",
    id: context.id,
    source: context.source,
    type,
    ...(subject ? { subject } : {}),
    time: context.now.toISOString(),
    datacontenttype: "application/json",
    dataschema: dataSchemaId(type),
    data: parsedData,
  };
  cloudEventSchema.parse(event);
  if (findSecret(JSON.stringify(event))) throw new EventContainsSecretError(type);
  return event;
}

/** The queue message text: Base64 of the JSON, which is what the Functions queue trigger expects by default. */
export function encodeQueueMessage(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64");
}

export function decodeQueueMessage(text: string): unknown {
  const trimmed = text.trim();
  // Accept plain JSON too: a message written by hand or by a tool with messageEncoding "none".
  const json = trimmed.startsWith("{") ? trimmed : Buffer.from(trimmed, "base64").toString("utf8");
  return JSON.parse(json);
}
