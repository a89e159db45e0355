import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { Duplex } from "node:stream";
import { createSecureContext, TLSSocket } from "node:tls";
import type { SecureContext } from "node:tls";
import type { TokenAuthority } from "../identity/tokens.js";
import type { LoginResult, SqlEngine, SqlEngineResolver, SqlMessage, SqlSession, SqlValue, StatementOutcome } from "../sql/contracts.js";
import { encodeMessage, FramingError, MessageReader, PacketType, STATUS_IGNORE } from "./packets.js";
import type { Message } from "./packets.js";
import { parsePrelogin, PreloginOption, serverPrelogin } from "./prelogin.js";
import { parseFedAuthToken, parseLogin7 } from "./login7.js";
import type { Login7 } from "./login7.js";
import * as T from "./tokens.js";
import { parseRpc, parseSqlBatch, parseTransactionManager, RequestError } from "./requests.js";

/**
 * One TDS endpoint for every Managed Instance of the estate. Both encryptions Azure SQL offers: TDS 7.4 with TLS
 * inside PRELOGIN (reference/tds-and-mi.md §1.3), and TDS 8 "strict", TLS first with ALPN tds/8.0, recognised as
 * Azure does by a first byte 0x16 instead of 0x12. The instance is chosen by the TLS SNI name, as Azure's gateway
 * routes.
 * Logins are SQL logins or Entra access tokens (both FedAuth flows); tokens are verified before the engine sees
 * the claims. A malformed client closes its own connection and nothing else.
 */
export interface TdsFaults {
  dropConnection?(serverName: string): boolean;
  hang?(serverName: string): boolean;
  /** Answer the login and this many requests of the connection, then never answer (a server that stalls mid-session). */
  stallAfterLogin?(serverName: string): number | undefined;
  refuseLogin?(serverName: string): boolean;
  latencyMs?(serverName: string): number;
}

export interface TdsServerOptions {
  host?: string;
  port?: number;
  resolveEngine: SqlEngineResolver;
  tls: { keyPem: string; certPem: string };
  tokenAuthority: TokenAuthority;
  faults?: TdsFaults;
  now?: () => number;
}

export interface RunningTds {
  host: string;
  port: number;
  counts(): { logins: number; requests: number };
  close(): Promise<void>;
}

interface Counters {
  logins: number;
  requests: number;
}

const SQL_AUDIENCES = ["https://database.windows.net/", "https://database.windows.net"];
const PACKET_SIZE = 4096;
const TLS_RECORD_TYPES = new Set([0x14, 0x15, 0x16, 0x17]);
const TLS_HANDSHAKE = 0x16;

/** Built once per server: parsing the key for every connection cost more CPU than the rest of the session. */
interface TlsContexts {
  /** TDS 7.4: tedious caps TLS inside PRELOGIN at 1.2. */
  prelogin: SecureContext;
  strict: SecureContext;
}
const STS_URL = "https://login.microsoftonline.com/common";
const SPN = "https://database.windows.net/";

const loginFailed = (user: string): SqlMessage => ({ number: 18456, state: 1, class: 14, message: `Login failed for user '${user}'.`, lineNumber: 1 });

class Connection {
  private readonly reader = new MessageReader();
  private stage: "prelogin" | "handshake" | "login" | "fedauth" | "ready" | "closed" = "prelogin";
  private tls: TLSSocket | undefined;
  private transport: Duplex | undefined;
  private raw = false;
  private strict = false;
  /** TDS 8 is recognised by the connection's first byte only; later chunks may begin with anything. */
  private firstChunk = true;
  private handshakeOut: Buffer[] = [];
  private rawBuffer = Buffer.alloc(0);
  private engine: SqlEngine | undefined;
  private serverName = "";
  private login: Login7 | undefined;
  private session: SqlSession | undefined;
  private readonly queue: Message[] = [];
  private busy = false;
  private current: AbortController | undefined;
  private descriptor = Buffer.alloc(8);
  private nextDescriptor = 1;

