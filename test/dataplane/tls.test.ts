import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testCertificates, writeServerTlsFiles } from "../support/certificates";
import { serverTlsSettings, tlsFiles } from "../../components/specs/database";
import { DataPlane } from "../support/fixture";
import { runScript } from "../support/servers";

/**
 * TLS between the data plane and the three servers: each MariaDB server serves a certificate of a
 * test CA (openssl, `testCertificates`) with ferry's server settings, so every
 * TCP session must be TLS, and MinIO serves https only with the same certificate; the dump, the
 * import and the verification check each certificate as they are told to.
 */

const bucket = "ferry-tls";
let plane: DataPlane;
let certificatesDir: string;
let otherCaFile: string;

/** The name both servers' certificates carry and the data plane dials. */
const serverName = "localhost";

beforeAll(async () => {
  certificatesDir = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-tls-"));
  const made = testCertificates([serverName]);
  writeServerTlsFiles(certificatesDir, made, tlsFiles);
  otherCaFile = path.join(certificatesDir, "other-ca.crt");
  fs.writeFileSync(otherCaFile, testCertificates([serverName]).caCertificate);
  // MinIO too serves https only, with the same certificate: every step checks it against the CA.
  plane = await DataPlane.start(
    "tls",
    bucket,
    `t'pw ${Math.random()}`,
    [...serverTlsSettings(certificatesDir)],
    { certificate: made.serverCertificate, key: made.serverKey, caCert: made.caCertificate },
  );
  plane.source.must(`CREATE DATABASE app;
    CREATE TABLE app.notes (id INT PRIMARY KEY, body VARCHAR(20));
    INSERT INTO app.notes VALUES (1, 'over TLS'), (2, 'only');`);
}, 120_000);

afterAll(async () => {
  await plane?.stop();
  if (certificatesDir) fs.rmSync(certificatesDir, { recursive: true, force: true });
});

const caFile = () => path.join(certificatesDir, tlsFiles.ca);

/** How a step of `side` (SOURCE or DEST) dials its server and checks it. */
function tlsEnv(
  side: "SOURCE" | "DEST",
  mode: string,
  ca?: string,
  host = serverName,
): Record<string, string> {
  return {
    [`${side}_HOST`]: host,
    [`${side}_TLS`]: mode,
    ...(ca ? { [`${side}_TLS_CA_FILE`]: ca } : {}),
  };
}

describe("TLS to the servers", () => {
  it("dumps, imports and verifies with every session verified against the run's CA", async () => {
    const dumped = await runScript("dump.sh", {
      ...plane.dumpEnv("tls-ok", "app"),
      ...tlsEnv("SOURCE", "verify-identity", caFile()),
    });
    expect(dumped.status, dumped.stderr).toBe(0);
    for (const script of ["import.sh", "verify.sh"]) {
      const ran = await runScript(script, {
        ...plane.destinationEnv("tls-ok"),
        ...tlsEnv("DEST", "verify-identity", caFile()),
      });
      expect(ran.status, `${script}: ${ran.stderr}`).toBe(0);
    }
    expect(plane.destination.must("SELECT body FROM app.notes ORDER BY id")).toBe(
      "over TLS\nonly\n",
    );
    // The servers counted TLS sessions: the data plane's own and its tools'.
    for (const server of [plane.source, plane.destination]) {
      const accepted = Number(server.must("SHOW GLOBAL STATUS LIKE 'Ssl_accepts'").split("\t")[1]);
      expect(accepted).toBeGreaterThan(1);
    }
  }, 120_000);

  it("is refused by the servers in plaintext", async () => {
    const dumped = await runScript("dump.sh", {
      ...plane.dumpEnv("tls-plain", "app"),
      ...tlsEnv("SOURCE", "disabled"),
    });
    expect(dumped.status).not.toBe(0);
    expect(dumped.stderr).toContain("ferry:source.tls if the server requires TLS");
    expect(plane.keysUnder("runs/tls-plain/")).toEqual([]);
  }, 60_000);

  it("refuses a server whose certificate another CA signed, naming the setting", async () => {
    const dumped = await runScript("dump.sh", {
      ...plane.dumpEnv("tls-other-ca", "app"),
      ...tlsEnv("SOURCE", "verify-ca", otherCaFile),
    });
    expect(dumped.status).not.toBe(0);
    expect(dumped.stderr).toContain("refused the server's TLS certificate");
    expect(dumped.stderr).toContain("ferry:source.tls");
    expect(plane.keysUnder("runs/tls-other-ca/")).toEqual([]);

    const imported = await runScript("import.sh", {
      ...plane.destinationEnv("tls-ok"),
      ...tlsEnv("DEST", "verify-identity", otherCaFile),
    });
    expect(imported.status).not.toBe(0);
    expect(imported.stderr).toContain("refused the server's TLS certificate");
  }, 60_000);

  it("refuses a certificate for another name under verify-identity, takes it under verify-ca", async () => {
    const wrongName = await runScript("dump.sh", {
      ...plane.dumpEnv("tls-name", "app"),
      ...tlsEnv("SOURCE", "verify-identity", caFile(), "127.0.0.1"),
    });
    expect(wrongName.status).not.toBe(0);
    expect(wrongName.stderr).toContain("refused the server's TLS certificate");

    const anyName = await runScript("dump.sh", {
      ...plane.dumpEnv("tls-ca-only", "app"),
      ...tlsEnv("SOURCE", "verify-ca", caFile(), "127.0.0.1"),
    });
    expect(anyName.status, anyName.stderr).toBe(0);
  }, 120_000);
});

