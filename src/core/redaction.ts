/**
 * Scrubs credentials out of text that AuditGuard passes on: audited T-SQL statements (a CREATE CREDENTIAL or a
 * BACKUP TO URL can carry a SAS token), SQL and HTTP error messages (an ARM error may echo a storage key),
 * connection strings. Reports, logs, stored results and events only ever carry text that went through here, and
 * the publish guard refuses what would still change under it.
 */

// Between a T-SQL keyword and its value: whitespace, block comments and line comments ("Comments (Transact-SQL)").
// Bounded, so a long unclosed comment cannot make the scrubber crawl.
const GAP = String.raw`(?:\s|/\*[\s\S]{0,500}?\*/|--[^\n]{0,500}(?:\n|$)){0,20}`;
// A T-SQL literal: N'…' with '' escapes, "…" (a string when QUOTED_IDENTIFIER is OFF) with "" escapes, a binary
// 0x… (CREATE LOGIN … PASSWORD = 0x… HASHED), or a quote cut off by truncation (the audit keeps 4,000 characters).
const LITERAL = String.raw`(?:N?'(?:[^']|'')*(?:'|$)|"(?:[^"]|"")*(?:"|$)|0x[0-9A-Fa-f]+)`;
// IDENTITY names the kind of credential; these two values are evidence, not secrets ("CREATE CREDENTIAL").
const KNOWN_IDENTITIES = /^N?'(SHARED ACCESS SIGNATURE|Managed Identity)'$/i;

const TSQL_SECRET = new RegExp(String.raw`\b(SECRET|PASSWORD|IDENTITY_SECRET|IDENTITY)(${GAP}=${GAP})(${LITERAL})`, "gi");

type Rule = [RegExp, string | ((match: string, ...groups: string[]) => string)];

const RULES: readonly Rule[] = [
  [
    TSQL_SECRET,
    (match: string, keyword: string, gap: string, literal: string) => {
      if (/^IDENTITY$/i.test(keyword) && KNOWN_IDENTITIES.test(literal)) return match;
      const redacted = literal.startsWith('"') ? '"[REDACTED]"' : literal.startsWith("0x") ? "'[REDACTED]'" : literal.startsWith("N") ? "N'[REDACTED]'" : "'[REDACTED]'";
      return `${keyword}${gap}${redacted}`;
    },
  ],
  // SAS query parameters: sig (the signature) is the secret part; keep the rest readable.
  [/([?&]sig=)(?!\[REDACTED\])[^&\s'"]+/gi, "$1[REDACTED]"],
  // Connection-string style keys.
  [/\b(AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd|ClientSecret)=(?!\[REDACTED\])([^;'"\s]+)/gi, "$1=[REDACTED]"],
  // JSON style keys.
  [/("(?:storageAccountAccessKey|password|secret|clientSecret|access_token|accessToken|refresh_token)"\s*:\s*")(?!\[REDACTED\])[^"]*(")/gi, "$1[REDACTED]$2"],
  // A storage account key on its own, as an ARM error can echo it: 64 bytes in base64 are 86 characters and "==".
  [/(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])/g, "[REDACTED-KEY]"],
  // Bearer tokens and bare JWTs.
  [/\bBearer\s+(?!\[REDACTED\])[A-Za-z0-9._~+/-]+=*/g, "Bearer [REDACTED]"],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/g, "[REDACTED-JWT]"],
];

export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement as never);
  return out;
}

/** Redacts every string inside a value (a result, an event's data) without changing its shape. */
export function redactDeep<T>(value: T): T {
  if (typeof value === "string") return redact(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redactDeep(v)])) as T;
  }
  return value;
}

/**
 * The pattern of the first credential still in `text`, or undefined: the publish guard and the tests use it. It is
 * exactly "redaction would change this text", so the guard and the scrubber can never disagree.
 */
export function findSecret(text: string): RegExp | undefined {
  for (const [pattern, replacement] of RULES) {
    pattern.lastIndex = 0;
    if (text.replace(pattern, replacement as never) !== text) return pattern;
  }
  return undefined;
}
