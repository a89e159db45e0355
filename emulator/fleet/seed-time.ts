/**
 * Datetime values of a fleet's seed rows: an ISO 8601 date-time, or a negative ISO 8601 duration relative to the
 * emulator's start (`-PT20M`, `-P1DT2H`), so demo rows are always recent.
 */
const RELATIVE = /^-P(?!$)(?:(\d+(?:\.\d+)?)D)?(?:T(?=\d)(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** The seed columns that hold datetimes (AzureDiagnostics' `_t` suffix, TimeGenerated, EventTime). */
export const SEED_DATE_COLUMN = /(_t|^TimeGenerated|^EventTime)$/;

export function parseSeedTime(value: unknown, start: Date): Date | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value;
  if (typeof value !== "string") return undefined;
  const relative = RELATIVE.exec(value.trim());
  if (relative) {
    const [, d, h, m, s] = relative.map((x) => Number(x ?? 0));
    return new Date(start.getTime() - (((d! * 24 + h!) * 60 + m!) * 60 + s!) * 1000);
  }
  if (!/^\d{4}-\d\d-\d\d/.test(value)) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
