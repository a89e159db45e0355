import { policyKind } from "../server-auditing/kind.js";
import { KIND } from "./id.js";

/**
 * Synapse workspace: the workspace's managed SQL server has the same auditing policy model as a SQL server, under
 * Microsoft.Synapse; the diagnostic setting is on the workspace itself.
 */
export const synapseWorkspace = policyKind({
  // Synapse's policy may leave isManagedIdentityInUse out, so a storage endpoint alone does not say key or identity.
  spec: { kind: KIND, prefix: "synapse", label: "Synapse workspace", section: "synapseWorkspace", service: "Synapse", identityFlagMayBeMissing: true },
  labelPlural: "Synapse workspaces",
  armType: "microsoft.synapse/workspaces",
  modeKey: "synapseWorkspace",
  diagnosticWhere: "the Synapse workspace",
  diagnosticResourceUri: (target) => target.id,
  // The api-version @azure/arm-synapse 8 sends for workspaces/auditingSettings (the REST reference documents it).
  auditingPolicyApiVersion: "2021-06-01",
  permissions: {
    readAuditingPolicy: "Microsoft.Synapse/workspaces/auditingSettings/read — role Reader",
    writeAuditingPolicy: "Microsoft.Synapse/workspaces/auditingSettings/write — a role with the Synapse action",
  },
  references: [
    { title: "Workspace Managed Sql Server Blob Auditing Policies - Create Or Update (REST)", url: "https://learn.microsoft.com/rest/api/synapse/workspace-managed-sql-server-blob-auditing-policies/create-or-update" },
  ],
});
