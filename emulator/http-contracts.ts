/**
 * How the emulator's HTTPS servers (emulator/arm, emulator/server) hand a request to a service handler
 * (ARM routes, Log Analytics, Resource Graph) and get the answer back, with no HTTP plumbing in the handlers.
 */
export interface EmulatorRequest {
  method: string;
  url: URL;
  /** Header names in lower case. */
  headers: Readonly<Record<string, string | undefined>>;
  body: Buffer;
}

export interface EmulatorResponse {
  status: number;
  headers?: Record<string, string>;
  /** Serialised as application/json; charset=utf-8. */
  json?: unknown;
  text?: string;
  /**
   * A fault (emulator/faults `stallAfterHeaders`): the status line and headers are sent, the body after
   * `bodyDelayMs` or, without it, never (until the client gives up or the server closes).
   */
  stall?: { bodyDelayMs?: number };
}

export type EmulatorHandler = (request: EmulatorRequest) => EmulatorResponse | Promise<EmulatorResponse>;
