import { Duplex } from "node:stream";
import { TLSSocket } from "node:tls";
import type { SecureContext } from "node:tls";
import { encodeMessage, FramingError, MessageAssembler, PacketReader, PacketType } from "./packets.js";
import type { Message } from "./packets.js";

/**
 * The byte stream of one TDS connection, in the two encryptions Azure SQL offers, decided once from the
 * connection's first byte ([MS-TDS] 3.3.5.1 and 2.2.6.5; reference/tds-and-mi.md §1.3):
 * - 0x16 (a TLS ClientHello): TDS 8 "strict". The socket itself is the TLS server (ALPN tds/8.0); PRELOGIN and
 *   everything after travel inside TLS.
 * - anything else: TDS 7.x. A clear-text PRELOGIN comes first. Once the server has answered it with encryption on,
 *   the TLS handshake travels as the payload of PRELOGIN packets, each packet's payload fed to TLS as it arrives
 *   (TLS is a byte stream: a flight may span packets and a packet need not end a flight). The handshake is over
 *   when, at a packet boundary, the client sends a TLS record (0x14–0x17) instead of a PRELOGIN packet (0x12); from
 *   there on the socket carries raw TLS records with TDS packets inside.
 * In every phase packets are cut from the byte stream wherever TCP happens to split it, and messages are joined
 * from packets by the EOM status bit.
 */
export interface TlsContexts {
  /** TDS 7.x: the TLS inside PRELOGIN; clients cap it at 1.2 (tedious, pytds). */
  prelogin: SecureContext;
  /** TDS 8: TLS 1.2 or 1.3 with ALPN tds/8.0. */
  strict: SecureContext;
}

const TLS_HANDSHAKE = 0x16;
const TLS_RECORD_TYPES = new Set([0x14, 0x15, 0x16, 0x17]);

export interface TransportEvents {
  /** A whole TDS message arrived. Called synchronously, in order; a PRELOGIN reply may switch the phase. */
  message(m: Message): void;
  /** The stream is not TDS (or TLS failed): the connection must close. */
  error(e: unknown): void;
}

export class TdsTransport {
  private mode: "undecided" | "tds7" | "tds8" = "undecided";
  private phase: "clear" | "handshake" | "tls" = "clear";
  private readonly wire = new PacketReader();
  private readonly inner = new PacketReader();
  private readonly assembler = new MessageAssembler();
  private tls: TLSSocket | undefined;
  private tlsTransport: Duplex | undefined;
  private handshakeOut: Buffer[] = [];
  private closed = false;

  constructor(
    /** The client's connection: a socket, or a LinkLatency over one. */
    private readonly socket: Duplex,
    private readonly contexts: TlsContexts,
    private readonly events: TransportEvents,
  ) {
    socket.on("data", this.onSocketData);
  }

  /** True under TDS 8, where PRELOGIN is answered from inside TLS. */
  get strict(): boolean {
    return this.mode === "tds8";
  }

  /** The TLS SNI name the client sent, once TLS is up. */
  get servername(): string | undefined {
    const name = this.tls?.servername;
    return typeof name === "string" && name ? name : undefined;
  }

  private readonly onSocketData = (chunk: Buffer): void => {
    if (this.closed) return;
    try {
      if (this.mode === "undecided") {
        if (chunk[0] === TLS_HANDSHAKE) return this.startStrict(chunk);
        // A TDS 7.x client's first message is PRELOGIN (3.2.5.1): a connection that starts otherwise is not TDS.
        if (chunk[0] !== PacketType.PRELOGIN) throw new FramingError(`a connection must start with PRELOGIN or a TLS ClientHello, not 0x${chunk[0]!.toString(16)}`);
        this.mode = "tds7";
      }
      if (this.phase === "tls") {
        this.tlsTransport!.push(chunk);
        return;
      }
      this.wire.push(chunk);
      this.pump();
    } catch (error) {
      this.fail(error);
    }
  };

