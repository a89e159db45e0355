import { z } from "zod";
import { complianceReportSchema } from "./model.js";

/** The published JSON Schema of the JSON report (schema/report.schema.json). */
export function reportJsonSchema(): Record<string, unknown> {
  return { $id: "urn:auditguard:schema:report:1", title: "AuditGuard compliance report", ...z.toJSONSchema(complianceReportSchema, { target: "draft-2020-12" }) };
}
