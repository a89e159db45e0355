import { gunzipSync, gzipSync } from "node:zlib";

/**
 * Azure Table storage caps a string property at 64 KiB (32K UTF-16 characters), an entity at 1 MiB and 255
 * properties. A scan result with many findings and evidence rows can pass those, so payloads are stored as JSON,
 * gzip-compressed when large, and split across numbered properties and, beyond one entity, across numbered
 * entities. Nothing is ever truncated.
 */
const CHUNK_CHARS = 30_000; // < 32K chars: leaves room for Table's UTF-16 accounting
const MAX_CHUNKS_PER_ENTITY = 15; // 15 × 60 KB = 900 KB < 1 MiB, leaving room for the indexed columns
const COMPRESS_ABOVE_CHARS = 8_000;

export type PayloadProperties = Record<string, string | number>;

export interface EncodedPayload {
  /** Properties for the main entity. */
  head: PayloadProperties;
  /** Properties of overflow entities, stored under `<rowKey>~<n>` (n from 1) in the same partition. */
  overflow: PayloadProperties[];
}

function chunk(text: string): string[] {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += CHUNK_CHARS) parts.push(text.slice(i, i + CHUNK_CHARS));
  return parts.length ? parts : [""];
}

export function encodePayload(value: unknown): EncodedPayload {
  const json = JSON.stringify(value);
  const compressed = json.length > COMPRESS_ABOVE_CHARS;
  const text = compressed ? gzipSync(Buffer.from(json, "utf8")).toString("base64") : json;
  const parts = chunk(text);
  const entities: PayloadProperties[] = [];
  for (let i = 0; i < parts.length; i += MAX_CHUNKS_PER_ENTITY) {
    const props: PayloadProperties = {};
    parts.slice(i, i + MAX_CHUNKS_PER_ENTITY).forEach((part, j) => (props[`payload_${j}`] = part));
    entities.push(props);
  }
  const head = entities[0]!;
  head.payloadEncoding = compressed ? "gzip+base64" : "json";
  head.payloadChunks = parts.length;
  head.payloadEntities = entities.length;
  return { head, overflow: entities.slice(1) };
}

export class PayloadCorruptError extends Error {}

/** Reassembles a payload; `overflow` must hold the overflow entities in order. */
export function decodePayload(head: Record<string, unknown>, overflow: Array<Record<string, unknown>> = []): unknown {
  const chunks = Number(head.payloadChunks);
  const encoding = head.payloadEncoding;
  if (!Number.isInteger(chunks) || chunks < 1 || (encoding !== "json" && encoding !== "gzip+base64")) {
    throw new PayloadCorruptError("stored entity has no valid payload header");
  }
  const parts: string[] = [];
  for (const entity of [head, ...overflow]) {
    for (let j = 0; j < MAX_CHUNKS_PER_ENTITY && parts.length < chunks; j++) {
      const part = entity[`payload_${j}`];
      if (typeof part !== "string") break;
      parts.push(part);
    }
  }
  if (parts.length !== chunks) throw new PayloadCorruptError(`payload has ${parts.length} of ${chunks} chunks`);
  const text = parts.join("");
  const json = encoding === "json" ? text : gunzipSync(Buffer.from(text, "base64")).toString("utf8");
  return JSON.parse(json);
}

/** Row and partition keys may not contain / \ # ? or control characters; ARM ids contain '/'. */
export function toTableKey(value: string): string {
  return encodeURIComponent(value.toLowerCase()).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function fromTableKey(key: string): string {
  return decodeURIComponent(key);
}

/** Sorts newest first under Table storage's ascending key order. */
export function invertedTimeKey(time: Date): string {
  return String(8_640_000_000_000_000 - time.getTime()).padStart(16, "0");
}
