import * as crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { runCertificates, serviceDnsNames } from "../../components/specs/certificates";

const runKey = "7f".repeat(32);
const names = serviceDnsNames("mysql", "ferry");

describe("the destination's run certificates", () => {
  const made = runCertificates(runKey, names);
  const ca = new crypto.X509Certificate(made.caCertificate);
  const server = new crypto.X509Certificate(made.serverCertificate);

  it("are a CA and a server certificate it signed, for every name the server is dialled by", () => {
    expect(ca.ca).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.checkIssued(ca)).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    for (const name of names) expect(server.checkHost(name)).toBe(name);
    expect(server.checkHost("mysql.other.svc")).toBeUndefined();
    expect(server.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(server.subjectAltName).toBe(names.map((n) => `DNS:${n}`).join(", "));
  });

  it("hold the server's key: the private key matches the certificate", () => {
    const key = crypto.createPrivateKey(made.serverKey);
    expect(key.asymmetricKeyType).toBe("ed25519");
    expect(crypto.createPublicKey(key).export({ type: "spki", format: "der" })).toEqual(
      server.publicKey.export({ type: "spki", format: "der" }),
    );
  });

  it("are the same bytes for the same run key, and others for another run (they rotate with it)", () => {
    expect(runCertificates(runKey, names)).toEqual(made);
    const next = runCertificates("80".repeat(32), names);
    expect(next.caCertificate).not.toBe(made.caCertificate);
    expect(next.serverKey).not.toBe(made.serverKey);
    expect(server.verify(new crypto.X509Certificate(next.caCertificate).publicKey)).toBe(false);
  });

  it("are valid from a fixed day on and do not expire before their run ends", () => {
    expect(new Date(server.validFrom).getTime()).toBe(Date.UTC(2025, 0, 1));
    expect(new Date(server.validTo).getUTCFullYear()).toBe(9999);
  });

  it("refuse a run key that is not 64 hex digits and a server without a name", () => {
    expect(() => runCertificates("abc", names)).toThrow("64 hex digits");
    expect(() => runCertificates(runKey, [])).toThrow("at least one name");
  });
});
