/**
 * TDS framing (reference/tds-and-mi.md §1.1): an 8-byte big-endian header per packet, a message is the packets
 * up to the one with EOM. tedious sends one message per request and reads one response message per request.
 */
export const PacketType = {
  SQL_BATCH: 0x01,
  RPC: 0x03,
  TABULAR_RESULT: 0x04,
  ATTENTION: 0x06,
  FEDAUTH_TOKEN: 0x08,
  TRANSACTION_MANAGER: 0x0e,
  LOGIN7: 0x10,
  PRELOGIN: 0x12,
} as const;

export const STATUS_EOM = 0x01;
export const STATUS_IGNORE = 0x02;
const HEADER = 8;
/** Bounds what one client can make the emulator buffer. */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export interface Message {
  type: number;
  status: number;
  payload: Buffer;
}

export class FramingError extends Error {}

/** Reassembles messages from a byte stream of packets. */
export class MessageReader {
  private buffer: Buffer = Buffer.alloc(0);
  private parts: Buffer[] = [];
  private partBytes = 0;
  private type = -1;

  push(chunk: Buffer): Message[] {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const out: Message[] = [];
    while (this.buffer.length >= HEADER) {
      const length = this.buffer.readUInt16BE(2);
      if (length < HEADER) throw new FramingError(`packet length ${length} is shorter than its header`);
      if (this.buffer.length < length) break;
      const type = this.buffer[0]!;
      const status = this.buffer[1]!;
      const payload = this.buffer.subarray(HEADER, length);
      this.buffer = this.buffer.subarray(length);
      if (this.type !== -1 && type !== this.type) throw new FramingError("packet type changed inside a message");
      this.type = type;
      this.parts.push(payload);
      this.partBytes += payload.length;
      if (this.partBytes > MAX_MESSAGE_BYTES) throw new FramingError("message too large");
      if (status & STATUS_EOM) {
        out.push({ type, status, payload: Buffer.concat(this.parts) });
        this.parts = [];
        this.partBytes = 0;
        this.type = -1;
      }
    }
    return out;
  }

  /** Bytes received but not yet part of a whole packet. */
  get pending(): number {
    return this.buffer.length;
  }
}

/** Splits a message into packets of at most `packetSize` bytes, EOM on the last. */
export function encodeMessage(type: number, payload: Buffer, packetSize = 4096): Buffer {
  const room = packetSize - HEADER;
  const packets: Buffer[] = [];
  let offset = 0;
  let id = 1;
  do {
    const part = payload.subarray(offset, offset + room);
    offset += part.length;
    const header = Buffer.alloc(HEADER);
    header[0] = type;
    header[1] = offset >= payload.length ? STATUS_EOM : 0;
    header.writeUInt16BE(HEADER + part.length, 2);
    header.writeUInt16BE(0, 4);
    header[6] = id++ % 256;
    header[7] = 0;
    packets.push(header, part);
  } while (offset < payload.length);
  return Buffer.concat(packets);
}
