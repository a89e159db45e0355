/** LOGIN7 (reference §1.4): a 94-byte fixed part of offsets into the payload, then strings and FeatureExt. */
export interface Login7 {
  tdsVersion: number;
  packetSize: number;
  hostName: string;
  userName: string;
  password: string;
  appName: string;
  serverName: string;
  database: string;
  fedAuth?: { library: "securitytoken"; echo: boolean; token: string } | { library: "msal"; echo: boolean; workflow: number };
  utf8Support: boolean;
}

export class Login7Error extends Error {}

/** A LOGIN7 string: an offset and a length in characters at `at`, UCS-2 data in the payload. */
function ucs2(payload: Buffer, at: number): string {
  const start = payload.readUInt16LE(at);
  const count = payload.readUInt16LE(at + 2);
  if (start + count * 2 > payload.length) throw new Login7Error("LOGIN7 string outside the payload");
  return payload.subarray(start, start + count * 2).toString("utf16le");
}

/** Inverse of the client's scramble: swap nibbles, then XOR 0xA5 — applied in reverse order. */
export function descramblePassword(bytes: Buffer): string {
  const out = Buffer.alloc(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]! ^ 0xa5;
    out[i] = ((b & 0x0f) << 4) | (b >> 4);
  }
  return out.toString("utf16le");
}

export function parseLogin7(payload: Buffer): Login7 {
  if (payload.length < 94) throw new Login7Error("LOGIN7 shorter than its fixed part");
  const length = payload.readUInt32LE(0);
  if (length > payload.length) throw new Login7Error("LOGIN7 length past the payload");
  const optionFlags3 = payload[27]!;
  const passwordOffset = payload.readUInt16LE(44);
  const passwordChars = payload.readUInt16LE(46);
  if (passwordOffset + passwordChars * 2 > payload.length) throw new Login7Error("LOGIN7 password outside the payload");
  const login: Login7 = {
    tdsVersion: payload.readUInt32LE(4),
    packetSize: payload.readUInt32LE(8),
    hostName: ucs2(payload, 36),
    userName: ucs2(payload, 40),
    password: descramblePassword(payload.subarray(passwordOffset, passwordOffset + passwordChars * 2)),
    appName: ucs2(payload, 48),
    serverName: ucs2(payload, 52),
    database: ucs2(payload, 68),
    utf8Support: false,
  };
  if (optionFlags3 & 0x10) {
    const extOffset = payload.readUInt16LE(56);
    if (extOffset + 4 > payload.length) throw new Login7Error("LOGIN7 FeatureExt pointer outside the payload");
    let i = payload.readUInt32LE(extOffset);
    while (i < payload.length && payload[i] !== 0xff) {
      const id = payload[i]!;
      if (i + 5 > payload.length) throw new Login7Error("truncated FeatureExt");
      const dataLength = payload.readUInt32LE(i + 1);
      const data = payload.subarray(i + 5, i + 5 + dataLength);
      if (data.length !== dataLength) throw new Login7Error("FeatureExt data outside the payload");
      if (id === 0x02) {
        const options = data[0]!;
        const library = options >> 1;
        const echo = (options & 0x01) === 1;
        if (library === 0x01) {
          const tokenLength = data.readUInt32LE(1);
          login.fedAuth = { library: "securitytoken", echo, token: data.subarray(5, 5 + tokenLength).toString("utf16le") };
        } else if (library === 0x02) {
          login.fedAuth = { library: "msal", echo, workflow: data[1] ?? 0 };
        } else {
          throw new Login7Error(`unsupported FedAuth library ${library}`);
        }
      } else if (id === 0x0a) {
        login.utf8Support = data[0] === 1;
      }
      i += 5 + dataLength;
    }
  }
  return login;
}

/** FEDAUTH_TOKEN message (reference §1.6 step 3): DataLen, TokenLen, token in UCS-2. */
export function parseFedAuthToken(payload: Buffer): string {
  if (payload.length < 8) throw new Login7Error("truncated FEDAUTH_TOKEN");
  const tokenLength = payload.readUInt32LE(4);
  if (8 + tokenLength > payload.length) throw new Login7Error("FEDAUTH_TOKEN length past the payload");
  return payload.subarray(8, 8 + tokenLength).toString("utf16le");
}
