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

/** A certificate (PEM) and its key (PKCS #8 PEM). */
export interface SignedCertificate {
  readonly certificate: string;
  readonly key: string;
}

const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** Runs openssl in a fresh directory and removes it afterwards. */
function inTemporaryDirectory<T>(
  work: (openssl: (...args: string[]) => void, dir: string) => T,
): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-test-certs-"));
  try {
    return work((...args) => void execFileSync("openssl", args, { cwd: dir, stdio: "pipe" }), dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A server certificate for `names` (DNS names), ECDSA P-256, signed by the CA whose certificate and
 * key are given (PEM), valid `days`: as anyone holding that CA's key could make one.
 */
export function signedBy(
  ca: { readonly certificate: string; readonly key: string },
  names: readonly string[],
  days = 30,
): SignedCertificate {
  return inTemporaryDirectory((openssl, dir) => {
    const write = (name: string, content: string) =>
      fs.writeFileSync(path.join(dir, name), content, { mode: 0o600 });
    write("ca.crt", ca.certificate);
    write("ca.key", ca.key);
    write(
      "server.ext",
      `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n`,
    );
    openssl(
      "req",
      ...newKey,
      "-subj",
      `/CN=${names[0]}`,
      "-keyout",
      "key.pem",
      "-out",
      "server.csr",
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
      String(days),
      "-extfile",
      "server.ext",
      "-out",
      "server.crt",
    );
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-out", "server.key");
    const read = (file: string) => fs.readFileSync(path.join(dir, file), "utf8");
    return { certificate: read("server.crt"), key: read("server.key") };
  });
}

/**
 * A fresh CA and a server certificate for `names` (DNS names), ECDSA P-256, made by openssl: an
 * implementation independent of ferry's (package certs), for servers the tests run and CAs a user
 * would paste into the config.
 */
export function testCertificates(names: readonly string[]): TestCertificates {
  const ca = inTemporaryDirectory((openssl, dir) => {
    openssl(
      "req",
      "-x509",
      ...newKey,
      "-days",
      "30",
      "-subj",
      "/CN=ferry test CA",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
    );
    const read = (file: string) => fs.readFileSync(path.join(dir, file), "utf8");
    return { certificate: read("ca.crt"), key: read("ca.key") };
  });
  const server = signedBy(ca, names);
  return {
    caCertificate: ca.certificate,
    serverCertificate: server.certificate,
    serverKey: server.key,
  };
}

/** Writes a CA and a server's certificate and key into dir under the given file names (the key 0600). */
export function writeServerTlsFiles(
  dir: string,
  made: TestCertificates,
  files: { readonly ca: string; readonly certificate: string; readonly key: string },
): void {
  fs.writeFileSync(path.join(dir, files.ca), made.caCertificate);
  fs.writeFileSync(path.join(dir, files.certificate), made.serverCertificate);
  fs.writeFileSync(path.join(dir, files.key), made.serverKey, { mode: 0o600 });
}
