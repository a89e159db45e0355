/**
 * How names compare. Two rules, one place, so no comparison picks its own:
 *
 * - Azure: resource ids, resource and resource group names, subscription ids and tag names are case-insensitive
 *   (Microsoft Learn, "Naming rules and restrictions for Azure resources": resource names are case-insensitive
 *   unless noted; "Use tags to organize your Azure resources": tag names are case-insensitive for operations).
 *   Entra principal names and GUIDs compare the same way.
 * - T-SQL: object names (server audits, specifications) compare by the instance's collation. A Managed Instance's
 *   default server collation is SQL_Latin1_General_CP1_CI_AS (Microsoft Learn, "Collation and Unicode support";
 *   "SQL Managed Instance collation"): case-insensitive, accent-sensitive.
 */

/** Azure names and ids (and Entra principal names, GUIDs): equal whatever their case. */
export function sameAzureName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** T-SQL object names as a case-insensitive, accent-sensitive collation compares them. */
export function sameSqlName(a: string, b: string): boolean {
  return a.localeCompare(b, undefined, { sensitivity: "accent" }) === 0;
}
