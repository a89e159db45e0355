/** PRELOGIN option tables ([MS-TDS] 2.2.6.5; reference §1.2): 5-byte entries, 0xFF, then option data. */
export const PreloginOption = { VERSION: 0x00, ENCRYPTION: 0x01, INSTOPT: 0x02, THREADID: 0x03, MARS: 0x04, TRACEID: 0x05, FEDAUTHREQUIRED: 0x06 } as const;
export const ENCRYPT_OFF = 0x00;
export const ENCRYPT_ON = 0x01;
export const ENCRYPT_NOT_SUP = 0x02;
export const ENCRYPT_REQ = 0x03;

export function parsePrelogin(payload: Buffer): Map<number, Buffer> {
  const options = new Map<number, Buffer>();
  let i = 0;
  while (i < payload.length && payload[i] !== 0xff) {
    if (i + 5 > payload.length) throw new Error("truncated PRELOGIN option table");
    const token = payload[i]!;
    const offset = payload.readUInt16BE(i + 1);
    const length = payload.readUInt16BE(i + 3);
    if (offset + length > payload.length) throw new Error("PRELOGIN option outside the payload");
    options.set(token, payload.subarray(offset, offset + length));
    i += 5;
  }
  return options;
}

/**
 * A client's PRELOGIN (2.2.6.5): a terminated option table whose first option is VERSION (6 bytes); anything else
 * (an empty message, garbage, a table with no terminator) is not a TDS client and is not answered.
 */
export function parseClientPrelogin(payload: Buffer): Map<number, Buffer> {
  if (payload.length === 0 || payload[0] !== PreloginOption.VERSION) throw new Error("PRELOGIN does not start with VERSION");
  const terminator = findTerminator(payload);
  if (terminator < 0) throw new Error("PRELOGIN option table has no terminator");
  const options = parsePrelogin(payload);
  if (options.get(PreloginOption.VERSION)?.length !== 6) throw new Error("PRELOGIN VERSION is not 6 bytes");
  const encryption = options.get(PreloginOption.ENCRYPTION);
  if (encryption && encryption.length !== 1) throw new Error("PRELOGIN ENCRYPTION is not 1 byte");
  return options;
}

function findTerminator(payload: Buffer): number {
  for (let i = 0; i < payload.length; i += 5) if (payload[i] === 0xff) return i;
  return -1;
}

export function buildPrelogin(entries: Array<[number, Buffer]>): Buffer {
  const table = entries.length * 5 + 1;
  const header = Buffer.alloc(table);
  let offset = table;
  entries.forEach(([token, data], i) => {
    header[i * 5] = token;
    header.writeUInt16BE(offset, i * 5 + 1);
    header.writeUInt16BE(data.length, i * 5 + 3);
    offset += data.length;
  });
  header[table - 1] = 0xff;
  return Buffer.concat([header, ...entries.map(([, d]) => d)]);
}

/**
 * The server's answer: a 12.0.2000 engine that requires encryption, echoing whether FedAuth is required. Azure
 * SQL requires encryption, so by 2.2.6.5's table a client offering ENCRYPT_ON gets ON, one sending ENCRYPT_OFF
 * (login-only encryption) gets REQ and must encrypt everything, and one that cannot encrypt (NOT_SUP) gets REQ and
 * is disconnected. Under TDS 8 the session is already inside TLS: NOT_SUP, nothing more to negotiate (reference §1.3).
 */
export function serverPrelogin(fedAuthRequired: boolean, insideTls = false, clientEncryption = ENCRYPT_ON): Buffer {
  const answer = insideTls ? ENCRYPT_NOT_SUP : (clientEncryption & 0x0f) === ENCRYPT_ON || (clientEncryption & 0x0f) === ENCRYPT_REQ ? ENCRYPT_ON : ENCRYPT_REQ;
  return buildPrelogin([
    [PreloginOption.VERSION, Buffer.from([0x0c, 0x00, 0x07, 0xd0, 0x00, 0x00])],
    [PreloginOption.ENCRYPTION, Buffer.from([answer])],
    [PreloginOption.INSTOPT, Buffer.from([0x00])],
    [PreloginOption.THREADID, Buffer.alloc(0)],
    [PreloginOption.MARS, Buffer.from([0x00])],
    [PreloginOption.FEDAUTHREQUIRED, Buffer.from([fedAuthRequired ? 0x01 : 0x00])],
  ]);
}
