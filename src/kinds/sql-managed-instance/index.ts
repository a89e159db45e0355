import type { KindModule } from "../kind.js";
import { diagnosticSettingRule } from "../../core/rules/diagnostic-settings.js";
import { KIND } from "./id.js";
import { managedInstanceRules } from "./rules.js";
import { planManagedInstance } from "./plan.js";

/**
 * SQL Managed Instance: no ARM auditing API, so its server audit and specification are read and fixed over T-SQL
 * (adapter.ts), and its audit records reach Log Analytics through a diagnostic setting on the instance.
 */
const desiredSetting: KindModule["diagnosticSetting"]["desired"] = (baseline) => baseline.managedInstance.diagnosticSetting;

export const sqlManagedInstance: KindModule<typeof KIND> = {
  id: KIND,
  label: "SQL Managed Instance",
  labelPlural: "SQL Managed Instances",
  armType: "microsoft.sql/managedinstances",
  modeKey: "sqlManagedInstance",
  section: "managedInstance",
  rulePrefix: "mi",
  diagnosticSetting: {
    resourceUri: (target) => target.id,
    desired: desiredSetting,
  },
  // An audit that is off, not started or not specified, or no diagnostic setting: nothing reaches the workspace.
  deliveryRules: ["mi.audit.enabled", "mi.audit.started", "mi.specification.enabled", "mi.diagnostic-setting"],
  rules: [...managedInstanceRules, diagnosticSettingRule({ kind: KIND, prefix: "mi", where: "the Managed Instance", desired: desiredSetting })],
  plan: planManagedInstance,
  references: [
    { title: "Get started with Azure SQL Managed Instance auditing", url: "https://learn.microsoft.com/azure/azure-sql/managed-instance/auditing-configure" },
    { title: "CREATE SERVER AUDIT (Transact-SQL)", url: "https://learn.microsoft.com/sql/t-sql/statements/create-server-audit-transact-sql" },
    { title: "ALTER SERVER AUDIT SPECIFICATION (Transact-SQL)", url: "https://learn.microsoft.com/sql/t-sql/statements/alter-server-audit-specification-transact-sql" },
  ],
};
