import { z } from "zod";
import { RULES } from "../core/rules/registry.js";
import { TARGET_STATUSES } from "../core/domain.js";
import { KIND_IDS, listKinds } from "../kinds/registry.js";
import type { ReportFilters } from "../core/report/build.js";
import { REPORT_FORMATS } from "../core/report/render.js";

/**
 * The compliance report's query string: format and filters, validated so a bad parameter gets a 400 with the
 * reason, never a 500 and never a silently ignored filter.
 */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const list = <T extends z.ZodType<string, string>>(item: T) =>
  z
    .string()
    .max(2000)
    .transform((s) => s.split(",").map((v) => v.trim()).filter(Boolean))
    .pipe(z.array(item).min(1).max(100));

const querySchema = z
  .object({
    format: z.enum(REPORT_FORMATS, { message: `format must be one of ${REPORT_FORMATS.join(", ")}` }).default("json"),
    subscription: list(z.string().regex(GUID, { message: "subscription must be a subscription GUID" })).optional(),
    kind: list(z.enum(KIND_IDS, { message: `kind must be ${listKinds()}` })).optional(),
    status: list(z.enum(TARGET_STATUSES, { message: "status must be compliant, remediated, noncompliant, exempt or error" })).optional(),
    rule: list(z.string().refine((id) => RULES.some((r) => r.id === id), { message: "rule must be a rule id from the catalog" })).optional(),
    scan: z.string().regex(/^[A-Za-z0-9-]{1,80}$/, { message: "scan must be a scan id: 1-80 letters, digits or hyphens" }).optional(),
    top: z.coerce.number({ message: "top must be a whole number from 1 to 1000" }).int({ message: "top must be a whole number from 1 to 1000" }).min(1, { message: "top must be a whole number from 1 to 1000" }).max(1000, { message: "top must be a whole number from 1 to 1000" }).optional(),
    continuation: z.string().regex(/^[A-Za-z0-9_-]{1,2000}$/, { message: "continuation must be the token a previous page gave" }).optional(),
  })
  .strict();

export type ReportQuery = {
  format: (typeof REPORT_FORMATS)[number];
  filters: ReportFilters;
  /** A closed scan's id; default: the latest closed scan. */
  scanId?: string;
  page?: { top?: number; continuation?: string };
};

export function parseReportQuery(params: Iterable<[string, string]>): { ok: true; query: ReportQuery } | { ok: false; reason: string } {
  const raw: Record<string, string> = {};
  for (const [key, value] of params) {
    // The Functions host authenticates `?code=<function key>` but leaves it in the query string.
    if (key === "code") continue;
    if (key in raw) return { ok: false, reason: `parameter '${key}' is given more than once; use a comma-separated list` };
    raw[key] = value;
  }
  const parsed = querySchema.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, reason: parsed.error.issues.map((i) => (i.code === "unrecognized_keys" ? `unknown parameter(s): ${i.keys.join(", ")}` : `${i.path.join(".")}: ${i.message}`)).join("; ") };
  }
  const q = parsed.data;
  return {
    ok: true,
    query: {
      format: q.format,
      filters: {
        ...(q.subscription ? { subscriptionIds: q.subscription } : {}),
        ...(q.kind ? { kinds: q.kind } : {}),
        ...(q.status ? { statuses: q.status } : {}),
        ...(q.rule ? { ruleIds: q.rule } : {}),
      },
      ...(q.scan ? { scanId: q.scan } : {}),
      ...(q.top !== undefined || q.continuation ? { page: { ...(q.top !== undefined ? { top: q.top } : {}), ...(q.continuation ? { continuation: q.continuation } : {}) } } : {}),
    },
  };
}
