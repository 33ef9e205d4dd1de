import * as crypto from "node:crypto";

/**
 * The destination server's TLS certificates, made from the run's key: a CA of the run and a server
 * certificate it signs, both Ed25519.
 *
 * Why derived and not drawn: a Pulumi program runs again on every `pulumi up`, and certificates
 * drawn afresh each time would change the server's Secret (and restart the server) on every run.
 * Each key is HKDF-SHA256 of the run key with its own label, Ed25519 signs deterministically and
 * the validity is fixed, so one run key gives the same certificates byte for byte, and a new run id
 * (a new run key, `RunKey`) gives new ones: the certificates rotate with the run. The run key is a
 * secret known only to Pulumi's state and the destination's Jobs, which can read the server's key
 * anyway.
 */
export interface RunCertificates {
  /** The run's CA certificate (PEM), what clients trust. */
  readonly caCertificate: string;
  /** The server's certificate (PEM) for `dnsNames`, signed by the CA. */
  readonly serverCertificate: string;
  /** The server's private key (PKCS #8 PEM): a secret. */
  readonly serverKey: string;
}

// ---- DER, just what a certificate needs (X.690) ----

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const sequence = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);
const octetString = (bytes: Buffer) => tlv(0x04, bytes);
const bitString = (bytes: Buffer) => tlv(0x03, Buffer.from([0]), bytes);
const utf8String = (text: string) => tlv(0x0c, Buffer.from(text, "utf8"));
const booleanTrue = () => tlv(0x01, Buffer.from([0xff]));
const explicit = (n: number, item: Buffer) => tlv(0xa0 | n, item);

/** A non-negative INTEGER from big-endian bytes: no leading zeros but one before a high bit. */
function integer(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return tlv(0x02, trimmed[0] & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function objectIdentifier(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split(".").map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128))
      groups.unshift(0x80 | (v & 0x7f));
    bytes.push(...groups);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime before 2050, GeneralizedTime from then on (RFC 5280 4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  return date.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(iso.slice(2), "ascii"))
    : tlv(0x18, Buffer.from(iso, "ascii"));
}

const oid = {
  ed25519: "1.3.101.112",
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
};

const ed25519Algorithm = sequence(objectIdentifier(oid.ed25519));

function name(commonName: string): Buffer {
  return sequence(
    set(sequence(objectIdentifier(oid.organization), utf8String("ferry"))),
    set(sequence(objectIdentifier(oid.commonName), utf8String(commonName))),
  );
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(objectIdentifier(id), ...(critical ? [booleanTrue()] : []), octetString(value));
}

/** KeyUsage bits, first bit first: digitalSignature is bit 0, keyCertSign bit 5, cRLSign bit 6. */
function keyUsage(bits: number[]): Buffer {
  let byte = 0;
  for (const bit of bits) byte |= 0x80 >> bit;
  const unused = 7 - Math.max(...bits);
  return tlv(0x03, Buffer.from([unused, byte]));
}

// ---- keys ----

/** PKCS #8 wrapping of a raw Ed25519 seed (RFC 8410). */
const ed25519Pkcs8Prefix = Buffer.from("302e020100300506032b657004220420", "hex");

interface Ed25519Key {
  readonly privateKey: crypto.KeyObject;
  /** The SubjectPublicKeyInfo, DER. */
  readonly spki: Buffer;
  /** The 32 bytes of the public key, for key identifiers. */
  readonly raw: Buffer;
}

function derivedKey(runKey: Buffer, label: string): Ed25519Key {
  const seed = Buffer.from(crypto.hkdfSync("sha256", runKey, Buffer.alloc(0), label, 32));
  const privateKey = crypto.createPrivateKey({
    key: Buffer.concat([ed25519Pkcs8Prefix, seed]),
    format: "der",
    type: "pkcs8",
  });
  const spki = crypto.createPublicKey(privateKey).export({ type: "spki", format: "der" });
  return { privateKey, spki, raw: spki.subarray(spki.length - 32) };
}

