import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, verify } from "node:crypto";
import type { KeyObject } from "node:crypto";

/**
 * Access tokens as Entra ID issues them to a managed identity: RS256 JWTs with iss/aud/exp/nbf/oid/tid.
 * The emulator's identity endpoint issues them and its ARM, Log Analytics and TDS endpoints verify them, so a
 * request with a wrong, expired or missing token fails the way Azure fails it.
 */
export interface TokenClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  oid: string;
  sub: string;
  tid: string;
  appid?: string;
  idtyp?: string;
  name?: string;
  upn?: string;
  xms_mirid?: string;
  [claim: string]: unknown;
}

export type TokenFailure =
  | { reason: "malformed"; message: string }
  | { reason: "signature"; message: string }
  | { reason: "issuer"; message: string }
  | { reason: "audience"; message: string; audience: string }
  | { reason: "expired"; message: string; expiredAt: Date }
  | { reason: "not-yet-valid"; message: string };

export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; failure: TokenFailure };

const b64url = (data: Buffer | string): string => Buffer.from(data).toString("base64url");

export class TokenAuthority {
  readonly tenantId: string;
  readonly issuer: string;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;
  private readonly keyId: string;

  constructor(options: { tenantId?: string; privateKeyPem?: string } = {}) {
    this.tenantId = options.tenantId ?? randomUUID();
    this.issuer = `https://sts.windows.net/${this.tenantId}/`;
    if (options.privateKeyPem) {
      this.privateKey = createPrivateKey(options.privateKeyPem);
    } else {
      this.privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    }
    this.publicKey = createPublicKey(this.privateKey);
    this.keyId = randomUUID();
  }

  /** Issues a token for `resource` (the audience, e.g. https://management.azure.com/). */
  issue(resource: string, identity: { oid: string; appid?: string; name?: string; upn?: string; mirid?: string }, lifetimeSeconds = 3600, nowMs = Date.now()): { token: string; claims: TokenClaims } {
    const now = Math.floor(nowMs / 1000);
    const claims: TokenClaims = {
      aud: resource,
      iss: this.issuer,
      iat: now,
      nbf: now - 300,
      exp: now + lifetimeSeconds,
      oid: identity.oid,
      sub: identity.oid,
      tid: this.tenantId,
      ...(identity.appid ? { appid: identity.appid, idtyp: "app" } : {}),
      ...(identity.name ? { name: identity.name } : {}),
      ...(identity.upn ? { upn: identity.upn } : {}),
      ...(identity.mirid ? { xms_mirid: identity.mirid } : {}),
    };
    const header = { typ: "JWT", alg: "RS256", kid: this.keyId };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign("sha256", Buffer.from(signingInput), this.privateKey);
    return { token: `${signingInput}.${b64url(signature)}`, claims };
  }

  // Tokens whose signature already checked out, by their exact text: a client sends the same token thousands of
  // times an hour, and an RSA verification per request was the emulator's largest cost after TLS. Everything
  // else (issuer, lifetime, audience) is still checked on every request.
  private readonly signatureChecked = new Map<string, TokenClaims>();

  /**
   * Verifies signature, issuer, expiry and that the audience is one of `audiences` (compared without a trailing
   * slash, as Azure accepts both forms).
   */
  verify(token: string, audiences: readonly string[], nowMs = Date.now()): TokenCheck {
    let claims = this.signatureChecked.get(token);
    if (!claims) {
      const checked = this.checkSignature(token);
      if (!checked.ok) return checked;
      claims = checked.claims;
      if (this.signatureChecked.size >= 1024) this.signatureChecked.delete(this.signatureChecked.keys().next().value!);
      this.signatureChecked.set(token, claims);
    }
    return this.checkClaims(claims, audiences, nowMs);
  }

  private checkSignature(token: string): TokenCheck {
    const parts = token.split(".");
    if (parts.length !== 3) return { ok: false, failure: { reason: "malformed", message: "The token is not a JWT." } };
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    let claims: TokenClaims;
    try {
      const header = JSON.parse(Buffer.from(headerPart, "base64url").toString("utf8")) as { alg?: string };
      if (header.alg !== "RS256") return { ok: false, failure: { reason: "malformed", message: `Unsupported alg ${String(header.alg)}.` } };
      claims = JSON.parse(Buffer.from(payloadPart, "base64url").toString("utf8")) as TokenClaims;
    } catch {
      return { ok: false, failure: { reason: "malformed", message: "The token could not be decoded." } };
    }
    const valid = verify("sha256", Buffer.from(`${headerPart}.${payloadPart}`), this.publicKey, Buffer.from(signaturePart, "base64url"));
    if (!valid) return { ok: false, failure: { reason: "signature", message: "The token signature is invalid." } };
    return { ok: true, claims };
  }

  private checkClaims(claims: TokenClaims, audiences: readonly string[], nowMs: number): TokenCheck {
    if (claims.iss !== this.issuer) return { ok: false, failure: { reason: "issuer", message: `The token issuer '${String(claims.iss)}' is not trusted.` } };
    const now = Math.floor(nowMs / 1000);
    if (typeof claims.exp !== "number" || claims.exp <= now) {
      return { ok: false, failure: { reason: "expired", message: "The token is expired.", expiredAt: new Date((claims.exp ?? 0) * 1000) } };
    }
    if (typeof claims.nbf === "number" && claims.nbf > now) return { ok: false, failure: { reason: "not-yet-valid", message: "The token is not yet valid." } };
    const normalise = (a: string) => a.replace(/\/+$/, "").toLowerCase();
    if (!audiences.some((a) => normalise(a) === normalise(String(claims.aud)))) {
      return { ok: false, failure: { reason: "audience", message: "The token audience is not accepted.", audience: String(claims.aud) } };
    }
    return { ok: true, claims };
  }
}