describe("TLS to the object store", () => {
  it("stored and read the run above over https, checked against the store's CA", () => {
    expect(plane.minio.url).toMatch(/^https:\/\/localhost:/);
    expect(plane.keysUnder("runs/tls-ok/")).toContain("runs/tls-ok/manifest.json");
  });

  it("refuses a store whose certificate another CA signed, at once and naming objectStore.caCert", async () => {
    const otherCa = fs.readFileSync(otherCaFile, "utf8");
    const started = Date.now();
    const dumped = await runScript("dump.sh", {
      ...plane.dumpEnv("tls-store-other-ca", "app"),
      ...tlsEnv("SOURCE", "verify-identity", caFile()),
      S3_CA_CERT: otherCa,
    });
    expect(dumped.status).not.toBe(0);
    expect(dumped.stderr).toContain("the object store's TLS certificate was refused");
    expect(dumped.stderr).toContain("ferry:objectStore.caCert");
    expect(plane.keysUnder("runs/tls-store-other-ca/")).toEqual([]);

    // The import reads a stored run through a store it cannot trust: refused, not waited out as a
    // store that is down (its patience is 30 s).
    const imported = await runScript("import.sh", {
      ...plane.destinationEnv("tls-ok"),
      ...tlsEnv("DEST", "verify-identity", caFile()),
      S3_CA_CERT: otherCa,
    });
    expect(imported.status).not.toBe(0);
    expect(imported.stderr).toContain("ferry:objectStore.caCert");
    expect(Date.now() - started).toBeLessThan(25_000);
  }, 60_000);

  it("refuses a client that trusts only the system's CAs, and one that speaks plain http", async () => {
    const systemOnly: Record<string, string> = plane.dumpEnv("tls-store-system", "app");
    delete systemOnly.S3_CA_CERT;
    const dumped = await runScript("dump.sh", {
      ...systemOnly,
      ...tlsEnv("SOURCE", "verify-identity", caFile()),
    });
    expect(dumped.status).not.toBe(0);
    expect(dumped.stderr).toContain("ferry:objectStore.caCert");
    const plain = await runScript("dump.sh", {
      ...plane.dumpEnv("tls-store-plain", "app"),
      ...tlsEnv("SOURCE", "verify-identity", caFile()),
      S3_ENDPOINT: plane.minio.url.replace("https:", "http:"),
    });
    expect(plain.status).not.toBe(0);
    expect(plane.keysUnder("runs/tls-store-system/")).toEqual([]);
    expect(plane.keysUnder("runs/tls-store-plain/")).toEqual([]);
  }, 60_000);
});