const keyIdentifier = (key: Ed25519Key) => crypto.createHash("sha1").update(key.raw).digest();

// ---- certificates ----

/** The validity of every run certificate: fixed, so the same run key gives the same bytes. */
const notBefore = new Date(Date.UTC(2025, 0, 1));
/** RFC 5280's "no well-defined expiration date": the certificates end with their run. */
const notAfter = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));

interface CertificateArgs {
  readonly serial: Buffer;
  readonly subject: string;
  readonly issuer: string;
  readonly subjectKey: Ed25519Key;
  readonly issuerKey: Ed25519Key;
  readonly extensions: Buffer[];
}

function certificate(args: CertificateArgs): Buffer {
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(args.serial),
    ed25519Algorithm,
    name(args.issuer),
    sequence(time(notBefore), time(notAfter)),
    name(args.subject),
    args.subjectKey.spki,
    explicit(3, sequence(...args.extensions)),
  );
  const signature = crypto.sign(null, tbs, args.issuerKey.privateKey);
  return sequence(tbs, ed25519Algorithm, bitString(signature));
}

function serial(runKey: Buffer, label: string): Buffer {
  const digest = crypto.createHmac("sha256", runKey).update(`serial ${label}`).digest();
  digest[0] &= 0x7f; // positive, 16 bytes
  digest[0] |= 0x40; // and never shortened by a leading zero
  return digest.subarray(0, 16);
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * The run's CA and the server certificate for `dnsNames` (the first is its common name), from the
 * run key given as 64 hex digits.
 */
export function runCertificates(runKeyHex: string, dnsNames: readonly string[]): RunCertificates {
  if (!/^[0-9a-f]{64}$/.test(runKeyHex)) {
    throw new Error("the run key is not 64 hex digits");
  }
  if (dnsNames.length === 0) throw new Error("a server certificate needs at least one name");
  const runKey = Buffer.from(runKeyHex, "hex");
  const caKey = derivedKey(runKey, "ferry destination TLS: CA key");
  const serverKey = derivedKey(runKey, "ferry destination TLS: server key");
  // Named after its key, so a certificate of another run is told apart by its issuer.
  const caName = `ferry run CA ${keyIdentifier(caKey).subarray(0, 4).toString("hex")}`;

  const ca = certificate({
    serial: serial(runKey, "ca"),
    subject: caName,
    issuer: caName,
    subjectKey: caKey,
    issuerKey: caKey,
    extensions: [
      extension(oid.basicConstraints, true, sequence(booleanTrue())),
      extension(oid.keyUsage, true, keyUsage([5, 6])),
      extension(oid.subjectKeyIdentifier, false, octetString(keyIdentifier(caKey))),
    ],
  });
  const server = certificate({
    serial: serial(runKey, "server"),
    subject: dnsNames[0],
    issuer: caName,
    subjectKey: serverKey,
    issuerKey: caKey,
    extensions: [
      extension(oid.basicConstraints, true, sequence()),
      extension(oid.keyUsage, true, keyUsage([0])),
      extension(oid.extKeyUsage, false, sequence(objectIdentifier(oid.serverAuth))),
      extension(
        oid.subjectAltName,
        false,
        sequence(...dnsNames.map((dns) => tlv(0x82, Buffer.from(dns, "ascii")))),
      ),
      extension(oid.authorityKeyIdentifier, false, sequence(tlv(0x80, keyIdentifier(caKey)))),
    ],
  });
  return {
    caCertificate: pem("CERTIFICATE", ca),
    serverCertificate: pem("CERTIFICATE", server),
    serverKey: serverKey.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

/**
 * The names a server behind Service `service` in `namespace` is dialled by: the short name the
 * Jobs in its namespace use, and the qualified ones applications elsewhere use.
 */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}
