import type { EmulatorRequest, EmulatorResponse } from "../http-contracts.js";
import type { TokenAuthority, TokenClaims } from "../identity/tokens.js";
import { armError } from "./errors.js";

/** The audiences ARM accepts, in the order its InvalidAuthenticationTokenAudience message lists them. */
export const ARM_AUDIENCES = [
  "https://management.core.windows.net/",
  "https://management.core.windows.net",
  "https://management.azure.com/",
  "https://management.azure.com",
] as const;

function challenge(description: string): Record<string, string> {
  return {
    "www-authenticate": `Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="${description}"`,
  };
}

function utc(date: Date): string {
  // .NET's invariant "G" format, as ARM prints it: 5/14/2023 3:48:01 PM
  const h = date.getUTCHours();
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getUTCMonth() + 1}/${date.getUTCDate()}/${date.getUTCFullYear()} ${h % 12 === 0 ? 12 : h % 12}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} ${h < 12 ? "AM" : "PM"}`;
}

export type AuthResult = { ok: true; claims: TokenClaims } | { ok: false; response: EmulatorResponse };

/** Verifies the bearer token of an ARM request the way ARM does, answering its 401s. */
export function authenticateArm(
  request: EmulatorRequest,
  authority: TokenAuthority,
  nowMs: number,
  audiences: readonly string[] = ARM_AUDIENCES,
): AuthResult {
  const header = request.headers["authorization"];
  if (!header) {
    return {
      ok: false,
      response: armError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.", challenge("The authentication failed because of missing 'Authorization' header.")),
    };
  }
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match) {
    return {
      ok: false,
      response: armError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is provided in an invalid format.", challenge("The authentication failed because of the 'Authorization' header format.")),
    };
  }
  const check = authority.verify(match[1]!, audiences, nowMs);
  if (check.ok) return check;
  const failure = check.failure;
  switch (failure.reason) {
    case "expired":
      return {
        ok: false,
        response: armError(
          401,
          "ExpiredAuthenticationToken",
          `The access token expiry UTC time '${utc(failure.expiredAt)}' is earlier than current UTC time '${utc(new Date(nowMs))}'.`,
          challenge("The access token has expired."),
        ),
      };
    case "audience":
      return {
        ok: false,
        response: armError(
          401,
          "InvalidAuthenticationTokenAudience",
          `The access token has been obtained for wrong audience or resource '${failure.audience}'. It should exactly match with one of the allowed audiences ${audiences.map((a) => `'${a}'`).join(",")}.`,
          challenge("The access token has been obtained for wrong audience or resource."),
        ),
      };
    default:
      return { ok: false, response: armError(401, "InvalidAuthenticationToken", "The access token is invalid.", challenge("The access token is invalid.")) };
  }
}
