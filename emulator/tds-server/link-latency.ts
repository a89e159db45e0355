import { Duplex } from "node:stream";
import type { Socket } from "node:net";

/**
 * The network between a client and a Managed Instance, for the TDS server: every flight the client sends reaches
 * the server one sampled latency late, so each round trip of the protocol pays it, the handshake included — in
 * TDS 8 the TLS ClientHello and the client's last handshake flight (with the PRELOGIN right behind it), in TDS 7.4
 * the PRELOGIN, each TLS flight inside PRELOGIN packets and the LOGIN7, then every request ([MS-TDS] 3.2.5; a
 * TLS 1.3 handshake is one round trip, RFC 8446 §2; TLS 1.2 two, RFC 5246 §7.3).
 *
 * A flight is what the client sends between two answers of the server: a chunk that arrives after the server has
 * written starts a new flight (and draws a new latency); chunks that arrive before the server answers belong to
 * the flight under way and are released with it, in order, as a pipelined message would arrive behind the first.
 * The server's own writes go out at once: the latency stands for the whole round trip.
 */
export class LinkLatency extends Duplex {
  private readonly held: Buffer[] = [];
  private releaseAt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The server wrote since the client's last chunk: the next chunk starts a flight. */
  private answered = true;
  private ended = false;

  constructor(
    private readonly socket: Socket,
    /** The latency of the next flight, in ms. */
    private readonly sample: () => number,
    /** Called for each flight (a round trip). */
    private readonly onFlight: () => void = () => undefined,
  ) {
    super();
    socket.on("data", (chunk: Buffer) => this.arrive(chunk));
    socket.on("end", () => {
      this.ended = true;
      this.schedule();
    });
    socket.on("error", (error) => this.destroy(error));
    socket.on("close", () => this.destroy());
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  private arrive(chunk: Buffer): void {
    const now = performance.now();
    if (this.answered) {
      this.answered = false;
      this.onFlight();
      this.releaseAt = Math.max(this.releaseAt, now + Math.max(0, this.sample()));
    }
    this.held.push(chunk);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = this.releaseAt - performance.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.release();
      }, wait);
      return;
    }
    this.release();
  }

  private release(): void {
    if (this.destroyed) return;
    if (this.releaseAt > performance.now()) return this.schedule();
    for (const chunk of this.held.splice(0)) this.push(chunk);
    if (this.ended) this.push(null);
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.answered = true;
    this.socket.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.timer);
    this.socket.destroy();
    callback(error);
  }
}