  constructor(
    private readonly socket: Socket,
    private readonly options: TdsServerOptions,
    private readonly counters: Counters,
    private readonly contexts: TlsContexts,
  ) {
    socket.on("data", this.onSocketData);
    socket.on("error", () => this.close());
    socket.on("close", () => this.close());
  }

  private close(): void {
    if (this.stage === "closed") return;
    this.stage = "closed";
    this.current?.abort();
    this.session?.close();
    this.tls?.destroy();
    this.socket.destroy();
  }

  private fail(error?: unknown): void {
    if (process.env.AUDITGUARD_TDS_DEBUG) console.error(`tds: closing the connection in stage ${this.stage}`, error ?? new Error("here"));
    this.close();
  }

  // ---- transport: plain PRELOGIN, TLS inside PRELOGIN, then raw TLS ----

  private readonly onSocketData = (chunk: Buffer): void => {
    try {
      const first = this.firstChunk;
      this.firstChunk = false;
      if (first && chunk[0] === TLS_HANDSHAKE) return this.startStrictTls(chunk);
      if (this.raw) {
        this.transport!.push(chunk);
        return;
      }
      if (this.stage === "handshake") {
        this.rawBuffer = Buffer.concat([this.rawBuffer, chunk]);
        // tedious wraps handshake flights in PRELOGIN packets, then sends raw TLS records once secure.
        while (this.rawBuffer.length) {
          if (TLS_RECORD_TYPES.has(this.rawBuffer[0]!)) {
            // The client's first raw record: the handshake is over and LOGIN7 follows inside TLS.
            this.raw = true;
            this.stage = "login";
            this.flushHandshake();
            this.transport!.push(this.rawBuffer);
            this.rawBuffer = Buffer.alloc(0);
            return;
          }
          const messages = this.reader.push(this.rawBuffer);
          this.rawBuffer = Buffer.alloc(0);
          for (const m of messages) {
            if (m.type !== PacketType.PRELOGIN) throw new FramingError("expected a TLS handshake in PRELOGIN");
            this.transport!.push(m.payload);
          }
        }
        return;
      }
      for (const m of this.reader.push(chunk)) this.onMessage(m);
    } catch (error) {
      this.fail(error);
    }
  };

  /** TDS 8: the socket itself becomes the TLS server; PRELOGIN and everything after travel inside it. */
  private startStrictTls(first: Buffer): void {
    this.strict = true;
    this.socket.off("data", this.onSocketData);
    this.socket.pause();
    // A TLSSocket over a net.Socket reads what is already buffered on it, so the ClientHello is not lost.
    this.socket.unshift(first);
    this.tls = new TLSSocket(this.socket, { isServer: true, secureContext: this.contexts.strict, ALPNProtocols: ["tds/8.0"] });
    this.listenToTls(this.tls);
  }

  private listenToTls(tls: TLSSocket): void {
    tls.on("data", (chunk: Buffer) => {
      try {
        for (const m of this.reader.push(chunk)) this.onMessage(m);
      } catch (error) {
        this.fail(error);
      }
    });
    tls.on("error", (error) => this.fail(error));
  }

  private send(type: number, payload: Buffer): void {
    if (this.stage === "closed") return;
    const bytes = encodeMessage(type, payload, PACKET_SIZE);
    if (this.tls) this.tls.write(bytes);
    else this.socket.write(bytes);
  }

  private reply(...tokens: Buffer[]): void {
    this.send(PacketType.TABULAR_RESULT, Buffer.concat(tokens));
  }

  private flushHandshake(): void {
    if (!this.handshakeOut.length) return;
    const data = Buffer.concat(this.handshakeOut);
    this.handshakeOut = [];
    this.socket.write(encodeMessage(PacketType.PRELOGIN, data, PACKET_SIZE));
  }

