/**
 * TDS framing ([MS-TDS] 2.2.3 Packets): an 8-byte big-endian header per packet; a
 * message is the packets up to and including the one whose status has EOM. Bytes arrive from TCP (or TLS) in
 * chunks that need not fall on packet boundaries, so packets are reassembled from the byte stream first and
 * messages from packets second.
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
export const HEADER = 8;
/** Bounds what one client can make the emulator buffer. */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export interface Packet {
  type: number;
  status: number;
  payload: Buffer;
}

export interface Message {
  type: number;
  status: number;
  payload: Buffer;
}

export class FramingError extends Error {}

/** Cuts whole packets out of a byte stream; keeps a partial packet (even a partial header) for the next chunk. */
export class PacketReader {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
  }

  /** The first buffered byte, if any: at a packet boundary it says what comes next (a TDS type or a TLS record). */
  peekByte(): number | undefined {
    return this.buffer[0];
  }

  /** The next whole packet, or undefined until enough bytes have arrived. */
  next(): Packet | undefined {
    if (this.buffer.length < HEADER) return undefined;
    const length = this.buffer.readUInt16BE(2);
    if (length < HEADER) throw new FramingError(`packet length ${length} is shorter than its header`);
    if (this.buffer.length < length) return undefined;
    const packet = { type: this.buffer[0]!, status: this.buffer[1]!, payload: this.buffer.subarray(HEADER, length) };
    this.buffer = this.buffer.subarray(length);
    return packet;
  }

  /** Everything buffered and not yet cut into packets (the rest of the stream once it is no longer TDS). */
  drain(): Buffer {
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }
}

/** Joins packets into messages by the EOM status bit. */
export class MessageAssembler {
  private parts: Buffer[] = [];
  private partBytes = 0;
  private type = -1;

  /** Adds a packet; returns the message it completes, if it has EOM. */
  add(p: Packet): Message | undefined {
    if (this.type !== -1 && p.type !== this.type) throw new FramingError("packet type changed inside a message");
    this.type = p.type;
    this.parts.push(p.payload);
    this.partBytes += p.payload.length;
    if (this.partBytes > MAX_MESSAGE_BYTES) throw new FramingError("message too large");
    if (!(p.status & STATUS_EOM)) return undefined;
    const message = { type: p.type, status: p.status, payload: Buffer.concat(this.parts) };
    this.parts = [];
    this.partBytes = 0;
    this.type = -1;
    return message;
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
