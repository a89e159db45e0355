import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:https";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { createCertificateAuthority, issueServerCertificate } from "../../emulator/tls/certificates.js";
import { TokenAuthority } from "../../emulator/identity/tokens.js";

test("a leaf certificate from the emulator CA is trusted by a client that trusts only that CA", async () => {
  const ca = createCertificateAuthority();
  const leaf = issueServerCertificate(ca, { commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  const server = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const get = (ca?: string) =>
    new Promise<string>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path: "/", ca, servername: "localhost" }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve(body));
      });
      req.on("error", reject);
      req.end();
    });
  try {
    assert.equal(await get(ca.certPem), "ok");
    await assert.rejects(get(undefined), /self[- ]signed|unable to verify|certificate/i);
  } finally {
    server.close();
  }
});

test("tokens verify only with the right issuer, audience, signature and lifetime", () => {
  const authority = new TokenAuthority();
  const { token } = authority.issue("https://management.azure.com/", { oid: "11111111-1111-1111-1111-111111111111" });
  const ok = authority.verify(token, ["https://management.azure.com"]);
  assert.equal(ok.ok, true);
  const wrongAudience = authority.verify(token, ["https://database.windows.net/"]);
  assert.deepEqual(wrongAudience.ok ? null : wrongAudience.failure.reason, "audience");
  const other = new TokenAuthority({ tenantId: authority.tenantId });
  const forged = other.issue("https://management.azure.com/", { oid: "x" }).token;
  const forgedCheck = authority.verify(forged, ["https://management.azure.com/"]);
  assert.equal(forgedCheck.ok ? null : forgedCheck.failure.reason, "signature");
  const expired = authority.issue("https://management.azure.com/", { oid: "x" }, 60, Date.now() - 3_600_000).token;
  const expiredCheck = authority.verify(expired, ["https://management.azure.com/"]);
  assert.equal(expiredCheck.ok ? null : expiredCheck.failure.reason, "expired");
  const malformed = authority.verify("not-a-token", ["https://management.azure.com/"]);
  assert.equal(malformed.ok ? null : malformed.failure.reason, "malformed");
});
