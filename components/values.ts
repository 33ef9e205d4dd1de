/**
 * Values both the configuration's schema (`config/`) and the specs (`specs/`) know: the MySQL
 * port, the TLS modes and key types, Kubernetes quantities. Here, below both, so that neither
 * imports the other for them.
 */

/** The MySQL port, the default of every server ferry dials or runs. */
export const mysqlPort = 3306;

/** How a MySQL session protects its connection: the data plane's TLSMode (package conn). */
export const tlsModes = ["disabled", "required", "verify-ca", "verify-identity"] as const;
export type TlsMode = (typeof tlsModes)[number];

/** The key types of the server's certificates (certs.KeyTypes): ECDSA P-256 is what every MySQL client accepts. */
export const tlsKeyTypes = ["ecdsa-p256", "ed25519", "rsa-2048"] as const;
export type TlsKeyType = (typeof tlsKeyTypes)[number];

const binaryUnits: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const decimalUnits: Record<string, number> = {
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  m: 1e-3,
};

/** A Kubernetes quantity (`10Gi`, `500M`) in bytes, as the config's schema accepts one. */
export function quantityBytes(quantity: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)$/.exec(quantity);
  if (!match) throw new Error(`not a Kubernetes quantity: ${quantity}`);
  const unit = match[2];
  const factor = unit === "" ? 1 : (binaryUnits[unit] ?? decimalUnits[unit]);
  if (factor === undefined) throw new Error(`not a Kubernetes quantity: ${quantity}`);
  return Math.floor(Number(match[1]) * factor);
}

/**
 * The server flavour and version an image reference names, as the preflight reads it:
 * `registry.example.com/db/mariadb:10.11.6-jammy` is "mariadb 10.11". "" for anything else (a
 * digest, an unfamiliar name): the collation check then has nothing to compare with.
 */
export function imageFlavour(image: string): string {
  const last = image.split("/").pop() ?? "";
  const [name, tag = ""] = last.split("@")[0].split(":");
  const version = /^(\d+)\.(\d+)/.exec(tag);
  if ((name !== "mariadb" && name !== "mysql") || !version) return "";
  return `${name} ${version[1]}.${version[2]}`;
}
