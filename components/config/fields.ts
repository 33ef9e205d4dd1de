import { X509Certificate } from "node:crypto";
import * as sshpk from "sshpk";
import { z } from "zod";
import { quantityBytes, tlsModes } from "../values";

/** The field types every section shares: names, sizes, labels, keys, certificates, TLS. */

// A database name as MySQL and MariaDB accept one: the data plane gets the list as JSON and quotes
// every name, so spaces, quotes and glob characters are names like any other.
export const mysqlIdentifier = z
  .string({ error: "must be a string" })
  .refine((name) => [...name].length >= 1 && [...name].length <= 64, {
    error: "must be a database name of 1 to 64 characters",
  })
  .refine((name) => !name.endsWith(" "), {
    error: "must not end with a space (MySQL does not allow it in a database name)",
  })
  .refine((name) => !name.includes("\0"), { error: "must not contain a NUL character" })
  .refine((name) => [...name].every((c) => c.codePointAt(0)! <= 0xffff), {
    error:
      "must not contain characters beyond U+FFFF such as emoji (MySQL and MariaDB store names in 3-byte UTF-8)",
  });

export const dnsLabel = z
  .string({ error: "must be a string" })
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
    error: "must be a DNS label: lowercase letters, digits and inner dashes, at most 63 characters",
  });

/** Kubernetes' DNS-1123 subdomain (apimachinery's IsDNS1123Subdomain): what a claim's name must be. */
export const dnsSubdomain = z
  .string({ error: "must be a string" })
  .max(253, { error: "must be at most 253 characters" })
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    error:
      "must be a DNS subdomain, as a claim's name is: lowercase letters, digits, inner dashes and dots",
  });

/** Kubernetes' DNS-1035 label (apimachinery's IsDNS1035Label): what a Service's name must be. */
export const serviceNameLabel = z
  .string({ error: "must be a string" })
  .regex(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/, {
    error:
      "must be a DNS-1035 label, as a Service's name is: a lowercase letter first, then lowercase letters, digits and inner dashes, at most 63 characters",
  });

export const quantity = z
  .string({ error: "must be a string" })
  .regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/, {
    error: "must be a Kubernetes quantity such as 500m, 1Gi or 20Gi",
  });

/** The least memory a MySQL or MariaDB server starts in with the buffers ferry sets. */
export const smallestMemory = "256Mi";

