import type { Principal } from "../sql/contracts.js";
import type { ManagedInstanceEngine } from "./engine.js";

/**
 * What the interpreter and the audit statements need of the session that runs them: who, where, and the
 * session-scoped state (SET LOCK_TIMEOUT, the user transaction) that only the session changes.
 */
export interface SessionContext {
  readonly engine: ManagedInstanceEngine;
  /** @@SPID. */
  readonly id: number;
  readonly principal: Principal;
  /** The current database (DB_NAME(), USE). */
  readonly database: string;
  readonly client: { address: string; appName: string; hostName: string };
  /** SET LOCK_TIMEOUT in ms (-1 = wait forever), as @@LOCK_TIMEOUT shows it. */
  readonly lockTimeout: number;
  /** @@TRANCOUNT. */
  readonly tranCount: number;
  readonly inTransaction: boolean;
  /** Remembers how to undo a catalog change if the user transaction rolls back (CREATE … is transactional). */
  remember(kind: "audit" | "spec", id: number): void;
}
