import { generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";

/**
 * The emulator's own certificate authority. Clients trust its CA certificate explicitly (tlsOptions.ca,
 * cryptoCredentialsDetails.ca or NODE_EXTRA_CA_CERTS) so certificate verification stays on everywhere,
 * exactly as against Azure.
 */
export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

// Key generation is native (node:crypto) because forge's pure-JS RSA generation costs seconds per key.
function newRsaKey(): { keyPem: string; publicKey: forge.pki.PublicKey; privateKey: forge.pki.PrivateKey } {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(keyPem);
  return { keyPem, privateKey: forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e) };
}

function serial(): string {
  // A positive serial: clear the top bit so DER does not read it as negative.
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString("hex");
}

function validity(cert: forge.pki.Certificate, days: number): void {
  const notBefore = new Date(Date.now() - 60 * 60 * 1000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + days * 24 * 60 * 60 * 1000);
}

export function createCertificateAuthority(commonName = "AuditGuard Emulator Root CA", days = 30): CertificateAuthority {
  const key = newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = key.publicKey;
  cert.serialNumber = serial();
  validity(cert, days);
  const subject = [{ name: "commonName", value: commonName }, { name: "organizationName", value: "AuditGuard emulator" }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(key.privateKey as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: key.keyPem };
}

export interface LeafRequest {
  commonName: string;
  dnsNames: string[];
  ipAddresses?: string[];
  days?: number;
}

/** Issues a TLS server certificate signed by the CA, with the given subject alternative names. */
export function issueServerCertificate(ca: CertificateAuthority, request: LeafRequest): IssuedCertificate {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const key = newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = key.publicKey;
  cert.serialNumber = serial();
  validity(cert, request.days ?? 30);
  cert.setSubject([{ name: "commonName", value: request.commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [
    ...request.dnsNames.map((value) => ({ type: 2, value })),
    ...(request.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames },
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: key.keyPem };
}
