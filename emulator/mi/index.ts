export { ManagedInstanceEngine, type ManagedInstanceEngineOptions } from "./engine.js";
export { miStateSchema, serverPermissions, auditStatuses, type MiState, type MiStateInput, type MiLogin, type MiAudit, type MiAuditSpecification, type ServerPermission, type AuditStatusDesc } from "./state-schema.js";
export { parseBatch, type Statement } from "./parser.js";
export { AppLockManager } from "./applock.js";
