import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** A CA and a server certificate it signs, as PEM: what a test's servers serve and trust. */
export interface TestCertificates {
  readonly caCertificate: string;
  readonly serverCertificate: string;
  readonly serverKey: string;
}

/**
 * A fresh CA and a server certificate for `names` (DNS names), ECDSA P-256, made by openssl: an
 * implementation independent of ferry's (package certs), for servers the tests run and CAs a user
 * would paste into the config.
 */
export function testCertificates(names: readonly string[]): TestCertificates {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-test-certs-"));
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  try {
    const curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(
      "req",
      "-x509",
      ...curve,
      "-days",
      "30",
      "-subj",
      "/CN=ferry test CA",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
    );
    openssl(
      "req",
      ...curve,
      "-subj",
      `/CN=${names[0]}`,
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
    );
    fs.writeFileSync(
      path.join(dir, "server.ext"),
      `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n`,
    );
    openssl(
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "30",
      "-extfile",
      "server.ext",
      "-out",
      "server.crt",
    );
    const read = (file: string) => fs.readFileSync(path.join(dir, file), "utf8");
    return {
      caCertificate: read("ca.crt"),
      serverCertificate: read("server.crt"),
      serverKey: read("server.key"),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