/** A memory size: whole bytes (no m, a thousandth), enough for the server to start. */
export const memorySize = z.string({ error: "must be a string" }).refine(
  (size) => {
    if (!/^[0-9]+(\.[0-9]+)?(k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.test(size)) return false;
    return quantityBytes(size) >= quantityBytes(smallestMemory);
  },
  {
    error: `must be a memory size of at least ${smallestMemory} in whole bytes, such as 512Mi or 2Gi (the server needs that much to start)`,
  },
);

/** CPU cores: a number of cores or of millicores, from a hundredth of a core to a thousand. */
export const cpuCores = z.string({ error: "must be a string" }).refine(
  (cpu) => {
    const match = /^([0-9]+(?:\.[0-9]+)?)(m?)$/.exec(cpu);
    if (!match) return false;
    const cores = Number(match[1]) / (match[2] === "m" ? 1000 : 1);
    return cores >= 0.01 && cores <= 1000;
  },
  { error: "must be CPU cores between 10m and 1000, such as 250m, 1 or 2.5" },
);

/** A label's name and value as Kubernetes takes them (apimachinery's IsQualifiedName and IsValidLabelValue). */
export const labelName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
export const labelPrefix = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function labelKeyValid(key: string): boolean {
  const slash = key.lastIndexOf("/");
  const [prefix, name] = slash < 0 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (prefix !== undefined && (prefix.length > 253 || !labelPrefix.test(prefix))) return false;
  return name.length <= 63 && labelName.test(name);
}

/** Pod labels to select by: at least one, each key and value as Kubernetes takes them. */
export const podSelector = (empty: string) =>
  z.record(z.string(), z.string({ error: "must be a string" })).superRefine((labels, context) => {
    if (Object.keys(labels).length === 0) context.addIssue({ code: "custom", message: empty });
    for (const [key, value] of Object.entries(labels)) {
      if (!labelKeyValid(key)) {
        context.addIssue({
          code: "custom",
          message: `the label key ${JSON.stringify(key)} must be a name of at most 63 characters (letters, digits, -, _ and ., starting and ending with a letter or digit), with an optional DNS prefix and /`,
        });
      } else if (value.length > 63 || !labelValue.test(value)) {
        context.addIssue({
          code: "custom",
          message: `the value ${JSON.stringify(value)} of label ${key} must be at most 63 characters: letters, digits, -, _ and ., starting and ending with a letter or digit (or empty)`,
        });
      }
    }
  });

/** An SSH public key in the one-line OpenSSH form, parsed by sshpk (its algorithm and its key). */
export const sshPublicKey = z.string({ error: "must be a string" }).refine(
  (text) => {
    const [algorithm] = text.split(" ");
    try {
      const key = sshpk.parseKey(text, "ssh");
      // sshpk names the type (ed25519, ecdsa, rsa); the line's own algorithm must be that type's.
      return key.type === "rsa" ? algorithm === "ssh-rsa" : algorithm.includes(key.type);
    } catch {
      return false;
    }
  },
  {
    error:
      "must be the host's public key in one line, such as ssh-ed25519 AAAA... (ssh-keyscan -t ed25519 HOST prints it after the host name)",
  },
);

export const nonEmpty = z
  .string({ error: "must be a string" })
  .min(1, { error: "must not be empty" });
export const port = z
  .number({ error: "must be a number" })
  .int({ error: "must be a whole number" })
  .min(1, { error: "must be a port between 1 and 65535" })
  .max(65535, { error: "must be a port between 1 and 65535" });
export const image = nonEmpty.regex(/^[^\s]+$/, {
  error: "must be an image reference without spaces",
});
export const httpUrl = (example: string) =>
  z.url({ protocol: /^https?$/, error: `must be an http or https URL such as ${example}` });
export const stringMap = z.record(z.string(), z.string({ error: "must be a string" }));
export const systemDatabases = [
  "mysql",
  "information_schema",
  "performance_schema",
  "sys",
  "ferry",
];

export const pullPolicy = z
  .enum(["Always", "IfNotPresent", "Never"], { error: "must be Always, IfNotPresent or Never" })
  .default("IfNotPresent");

/** A key that belongs to another source mode: named, so the fix is obvious. */
export const otherModeOnly = (mode: string) =>
  z
    .never({ error: `is only read when mode is ${mode}; remove it, or set mode: ${mode}` })
    .optional();

/** A PEM certificate (or several), checked by Node's own parser. */
export const pemCertificates = z.string({ error: "must be a string" }).refine(
  (text) => {
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g);
    if (!blocks) return false;
    try {
      blocks.forEach((block) => new X509Certificate(block));
      return true;
    } catch {
      return false;
    }
  },
  { error: "must be the CA's certificate in PEM (-----BEGIN CERTIFICATE----- ...)" },
);

/**
 * How ferry's sessions with a MySQL server are protected: MySQL's --ssl-mode, verify-identity by
 * default. Anything weaker is an explicit choice, warned about at every run.
 */
export const tlsSchema = z
  .strictObject({
    mode: z
      .enum(tlsModes, { error: `must be one of ${tlsModes.join(", ")}` })
      .default("verify-identity")
      .describe(
        "verify-identity (the default): TLS, the certificate signed by caCert (or a CA the system trusts) and naming the host; verify-ca: signed, any name; required: encrypted, unchecked; disabled: plaintext",
      ),
    caCert: pemCertificates
      .optional()
      .describe("the CA that signs the server's certificate (PEM); none trusts the system's CAs"),
  })
  .superRefine((tls, context) => {
    if (tls.mode === "verify-ca" && tls.caCert === undefined) {
      context.addIssue({
        code: "custom",
        path: ["caCert"],
        message:
          "is required when mode is verify-ca (the MySQL and MariaDB clients check a chain only against a CA they are given)",
      });
    }
    if ((tls.mode === "disabled" || tls.mode === "required") && tls.caCert !== undefined) {
      context.addIssue({
        code: "custom",
        path: ["caCert"],
        message: `is not used when mode is ${tls.mode}, which checks no certificate; remove it, or set mode: verify-identity`,
      });
    }
  })
  .default({ mode: "verify-identity" });

/** A cluster's DNS server pods: the one peer every pod ferry makes may reach on port 53. */
export const dnsPodsSchema = z
  .strictObject({
    namespace: dnsLabel.default("kube-system").describe("the namespace of the DNS server pods"),
    podLabels: podSelector("must name at least one label (an empty map would select every pod)")
      .default({ "k8s-app": "kube-dns" })
      .describe("the DNS server pods' labels"),
  })
  .default({ namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } })
  .describe(
    "the cluster's DNS server pods, the only peer ferry's pods may reach on port 53 (NetworkPolicy)",
  );
