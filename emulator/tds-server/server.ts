import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { createSecureContext } from "node:tls";
import type { TokenAuthority } from "../identity/tokens.js";
import { ConnectionDropped } from "../sql/contracts.js";
import type { LoginResult, SqlEngine, SqlEngineResolver, SqlMessage, SqlSession, SqlValue, StatementOutcome } from "../sql/contracts.js";
import { PacketType, STATUS_IGNORE } from "./packets.js";
import type { Message } from "./packets.js";
import { ENCRYPT_NOT_SUP, ENCRYPT_OFF, parseClientPrelogin, PreloginOption, serverPrelogin } from "./prelogin.js";
import { TdsTransport } from "./transport.js";
import { LinkLatency } from "./link-latency.js";
import type { TlsContexts } from "./transport.js";
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
  /**
   * The latency of one round trip with this server ("" while the client has not named it yet: before the TLS SNI
   * or LOGIN7): every flight from the client waits it out, the handshake's included (link-latency.ts).
   */
  latencyMs?: (serverName: string) => number;
}

export interface TdsServerOptions {
  host?: string;
  port?: number;
  resolveEngine: SqlEngineResolver;
  tls: { keyPem: string; certPem: string };
  tokenAuthority: TokenAuthority;
  faults?: TdsFaults;
  now?: () => number;
  /**
   * False while an instance cannot serve (its ARM state is Stopped, Starting…): its logins are closed unanswered and
   * its open sessions run nothing more. Default: always available.
   */
  isAvailable?(serverName: string): boolean;
  /** How long a connection may take from its first byte to a completed login; default 30 s [unverified: Azure's]. */
  preLoginTimeoutMs?: number;
}

const DEFAULT_PRELOGIN_TIMEOUT_MS = 30_000;

export interface RunningTds {
  host: string;
  port: number;
  /** Logins, requests after login, and (with a latency fault) round trips of every connection, handshakes included. */
  counts(): { logins: number; requests: number; roundTrips: number };
  close(): Promise<void>;
}

interface Counters {
  logins: number;
  requests: number;
  roundTrips: number;
}

const SQL_AUDIENCES = ["https://database.windows.net/", "https://database.windows.net"];
const PACKET_SIZE = 4096;
const STS_URL = "https://login.microsoftonline.com/common";
const SPN = "https://database.windows.net/";

const loginFailed = (user: string): SqlMessage => ({ number: 18456, state: 1, class: 14, message: `Login failed for user '${user}'.`, lineNumber: 1 });

