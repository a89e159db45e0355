import { policyKind } from "../server-auditing/kind.js";
import { KIND } from "./id.js";

/**
 * SQL logical server: server-level auditing is the server's blob auditing policy (ARM), and its audit records reach
 * Log Analytics through a diagnostic setting on the server's master database ("Auditing for Azure SQL Database and
 * Azure Synapse Analytics": server-level audit logs are the master database's).
 */
export const sqlServer = policyKind({
  spec: { kind: KIND, prefix: "sql", label: "SQL server", section: "sqlServer", service: "SQL Database", identityFlagMayBeMissing: false },
  labelPlural: "SQL servers",
  armType: "microsoft.sql/servers",
  modeKey: "sqlServer",
  diagnosticWhere: "the server's master database",
  diagnosticResourceUri: (target) => `${target.id}/databases/master`,
  // The api-version @azure/arm-sql 10 sends for servers/auditingSettings and extendedAuditingSettings.
  auditingPolicyApiVersion: "2021-11-01-preview",
  permissions: {
    readAuditingPolicy: "Microsoft.Sql/servers/auditingSettings/read — role Reader",
    writeAuditingPolicy: "Microsoft.Sql/servers/auditingSettings/write — role SQL Security Manager; removing a filter writes extendedAuditingSettings/write, which SQL Security Manager does not have",
  },
  references: [
    { title: "Auditing for Azure SQL Database and Azure Synapse Analytics", url: "https://learn.microsoft.com/azure/azure-sql/database/auditing-overview" },
    { title: "Server Blob Auditing Policies - Create Or Update (REST)", url: "https://learn.microsoft.com/rest/api/sql/server-blob-auditing-policies/create-or-update" },
  ],
});
