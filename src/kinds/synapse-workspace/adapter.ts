import { synapseWorkspaces } from "../../azure/arm-resources.js";
import { workspaceAuditingPolicies } from "../../azure/arm-auditing.js";
import { policyKindAdapter } from "../server-auditing/adapter.js";
import { KIND } from "./id.js";

/** A Synapse workspace's I/O: Microsoft.Synapse workspaces (list, get) and its managed SQL server's auditing policies. */
export const synapseWorkspaceAdapter = policyKindAdapter(
  { kind: KIND, ...synapseWorkspaces },
  workspaceAuditingPolicies,
);
