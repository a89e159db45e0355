/**
 * Scrubs credentials out of text that AuditGuard passes on: audited T-SQL statements (a CREATE CREDENTIAL or a
 * BACKUP TO URL can carry a SAS token), SQL and HTTP error messages, connection strings. Reports, logs and
 * events only ever carry text that went through here.
 */
const RULES: ReadonlyArray<[RegExp, string]> = [
  // T-SQL: SECRET = '...' / PASSWORD = N'...' (CREATE CREDENTIAL, CREATE LOGIN, ALTER LOGIN ...)
  [/\b(SECRET|PASSWORD|IDENTITY_SECRET)(\s*=\s*N?)'(?:[^']|'')*'/gi, "$1$2'[REDACTED]'"],
  // SAS query parameters: sig (the signature) is the secret part; keep the rest readable.
  [/([?&]sig=)[^&\s'"]+/gi, "$1[REDACTED]"],
  // Connection-string style keys.
  [/\b(AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd|ClientSecret)=([^;'"\s]+)/gi, "$1=[REDACTED]"],
  // JSON style keys.
  [/("(?:storageAccountAccessKey|password|secret|clientSecret|access_token|accessToken|refresh_token)"\s*:\s*")[^"]*(")/gi, "$1[REDACTED]$2"],
  // Bearer tokens and bare JWTs.
  [/\bBearer\s+[A-Za-z0-9._~+/-]+=*/g, "Bearer [REDACTED]"],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/g, "[REDACTED-JWT]"],
];

export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  return out;
}

/** Patterns that must never appear in anything AuditGuard writes; used by tests and the publish guard. */
export const SECRET_PATTERNS: readonly RegExp[] = [
  /[?&]sig=(?!\[REDACTED\])[A-Za-z0-9%+/=]{10,}/i,
  /\bAccountKey=(?!\[REDACTED\])[A-Za-z0-9+/=]{20,}/i,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/,
  /\b(SECRET|PASSWORD)\s*=\s*N?'(?!\[REDACTED\])[^']+'/i,
];

export function findSecret(text: string): RegExp | undefined {
  return SECRET_PATTERNS.find((pattern) => pattern.test(text));
}