class Connection {
  private stage: "prelogin" | "login" | "fedauth" | "ready" | "closed" = "prelogin";
  private readonly transport: TdsTransport;
  /** The TDS version acknowledged in LOGINACK; tokens and request parsing follow it. */
  private version = T.TDS_7_4;
  private engine: SqlEngine | undefined;
  private serverName = "";
  private login: Login7 | undefined;
  private session: SqlSession | undefined;
  private readonly queue: Message[] = [];
  private busy = false;
  private current: AbortController | undefined;
  private descriptor = Buffer.alloc(8);
  private nextDescriptor = 1;
  private preLoginTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket | LinkLatency,
    private readonly options: TdsServerOptions,
    private readonly counters: Counters,
    contexts: TlsContexts,
  ) {
    this.transport = new TdsTransport(socket, contexts, { message: (m) => this.onMessage(m), error: (e) => this.fail(e) });
    socket.on("error", () => this.close());
    socket.on("close", () => this.close());
    // A client that sends nothing, or stops mid-PRELOGIN or mid-LOGIN7, is dropped after a bounded time, as SQL
    // Server drops a stalled pre-login handshake.
    this.preLoginTimer = setTimeout(() => this.fail(new Error("pre-login timeout")), options.preLoginTimeoutMs ?? DEFAULT_PRELOGIN_TIMEOUT_MS);
    this.preLoginTimer.unref();
  }

  private close(abort = true): void {
    if (this.stage === "closed") return;
    this.stage = "closed";
    clearTimeout(this.preLoginTimer);
    this.current?.abort();
    this.session?.close();
    if (abort) this.transport.destroy();
    else this.transport.end();
  }

  /** The instance's name as far as the client has said it (TLS SNI, then LOGIN7); "" before. */
  get knownServerName(): string {
    return this.serverName || this.transport.servername?.toLowerCase() || "";
  }

  private fail(error?: unknown): void {
    if (process.env.AUDITGUARD_TDS_DEBUG) console.error(`tds: closing the connection in stage ${this.stage}`, error ?? new Error("here"));
    this.close();
  }

  /** Ends the connection with no further reply (FIN after what was already sent), as a dropped link looks to a client. */
  private hangUp(): void {
    if (this.stage === "closed") return;
    this.close(false);
  }

  private send(type: number, payload: Buffer): void {
    if (this.stage === "closed") return;
    this.transport.send(type, payload, PACKET_SIZE);
  }

  private reply(...tokens: Buffer[]): void {
    this.send(PacketType.TABULAR_RESULT, Buffer.concat(tokens));
  }

  // ---- messages ----

  private onMessage(m: Message): void {
    if (this.stalled) return; // a stalled server answers nothing, not even an attention
    if (this.stage === "closed") return;
    // Before login there is no request to cancel: an ATTENTION there is a protocol violation, not a cancel.
    if (m.type === PacketType.ATTENTION && this.stage !== "ready") return this.fail(new Error("ATTENTION before login"));
    // PRELOGIN is answered at once: its answer decides how the transport reads the bytes that follow.
    if (this.stage === "prelogin") return this.onPrelogin(m);
    if (m.type === PacketType.ATTENTION) {
      this.current?.abort();
      if (!this.busy) this.reply(T.done(0xfd, T.DONE_ATTN, 0, 0, this.version));
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
          this.reply(T.done(0xfd, T.DONE_ATTN, 0, 0, this.version));
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

  private onPrelogin(m: Message): void {
    try {
      if (m.type !== PacketType.PRELOGIN) throw new Error(`expected PRELOGIN, got message type 0x${m.type.toString(16)}`);
      const options = parseClientPrelogin(m.payload);
      const fedAuthRequired = (options.get(PreloginOption.FEDAUTHREQUIRED)?.[0] ?? 0) === 1;
      const strict = this.transport.strict;
      const encryption = options.get(PreloginOption.ENCRYPTION)?.[0] ?? ENCRYPT_OFF;
      this.send(PacketType.TABULAR_RESULT, serverPrelogin(fedAuthRequired, strict, encryption));
      this.stage = "login";
      if (strict) return;
      // 2.2.6.5: a server that requires encryption ends the connection of a client that cannot encrypt.
      if (encryption === ENCRYPT_NOT_SUP) return this.transport.end();
      this.transport.startPreloginTls();
    } catch (error) {
      this.fail(error);
    }
  }

  private async onLogin7(payload: Buffer): Promise<void> {
    const login = parseLogin7(payload);
    this.login = login;
    const version = T.negotiateVersion(login.tdsVersion);
    if (version === undefined) throw new Error(`TDS version 0x${login.tdsVersion.toString(16)} is older than 7.1`);
    this.version = version;
    this.serverName = (this.transport.servername || login.serverName || "").toLowerCase();
    this.engine = this.options.resolveEngine(this.serverName);
    if (!this.engine) {
      return this.refuse({ number: 40532, state: 1, class: 20, message: `Cannot open server "${this.serverName.split(".")[0] ?? ""}" requested by the login. The login failed.`, lineNumber: 1 });
    }
    // "Stop and start an instance": a stopped instance is like a deallocated VM, so nothing answers for it; the
    // connection is closed once the name is known (SNI or LOGIN7) [unverified: what a client sees from Azure's gateway].
    if (this.options.isAvailable && !this.options.isAvailable(this.serverName)) return this.hangUp();
    if (this.options.faults?.hang?.(this.serverName)) return clearTimeout(this.preLoginTimer); // accepts, never answers
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
    this.reply(T.message(error, this.serverName, this.version), T.done(0xfd, T.DONE_ERROR, 0, 0, this.version));
    // The login error goes out through TLS first; the connection ends once it is flushed.
    clearTimeout(this.preLoginTimer);
    this.stage = "closed";
    this.transport.end();
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
    clearTimeout(this.preLoginTimer);
    const v = this.version;
    this.reply(
      T.envChangeString(1, result.database, "master"),
      T.message({ number: 5701, state: 2, class: 0, message: `Changed database context to '${result.database}'.`, lineNumber: 0 }, this.serverName, v),
      T.envChangeBytes(7, T.COLLATION, Buffer.alloc(0)),
      T.envChangeString(2, "us_english", ""),
      T.message({ number: 5703, state: 1, class: 0, message: "Changed language setting to us_english.", lineNumber: 0 }, this.serverName, v),
      T.envChangeString(4, String(PACKET_SIZE), String(PACKET_SIZE)),
      T.loginAck(v),
      // FeatureExt exists from TDS 7.4 on (2.2.7.11 FEATUREEXTACK).
      ...(features.length && v >= T.TDS_7_4 ? [T.featureExtAck(features)] : []),
      T.done(0xfd, 0, 0, 0, v),
    );
  }

  // ---- requests ----

  /** [MS-TDS] 2.2.5.3: ALL_HEADERS prefixes SQLBatch, RPC and transaction manager requests from TDS 7.2 on only. */
  private get hasAllHeaders(): boolean {
    return this.version >= T.TDS_7_2;
  }

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
    const v = this.version;
    const doneKind = rpc ? 0xff : 0xfd;
    outcomes.forEach((o, i) => {
      const last = i === outcomes.length - 1;
      const more = !last || rpc ? T.DONE_MORE : 0;
      if (o.kind === "rows") {
        for (const info of o.infos ?? []) tokens.push(T.message(info, this.serverName, v));
        tokens.push(T.colMetadata(o.resultSet.columns, v));
        for (const r of o.resultSet.rows) tokens.push(T.row(o.resultSet.columns, r, v));
        tokens.push(T.done(doneKind, more | T.DONE_COUNT, T.CMD_SELECT, o.resultSet.rows.length, v));
      } else if (o.kind === "done") {
        // USE: ENVCHANGE database, then INFO 5701, as at login (reference §1.5).
        if (o.databaseChange) {
          tokens.push(T.envChangeString(1, o.databaseChange.to, o.databaseChange.from));
          tokens.push(T.message({ number: 5701, state: 1, class: 0, message: `Changed database context to '${o.databaseChange.to}'.`, lineNumber: 1 }, this.serverName, v));
        }
        for (const info of o.infos ?? []) tokens.push(T.message(info, this.serverName, v));
        tokens.push(...this.transactionTokens(o.transaction));
        tokens.push(T.done(doneKind, more | (o.rowCount !== undefined ? T.DONE_COUNT : 0), 0, o.rowCount ?? 0, v));
      } else {
        tokens.push(T.message(o.error, this.serverName, v));
        tokens.push(...this.transactionTokens(o.transaction));
        tokens.push(T.done(doneKind, more | T.DONE_ERROR, 0, 0, v));
      }
    });
    if (!outcomes.length && !rpc) tokens.push(T.done(0xfd, 0, 0, 0, v));
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
    if (this.options.isAvailable && !this.options.isAvailable(this.serverName)) return this.hangUp();
    const session = this.session!;
    const controller = new AbortController();
    this.current = controller;
    try {
      if (m.type === PacketType.SQL_BATCH) {
        const outcomes = await session.execute({ sql: parseSqlBatch(m.payload, this.hasAllHeaders), params: new Map(), signal: controller.signal });
        return this.reply(...this.outcomeTokens(outcomes, false));
      }
      if (m.type === PacketType.RPC) {
        const call = parseRpc(m.payload, this.hasAllHeaders);
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
        return this.reply(...this.outcomeTokens(outcomes, true), T.returnStatus(failed ? -6 : 0), T.done(0xfe, failed ? T.DONE_ERROR : 0, T.CMD_EXECUTE, 0, this.version));
      }
      if (m.type === PacketType.TRANSACTION_MANAGER) {
        const request = parseTransactionManager(m.payload, this.hasAllHeaders);
        const outcome = request.kind === "begin" ? await session.beginTransaction() : request.kind === "commit" ? await session.commitTransaction() : await session.rollbackTransaction();
        return this.reply(...this.outcomeTokens([outcome], false));
      }
      return this.fail();
    } catch (error) {
      // An injected "drop-connection" / "no-reply": the connection ends with no answer to this request.
      if (error instanceof ConnectionDropped) return this.hangUp();
      if (error instanceof RequestError) {
        return this.reply(T.message({ number: 8009, state: 1, class: 16, message: `The incoming tabular data stream (TDS) remote procedure call (RPC) protocol stream is incorrect. ${error.message}`, lineNumber: 1 }, this.serverName, this.version), T.done(0xfd, T.DONE_ERROR, 0, 0, this.version));
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
  const counters: Counters = { logins: 0, requests: 0, roundTrips: 0 };
  const contexts: TlsContexts = {
    prelogin: createSecureContext({ key: options.tls.keyPem, cert: options.tls.certPem, maxVersion: "TLSv1.2" }),
    strict: createSecureContext({ key: options.tls.keyPem, cert: options.tls.certPem }),
  };
  const latencyMs = options.faults?.latencyMs;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    if (!latencyMs) {
      new Connection(socket, options, counters, contexts);
      return;
    }
    // The link asks for the latency before the connection knows its server name (PRELOGIN comes first).
    const connection: { current?: Connection } = {};
    const link = new LinkLatency(socket, () => latencyMs(connection.current?.knownServerName ?? ""), () => counters.roundTrips++);
    connection.current = new Connection(link, options, counters, contexts);
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
