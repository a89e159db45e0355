import type { Column, KustoType } from "./ast.js";

/**
 * Declared columns of the tables the emulator serves, so an empty result still has the service's columns and
 * a misspelt column is a semantic error rather than an empty answer. Rows may carry more columns; those are
 * added with types inferred from their values.
 */
const s = (name: string): Column => ({ name, type: "string" });
const t = (name: string, type: KustoType): Column => ({ name, type });

export const TABLE_COLUMNS: Record<string, Column[]> = {
  AzureDiagnostics: [
    s("TenantId"), t("TimeGenerated", "datetime"), s("ResourceId"), s("Category"), s("ResourceGroup"), s("SubscriptionId"),
    s("ResourceProvider"), s("Resource"), s("ResourceType"), s("OperationName"), s("SourceSystem"), s("Type"), s("_ResourceId"),
    s("LogicalServerName_s"), s("action_id_s"), s("action_name_s"), s("additional_information_s"), t("affected_rows_d", "real"),
    s("application_name_s"), t("audit_schema_version_d", "real"), s("class_type_s"), s("class_type_description_s"), s("client_ip_s"),
    s("database_name_s"), t("database_principal_id_d", "real"), s("database_principal_name_s"), t("duration_milliseconds_d", "real"),
    t("event_time_t", "datetime"), t("event_id_g", "guid"), s("is_server_level_audit_s"), s("object_name_s"), s("schema_name_s"),
    s("server_instance_name_s"), t("server_principal_id_d", "real"), s("server_principal_name_s"), s("server_principal_sid_s"),
    t("session_id_d", "real"), s("session_server_principal_name_s"), s("statement_s"), s("succeeded_s"), t("sequence_number_d", "real"),
  ],
  SQLSecurityAuditEvents: [
    s("TenantId"), t("TimeGenerated", "datetime"), s("Category"), s("ActionId"), s("ActionName"), s("AdditionalInformation"),
    t("AffectedRows", "long"), s("ApplicationName"), s("ClassType"), s("ClassTypeDescription"), s("ClientIp"), s("DatabaseName"),
    t("DurationMs", "long"), s("EventId"), t("EventTime", "datetime"), s("HostName"), t("IsServerLevelAudit", "bool"),
    s("LogicalServerName"), s("ObjectName"), s("SchemaName"), t("ServerPrincipalId", "int"), s("ServerPrincipalName"),
    s("ServerPrincipalSid"), t("SessionId", "int"), s("SessionServerPrincipalName"), s("Statement"), t("Succeeded", "bool"),
    s("_ResourceId"), s("_SubscriptionId"), s("ResourceGroup"), s("SourceSystem"), s("Type"),
  ],
  Resources: [
    s("id"), s("name"), s("type"), s("tenantId"), s("kind"), s("location"), s("resourceGroup"), s("subscriptionId"),
    s("managedBy"), t("sku", "dynamic"), t("plan", "dynamic"), t("properties", "dynamic"), t("tags", "dynamic"),
    t("identity", "dynamic"), t("zones", "dynamic"), t("extendedLocation", "dynamic"),
  ],
  // Subscriptions and resource groups ("Azure Resource Graph table and resource type reference").
  ResourceContainers: [
    s("id"), s("name"), s("type"), s("tenantId"), s("kind"), s("location"), s("resourceGroup"), s("subscriptionId"),
    s("managedBy"), t("sku", "dynamic"), t("plan", "dynamic"), t("properties", "dynamic"), t("tags", "dynamic"),
  ],
};
