import { createServer as createHttpsServer } from "node:https";
import { createServer as createHttpServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { EmulatorHandler, EmulatorRequest, EmulatorResponse } from "../http-contracts.js";

/**
 * One emulated service on one loopback port: Node's HTTP(S) server adapted to the EmulatorHandler seam, so
 * handlers never touch sockets. HTTPS for everything a bearer token goes to (the SDKs refuse plain http);
 * plain HTTP only for the managed-identity endpoint, as App Service's is.
 */
export interface RunningHttpServer {
  /** Base URL without a trailing slash, e.g. https://127.0.0.1:40123. */
  url: string;
  port: number;
  /** Requests received so far (tests count them to prove there was no retry storm). */
  requestCount(): number;
  close(): Promise<void>;
}

export interface ServeOptions {
  host?: string;
  port?: number;
  tls?: { certPem: string; keyPem: string };
  /** Largest request body accepted (bytes). */
  maxBodyBytes?: number;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error("request body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function toRequest(req: IncomingMessage, body: Buffer, base: string): EmulatorRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(req.headers)) headers[key.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  // Keep the raw path (ARM paths may hold '//' the URL parser would keep, and %2F the handlers decode themselves).
  const url = new URL(`${base}${req.url ?? "/"}`);
  return { method: (req.method ?? "GET").toUpperCase(), url, headers, body };
}

function writeResponse(res: ServerResponse, response: EmulatorResponse): void {
  const headers: Record<string, string> = { ...(response.headers ?? {}) };
  let payload: Buffer | undefined;
  if (response.json !== undefined) {
    payload = Buffer.from(JSON.stringify(response.json));
    headers["content-type"] ??= "application/json; charset=utf-8";
  } else if (response.text !== undefined) {
    payload = Buffer.from(response.text);
    headers["content-type"] ??= "text/plain; charset=utf-8";
  }
  headers["content-length"] = String(payload?.length ?? 0);
  res.writeHead(response.status, headers);
  if (response.stall) {
    // The headers go out now; the body later or never. A client that gives up closes the socket, which ends the
    // wait; the server's close destroys the socket too.
    res.flushHeaders();
    if (response.stall.bodyDelayMs === undefined) return;
    const timer = setTimeout(() => res.end(payload), response.stall.bodyDelayMs);
    res.on("close", () => clearTimeout(timer));
    return;
  }
  res.end(payload);
}

export async function serve(handler: EmulatorHandler, options: ServeOptions = {}): Promise<RunningHttpServer> {
  const host = options.host ?? "127.0.0.1";
  const limit = options.maxBodyBytes ?? 4 * 1024 * 1024;
  let count = 0;
  const sockets = new Set<Socket>();
  const scheme = options.tls ? "https" : "http";
  let base = "";
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    count++;
    void (async () => {
      try {
        const body = await readBody(req, limit);
        const response = await handler(toRequest(req, body, base));
        if (!res.destroyed) writeResponse(res, response);
      } catch (error) {
        if (!res.headersSent && !res.destroyed) {
          writeResponse(res, { status: 500, json: { error: { code: "InternalServerError", message: error instanceof Error ? error.message : "internal error" } } });
        }
      }
    })();
  };
  const server: Server = options.tls
    ? createHttpsServer({ cert: options.tls.certPem, key: options.tls.keyPem }, listener)
    : createHttpServer(listener);
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("secureConnection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  base = `${scheme}://${urlHost}:${port}`;
  return {
    url: base,
    port,
    requestCount: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