  private startTls(): void {
    this.transport = new Duplex({
      read() {},
      write: (chunk: Buffer, _encoding, callback) => {
        if (this.raw) this.socket.write(chunk);
        else {
          // Coalesce one flight into one PRELOGIN message; the client waits for exactly one reply message.
          if (!this.handshakeOut.length) setImmediate(() => this.raw || this.flushHandshake());
          this.handshakeOut.push(Buffer.from(chunk));
        }
        callback();
      },
    });
    this.tls = new TLSSocket(this.transport as unknown as Socket, { isServer: true, secureContext: this.contexts.prelogin });
    this.listenToTls(this.tls);
    this.stage = "handshake";
  }

  // ---- messages ----

  private onMessage(m: Message): void {
    if (this.stalled) return; // a stalled server answers nothing, not even an attention
    if (m.type === PacketType.ATTENTION) {
      this.current?.abort();
      if (!this.busy) this.reply(T.done(0xfd, T.DONE_ATTN, 0, 0));
      else this.attentionPending = true;
      return;
    }
    this.queue.push(m);
    void this.drain();
  }

  private attentionPending = false;
  private stalled = false;
  private requestsSeen = 0;

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length && this.stage !== "closed") {
        const m = this.queue.shift()!;
        await this.handle(m);
        if (this.attentionPending) {
          this.attentionPending = false;
          this.reply(T.done(0xfd, T.DONE_ATTN, 0, 0));
        }
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.busy = false;
    }
  }

  private async handle(m: Message): Promise<void> {
    switch (this.stage) {
      case "prelogin": {
        if (m.type !== PacketType.PRELOGIN) return this.fail();
        const options = parsePrelogin(m.payload);
        const fedAuthRequired = (options.get(PreloginOption.FEDAUTHREQUIRED)?.[0] ?? 0) === 1;
        this.send(PacketType.TABULAR_RESULT, serverPrelogin(fedAuthRequired, this.strict));
        if (this.strict) this.stage = "login";
        else this.startTls();
        return;
      }
      case "login":
        if (m.type !== PacketType.LOGIN7) return this.fail();
        return this.onLogin7(m.payload);
      case "fedauth":
        if (m.type !== PacketType.FEDAUTH_TOKEN) return this.fail();
        return this.onToken(parseFedAuthToken(m.payload));
      case "ready":
        return this.onRequest(m);
      default:
        return this.fail();
    }
  }

  private async onLogin7(payload: Buffer): Promise<void> {
    const login = parseLogin7(payload);
    this.login = login;
    this.serverName = (this.tls?.servername || login.serverName || "").toLowerCase();
    this.engine = this.options.resolveEngine(this.serverName);
    if (!this.engine) {
      return this.refuse({ number: 40532, state: 1, class: 20, message: `Cannot open server "${this.serverName.split(".")[0] ?? ""}" requested by the login. The login failed.`, lineNumber: 1 });
    }
    if (this.options.faults?.hang?.(this.serverName)) return; // accepts, never answers
    if (this.options.faults?.refuseLogin?.(this.serverName)) {
      return this.refuse({ number: 40613, state: 1, class: 17, message: `Database 'master' on server '${this.serverName}' is not currently available. Please retry the connection later.`, lineNumber: 1 });
    }
    if (login.fedAuth?.library === "msal") {
      this.stage = "fedauth";
      this.reply(T.fedAuthInfo(STS_URL, SPN), T.done(0xfd, 0, 0, 0));
      return;
    }
    if (login.fedAuth?.library === "securitytoken") return this.onToken(login.fedAuth.token);
    await this.finishLogin(await this.engine.login({ kind: "sql", userName: login.userName, password: login.password, database: login.database || "master", appName: login.appName, hostName: login.hostName }, { address: this.socket.remoteAddress ?? "" }));
  }

  private async onToken(token: string): Promise<void> {
    const check = this.options.tokenAuthority.verify(token, SQL_AUDIENCES, this.options.now?.() ?? Date.now());
    if (!check.ok) return this.refuse(loginFailed("<token-identified principal>"));
    const c = check.claims;
    const login = this.login!;
    await this.finishLogin(
      await this.engine!.login(
        { kind: "token", claims: { oid: c.oid, ...(c.appid ? { appid: c.appid } : {}), ...(c.name ? { name: c.name } : {}), ...(c.upn ? { upn: c.upn } : {}) }, database: login.database || "master", appName: login.appName, hostName: login.hostName },
        { address: this.socket.remoteAddress ?? "" },
      ),
    );
  }

  private refuse(error: SqlMessage): void {
    this.reply(T.message(error, this.serverName), T.done(0xfd, T.DONE_ERROR, 0, 0));
    // The login error goes out through TLS first; the connection ends once it is flushed.
    const end = () => {
      this.stage = "closed";
      this.socket.end();
    };
    if (this.tls) this.tls.end(end);
    else end();
  }

  private async finishLogin(result: LoginResult): Promise<void> {
    if (!result.ok) return this.refuse(result.error);
    const login = this.login!;
    this.counters.logins++;
    this.session = this.engine!.openSession(result.principal, result.database, { address: this.socket.remoteAddress ?? "", appName: login.appName, hostName: login.hostName });
    const features: Array<[number, Buffer]> = [];
    if (login.fedAuth) features.push([0x02, Buffer.alloc(0)]);
    if (login.utf8Support) features.push([0x0a, Buffer.from([0x00])]);
    this.stage = "ready";
    this.reply(
      T.envChangeString(1, result.database, "master"),
      T.message({ number: 5701, state: 2, class: 0, message: `Changed database context to '${result.database}'.`, lineNumber: 0 }, this.serverName),
      T.envChangeBytes(7, T.COLLATION, Buffer.alloc(0)),
      T.envChangeString(2, "us_english", ""),
      T.message({ number: 5703, state: 1, class: 0, message: "Changed language setting to us_english.", lineNumber: 0 }, this.serverName),
      T.envChangeString(4, String(PACKET_SIZE), String(PACKET_SIZE)),
      T.loginAck(),
      ...(features.length ? [T.featureExtAck(features)] : []),
      T.done(0xfd, 0, 0, 0),
    );
  }

  // ---- requests ----

  private transactionTokens(change: "begin" | "commit" | "rollback" | undefined): Buffer[] {
    if (!change) return [];
    if (change === "begin") {
      const d = Buffer.alloc(8);
      d.writeBigUInt64LE(BigInt(this.nextDescriptor++));
      this.descriptor = d;
      return [T.envChangeBytes(8, d, Buffer.alloc(0))];
    }
    const old = this.descriptor;
    this.descriptor = Buffer.alloc(8);
    return [T.envChangeBytes(change === "commit" ? 9 : 10, Buffer.alloc(0), old)];
  }

  private outcomeTokens(outcomes: StatementOutcome[], rpc: boolean): Buffer[] {
    const tokens: Buffer[] = [];
    const doneKind = rpc ? 0xff : 0xfd;
    outcomes.forEach((o, i) => {
      const last = i === outcomes.length - 1;
      const more = !last || rpc ? T.DONE_MORE : 0;
      if (o.kind === "rows") {
        for (const info of o.infos ?? []) tokens.push(T.message(info, this.serverName));
        tokens.push(T.colMetadata(o.resultSet.columns));
        for (const r of o.resultSet.rows) tokens.push(T.row(o.resultSet.columns, r));
        tokens.push(T.done(doneKind, more | T.DONE_COUNT, T.CMD_SELECT, o.resultSet.rows.length));
      } else if (o.kind === "done") {
        for (const info of o.infos ?? []) tokens.push(T.message(info, this.serverName));
        tokens.push(...this.transactionTokens(o.transaction));
        tokens.push(T.done(doneKind, more | (o.rowCount !== undefined ? T.DONE_COUNT : 0), 0, o.rowCount ?? 0));
      } else {
        tokens.push(T.message(o.error, this.serverName));
        tokens.push(...this.transactionTokens(o.transaction));
        tokens.push(T.done(doneKind, more | T.DONE_ERROR, 0, 0));
      }
    });
    if (!outcomes.length && !rpc) tokens.push(T.done(0xfd, 0, 0, 0));
    return tokens;
  }

  private async onRequest(m: Message): Promise<void> {
    if (m.status & STATUS_IGNORE) return this.reply();
    this.counters.requests++;
    const faults = this.options.faults;
    const answered = faults?.stallAfterLogin?.(this.serverName);
    if (answered !== undefined && this.requestsSeen++ >= answered) {
      this.stalled = true; // logged in, never answers again
      return;
    }
    if (faults?.dropConnection?.(this.serverName)) return this.fail();
    const latency = faults?.latencyMs?.(this.serverName) ?? 0;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    const session = this.session!;
    const controller = new AbortController();
    this.current = controller;
    try {
      if (m.type === PacketType.SQL_BATCH) {
        const outcomes = await session.execute({ sql: parseSqlBatch(m.payload), params: new Map(), signal: controller.signal });
        return this.reply(...this.outcomeTokens(outcomes, false));
      }
      if (m.type === PacketType.RPC) {
        const call = parseRpc(m.payload);
        let sql: string;
        const params = new Map<string, SqlValue>();
        if (call.procId === 10 || call.procName?.toLowerCase() === "sp_executesql") {
          const [statement, declarations, ...rest] = call.params;
          sql = String(statement?.value ?? "");
          void declarations;
          for (const p of rest) params.set(p.name, p.value);
        } else if (call.procName) {
          // A stored procedure called by name runs as EXEC with its parameters bound.
          sql = `EXEC ${call.procName} ${call.params.map((p) => `${p.name} = ${p.name}`).join(", ")}`;
          for (const p of call.params) params.set(p.name, p.value);
        } else {
          throw new RequestError(`RPC procedure id ${call.procId} is not supported`);
        }
        const outcomes = await session.execute({ sql, params, signal: controller.signal });
        const failed = outcomes.some((o) => o.kind === "error");
        return this.reply(...this.outcomeTokens(outcomes, true), T.returnStatus(failed ? -6 : 0), T.done(0xfe, failed ? T.DONE_ERROR : 0, T.CMD_EXECUTE, 0));
      }
      if (m.type === PacketType.TRANSACTION_MANAGER) {
        const request = parseTransactionManager(m.payload);
        const outcome = request.kind === "begin" ? await session.beginTransaction() : request.kind === "commit" ? await session.commitTransaction() : await session.rollbackTransaction();
        return this.reply(...this.outcomeTokens([outcome], false));
      }
      return this.fail();
    } catch (error) {
      if (error instanceof RequestError) {
        return this.reply(T.message({ number: 8009, state: 1, class: 16, message: `The incoming tabular data stream (TDS) remote procedure call (RPC) protocol stream is incorrect. ${error.message}`, lineNumber: 1 }, this.serverName), T.done(0xfd, T.DONE_ERROR, 0, 0));
      }
      throw error;
    } finally {
      this.current = undefined;
    }
  }
}

export async function startTdsServer(options: TdsServerOptions): Promise<RunningTds> {
  const host = options.host ?? "127.0.0.1";
  const sockets = new Set<Socket>();
  const counters: Counters = { logins: 0, requests: 0 };
  const contexts: TlsContexts = {
    prelogin: createSecureContext({ key: options.tls.keyPem, cert: options.tls.certPem, maxVersion: "TLSv1.2" }),
    strict: createSecureContext({ key: options.tls.keyPem, cert: options.tls.certPem }),
  };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    new Connection(socket, options, counters, contexts);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    host,
    port,
    counts: () => ({ ...counters }),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
