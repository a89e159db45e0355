import { sqlServers } from "../../azure/arm-resources.js";
import { serverAuditingPolicies } from "../../azure/arm-auditing.js";
import { policyKindAdapter } from "../server-auditing/adapter.js";
import { KIND } from "./id.js";

/** A SQL server's I/O: Microsoft.Sql servers (list, get) and the server's auditing policies. */
export const sqlServerAdapter = policyKindAdapter(
  { kind: KIND, ...sqlServers },
  serverAuditingPolicies,
);