  /** Works through buffered wire bytes in the clear and handshake phases; re-checks the phase after each step. */
  private pump(): void {
    while (!this.closed) {
      if (this.phase === "clear") {
        const p = this.wire.next();
        if (!p) return;
        this.deliver(p);
      } else if (this.phase === "handshake") {
        const first = this.wire.peekByte();
        if (first === undefined) return;
        if (first === PacketType.PRELOGIN) {
          const p = this.wire.next();
          if (!p) return;
          this.tlsTransport!.push(Buffer.from(p.payload));
        } else if (TLS_RECORD_TYPES.has(first)) {
          // The client's first raw record: its handshake is done, so the server's last flight goes out wrapped and
          // everything after is raw TLS (reference §1.3, pitfall 4).
          this.flushHandshake();
          this.phase = "tls";
          this.tlsTransport!.push(this.wire.drain());
          return;
        } else throw new FramingError(`expected a PRELOGIN packet or a TLS record, got 0x${first.toString(16)}`);
      } else return;
    }
  }

  private deliver(p: { type: number; status: number; payload: Buffer }): void {
    const m = this.assembler.add(p);
    if (m) this.events.message(m);
  }

  private readInner = (chunk: Buffer): void => {
    if (this.closed) return;
    try {
      this.inner.push(chunk);
      for (let p = this.inner.next(); p && !this.closed; p = this.inner.next()) this.deliver(p);
    } catch (error) {
      this.fail(error);
    }
  };

  private startStrict(first: Buffer): void {
    this.mode = "tds8";
    this.phase = "tls";
    this.socket.off("data", this.onSocketData);
    this.socket.pause();
    // A TLSSocket over a net.Socket reads what is already buffered on it, so the ClientHello is not lost.
    this.socket.unshift(first);
    this.tls = new TLSSocket(this.socket, { isServer: true, secureContext: this.contexts.strict, ALPNProtocols: ["tds/8.0"] });
    this.listen(this.tls);
  }

  /** TDS 7.x: called once the PRELOGIN answer (encryption on) has been sent; the client's ClientHello follows. */
  startPreloginTls(): void {
    this.tlsTransport = new Duplex({
      read() {},
      write: (chunk: Buffer, _encoding, callback) => {
        if (this.phase === "tls") this.socket.write(chunk);
        else {
          // One flight becomes one PRELOGIN message: the client waits for exactly one reply message per flight.
          if (!this.handshakeOut.length) setImmediate(() => this.phase === "tls" || this.flushHandshake());
          this.handshakeOut.push(Buffer.from(chunk));
        }
        callback();
      },
    });
    this.tls = new TLSSocket(this.tlsTransport, { isServer: true, secureContext: this.contexts.prelogin });
    this.listen(this.tls);
    this.phase = "handshake";
    this.pump();
  }

  private listen(tls: TLSSocket): void {
    tls.on("data", this.readInner);
    tls.on("error", (error) => this.fail(error));
  }

  private flushHandshake(): void {
    if (!this.handshakeOut.length || this.closed) return;
    const data = Buffer.concat(this.handshakeOut);
    this.handshakeOut = [];
    this.socket.write(encodeMessage(PacketType.PRELOGIN, data));
  }

  send(type: number, payload: Buffer, packetSize: number): void {
    if (this.closed) return;
    const bytes = encodeMessage(type, payload, packetSize);
    if (this.tls && this.phase === "tls") this.tls.write(bytes);
    else this.socket.write(bytes);
  }

  /** Ends the connection once what was sent is flushed (through TLS first, when TLS is up). */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    const end = () => this.socket.end();
    if (this.tls && this.phase === "tls") this.tls.end(end);
    else end();
  }

  destroy(): void {
    this.closed = true;
    this.tls?.destroy();
    this.socket.destroy();
  }

  private fail(error: unknown): void {
    if (this.closed) return;
    this.events.error(error);
  }
}
