import type { SqlOperation } from "../domain.js";
import { quoteActionGroup, quoteIdentifier, quoteString } from "./identifiers.js";
import { renderPredicate } from "./predicate.js";

/** Renders one structured Managed Instance change as the exact T-SQL statement AuditGuard runs. */
function target(t: "EXTERNAL_MONITOR" | { url: string; retentionDays: number }): string {
  if (t === "EXTERNAL_MONITOR") return "EXTERNAL_MONITOR";
  return `URL (PATH = ${quoteString(t.url)}, RETENTION_DAYS = ${Math.trunc(t.retentionDays)})`;
}

const onFailure = (value: string) => {
  if (value !== "CONTINUE" && value !== "FAIL_OPERATION") throw new Error(`unsupported ON_FAILURE ${value}`);
  return value;
};

const groups = (list: string[]) => list.map((g) => `ADD (${quoteActionGroup(g)})`).join(", ");

export function renderStatement(operation: SqlOperation): string {
  switch (operation.op) {
    case "create-audit":
      return `CREATE SERVER AUDIT ${quoteIdentifier(operation.audit, "audit name")} TO ${target(operation.target)} WITH (QUEUE_DELAY = ${Math.trunc(operation.queueDelayMs)}, ON_FAILURE = ${onFailure(operation.onFailure)})${operation.predicate ? ` WHERE ${renderPredicate(operation.predicate)}` : ""};`;
    case "alter-audit-filter":
      return operation.predicate === null
        ? `ALTER SERVER AUDIT ${quoteIdentifier(operation.audit, "audit name")} REMOVE WHERE;`
        : `ALTER SERVER AUDIT ${quoteIdentifier(operation.audit, "audit name")} WHERE ${renderPredicate(operation.predicate)};`;
    case "alter-audit-target":
      return `ALTER SERVER AUDIT ${quoteIdentifier(operation.audit, "audit name")} TO ${target(operation.target)};`;
    case "alter-audit-options":
      return `ALTER SERVER AUDIT ${quoteIdentifier(operation.audit, "audit name")} WITH (QUEUE_DELAY = ${Math.trunc(operation.queueDelayMs)}, ON_FAILURE = ${onFailure(operation.onFailure)});`;
    case "set-audit-state":
      return `ALTER SERVER AUDIT ${quoteIdentifier(operation.audit, "audit name")} WITH (STATE = ${operation.state === "ON" ? "ON" : "OFF"});`;
    case "create-specification":
      return `CREATE SERVER AUDIT SPECIFICATION ${quoteIdentifier(operation.specification, "specification name")} FOR SERVER AUDIT ${quoteIdentifier(operation.audit, "audit name")} ${groups(operation.groups)} WITH (STATE = OFF);`;
    case "drop-specification":
      return `DROP SERVER AUDIT SPECIFICATION ${quoteIdentifier(operation.specification, "specification name")};`;
    case "add-specification-groups":
      return `ALTER SERVER AUDIT SPECIFICATION ${quoteIdentifier(operation.specification, "specification name")} ${groups(operation.groups)};`;
    case "set-specification-state":
      return `ALTER SERVER AUDIT SPECIFICATION ${quoteIdentifier(operation.specification, "specification name")} WITH (STATE = ${operation.state === "ON" ? "ON" : "OFF"});`;
  }
}
