import { X509Certificate } from "node:crypto";
import { BlockList, isIP } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import * as sshpk from "sshpk";
import { z } from "zod";
import { mysqlPort } from "./specs/database";
import { tlsKeyTypes } from "./specs/certificates";
import { tlsModes, type TlsMode } from "./specs/jobs";
import { quantityBytes } from "./specs/preflight";

// The SDK exports isConfigSecret at run time but leaves it out of its type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as {
  isConfigSecret: (key: string) => boolean;
};

/**
 * ferry's stack configuration: read once, validated into one typed object. Nothing else in the
 * program touches pulumi.Config. Every error names the key (`ferry:source.databases`) and the fix.
 */

// A database name as MySQL and MariaDB accept one: the data plane gets the list as JSON and quotes
// every name, so spaces, quotes and glob characters are names like any other.
const mysqlIdentifier = z
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

const dnsLabel = z
  .string({ error: "must be a string" })
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
    error: "must be a DNS label: lowercase letters, digits and inner dashes, at most 63 characters",
  });

/** Kubernetes' DNS-1035 label (apimachinery's IsDNS1035Label): what a Service's name must be. */
const serviceNameLabel = z
  .string({ error: "must be a string" })
  .regex(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/, {
    error:
      "must be a DNS-1035 label, as a Service's name is: a lowercase letter first, then lowercase letters, digits and inner dashes, at most 63 characters",
  });

const quantity = z
  .string({ error: "must be a string" })
  .regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/, {
    error: "must be a Kubernetes quantity such as 500m, 1Gi or 20Gi",
  });

/** The least memory a MySQL or MariaDB server starts in with the buffers ferry sets. */
const smallestMemory = "256Mi";

/** A memory size: whole bytes (no m, a thousandth), enough for the server to start. */
const memorySize = z.string({ error: "must be a string" }).refine(
  (size) => {
    if (!/^[0-9]+(\.[0-9]+)?(k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.test(size)) return false;
    return quantityBytes(size) >= quantityBytes(smallestMemory);
  },
  {
    error: `must be a memory size of at least ${smallestMemory} in whole bytes, such as 512Mi or 2Gi (the server needs that much to start)`,
  },
);

/** CPU cores: a number of cores or of millicores, from a hundredth of a core to a thousand. */
const cpuCores = z.string({ error: "must be a string" }).refine(
  (cpu) => {
    const match = /^([0-9]+(?:\.[0-9]+)?)(m?)$/.exec(cpu);
    if (!match) return false;
    const cores = Number(match[1]) / (match[2] === "m" ? 1000 : 1);
    return cores >= 0.01 && cores <= 1000;
  },
  { error: "must be CPU cores between 10m and 1000, such as 250m, 1 or 2.5" },
);

/** A label's name and value as Kubernetes takes them (apimachinery's IsQualifiedName and IsValidLabelValue). */
const labelName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelPrefix = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function labelKeyValid(key: string): boolean {
  const slash = key.lastIndexOf("/");
  const [prefix, name] = slash < 0 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (prefix !== undefined && (prefix.length > 253 || !labelPrefix.test(prefix))) return false;
  return name.length <= 63 && labelName.test(name);
}

/** Pod labels to select by: at least one, each key and value as Kubernetes takes them. */
const podSelector = (empty: string) =>
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
const sshPublicKey = z.string({ error: "must be a string" }).refine(
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

const nonEmpty = z.string({ error: "must be a string" }).min(1, { error: "must not be empty" });
const port = z
  .number({ error: "must be a number" })
  .int({ error: "must be a whole number" })
  .min(1, { error: "must be a port between 1 and 65535" })
  .max(65535, { error: "must be a port between 1 and 65535" });
const image = nonEmpty.regex(/^[^\s]+$/, { error: "must be an image reference without spaces" });
const httpUrl = (example: string) =>
  z.url({ protocol: /^https?$/, error: `must be an http or https URL such as ${example}` });
const stringMap = z.record(z.string(), z.string({ error: "must be a string" }));
const systemDatabases = ["mysql", "information_schema", "performance_schema", "sys", "ferry"];

const pullPolicy = z
  .enum(["Always", "IfNotPresent", "Never"], { error: "must be Always, IfNotPresent or Never" })
  .default("IfNotPresent");

/** A key that belongs to another source mode: named, so the fix is obvious. */
const otherModeOnly = (mode: string) =>
  z
    .never({ error: `is only read when mode is ${mode}; remove it, or set mode: ${mode}` })
    .optional();

/** A PEM certificate (or several), checked by Node's own parser. */
const pemCertificates = z.string({ error: "must be a string" }).refine(
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
const tlsSchema = z
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

const sourceFields = {
  host: nonEmpty.describe("the source server as the dump reaches it"),
  port: port.default(mysqlPort).describe("the source server's port"),
  user: nonEmpty.describe(
    "needs SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE, LOCK TABLES, RELOAD, PROCESS, REPLICATION CLIENT (EXECUTE: a view may call a stored function)",
  ),
  databases: z
    .array(mysqlIdentifier, { error: "must be a list of database names" })
    .min(1, { error: "must list at least one database" })
    .refine((names) => new Set(names).size === names.length, {
      error: "lists a database twice",
    })
    .refine((names) => names.every((n) => !systemDatabases.includes(n.toLowerCase())), {
      error: `must not include the system databases (${systemDatabases.join(", ")})`,
    })
    .describe("the databases to migrate (not the system ones)"),
  tls: tlsSchema.describe("TLS of the dump's sessions with the source"),
};

/** A cluster's DNS server pods: the one peer every pod ferry makes may reach on port 53. */
const dnsPodsSchema = z
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

const kubernetesSourceSchema = z
  .strictObject(
    {
      kubeconfig: nonEmpty.optional().describe("kubeconfig file of the source cluster"),
      context: nonEmpty.optional().describe("its context"),
      namespace: dnsLabel.default("default").describe("where the dump Job runs"),
      toolsImage: image.describe("the image the dump Job runs"),
      imagePullPolicy: pullPolicy.describe("the dump Job's image pull policy"),
      objectStoreEndpoint: httpUrl("http://minio.storage:9000")
        .optional()
        .describe("the object store's URL as pods of the source cluster reach it"),
      dnsPods: dnsPodsSchema,
    },
    {
      error: (issue) =>
        issue.input === undefined
          ? "is required when mode is kubernetes (set toolsImage, and context or kubeconfig)"
          : "must be a map",
    },
  )
  .describe("where the dump Job runs (mode kubernetes)");

const sshSourceSchema = z
  .strictObject(
    {
      host: nonEmpty.describe("the source host's SSH address"),
      port: port.default(22).describe("its SSH port"),
      user: nonEmpty.describe("the SSH user"),
      hostKey: sshPublicKey
        .optional()
        .describe(
          "the source host's SSH public host key, the only one accepted; required unless insecureIgnoreHostKey",
        ),
      insecureIgnoreHostKey: z
        .boolean({ error: "must be true or false" })
        .default(false)
        .describe("accept any host key (no hostKey): an explicit, warned opt-out"),
      objectStoreEndpoint: httpUrl("http://10.0.0.5:9000")
        .optional()
        .describe("the object store's URL as the source host reaches it"),
    },
    {
      error: (issue) =>
        issue.input === undefined
          ? "is required when mode is ssh (set host and user, and the secret ferry:sshPrivateKey)"
          : "must be a map",
    },
  )
  .describe("the source host (mode ssh); the key is the secret sshPrivateKey");

const sourceModes = {
  kubernetes: "a Job in the source cluster",
  ssh: "a command on the source host over SSH",
  local: "a command on this machine",
} as const;

const sourceSchema = z
  .discriminatedUnion(
    "mode",
    [
      z.strictObject({
        mode: z.literal("kubernetes").describe(sourceModes.kubernetes),
        ...sourceFields,
        kubernetes: kubernetesSourceSchema,
        ssh: otherModeOnly("ssh"),
      }),
      z.strictObject({
        mode: z.literal("ssh").describe(sourceModes.ssh),
        ...sourceFields,
        ssh: sshSourceSchema,
        kubernetes: otherModeOnly("kubernetes"),
      }),
      z.strictObject({
        mode: z.literal("local").describe(sourceModes.local),
        ...sourceFields,
        kubernetes: otherModeOnly("kubernetes"),
        ssh: otherModeOnly("ssh"),
      }),
    ],
    {
      error: (issue) =>
        issue.code === "invalid_union" ? "must be kubernetes, ssh or local" : undefined,
    },
  )
  .describe("the source database and where its dump runs");

const databaseModes = {
  managed:
    "ferry runs MySQL on a volume of the new class (mysqlImage, storageSize, cpu, memory, serviceName)",
  existing:
    "a server the user already runs (their chart or operator); ferry imports and verifies there and never deletes it",
} as const;

/** The storage keys only an install reads. */
const installedStorageKeys = [
  "namespace",
  "crds",
  "system",
  "csi",
  "licenseKeyValue",
  "makeDefault",
  "previousDefaultClass",
] as const;

/** The keys only a database ferry runs reads. */
export const managedDatabaseKeys = [
  "mysqlImage",
  "storageSize",
  "cpu",
  "memory",
  "serviceName",
  "allowFrom",
  "tls",
] as const;

const databaseSchema = z
  .discriminatedUnion(
    "mode",
    [
      z.strictObject({ mode: z.literal("managed").describe(databaseModes.managed) }),
      z.strictObject({
        mode: z.literal("existing").describe(databaseModes.existing),
        host: nonEmpty.describe(
          "the server's address as the Jobs reach it, such as mariadb.apps.svc",
        ),
        port: port.default(3306).describe("its port"),
        user: nonEmpty.describe(
          "the user the import and verification log in as; its password is the secret destinationPassword",
        ),
        tls: tlsSchema.describe("TLS of the import's and verification's sessions with the server"),
      }),
    ],
    {
      error: (issue) =>
        issue.code === "invalid_union" ? "must be managed or existing" : undefined,
    },
  )
  .default({ mode: "managed" })
  .describe("the destination database: mode managed (the default) or existing");

const destinationSchema = z
  .strictObject({
    database: databaseSchema,
    kubeconfig: nonEmpty.optional().describe("kubeconfig file of the destination cluster"),
    context: nonEmpty.optional().describe("its context"),
    namespace: dnsLabel
      .default("ferry")
      .describe(
        "namespace of the database and the Jobs; created by ferry and kept on destroy (not one the cluster owns, nor storage.namespace)",
      ),
    mysqlImage: image.default("mariadb:10.11").describe("the MySQL or MariaDB server image"),
    toolsImage: image.describe("the image the import, verify and cleanup Jobs run"),
    imagePullPolicy: pullPolicy.describe("the pull policy of both images"),
    storageSize: quantity.default("10Gi").describe("the data volume's size, at least 1Gi"),
    cpu: cpuCores.default("500m").describe("the database's CPU request"),
    memory: memorySize.default("1Gi").describe("the database's memory request and limit"),
    serviceName: serviceNameLabel
      .default("mysql")
      .describe("the database's Service, which applications connect to"),
    dnsPods: dnsPodsSchema,
    allowFrom: z
      .array(
        z
          .strictObject({
            namespace: dnsLabel.optional().describe("a namespace, by name"),
            podLabels: podSelector(
              "must name at least one label (an empty map selects every pod); to admit a whole namespace, give namespace alone",
            )
              .optional()
              .describe("pods with these labels (in namespace, or in ferry's own without one)"),
          })
          .refine((client) => client.namespace !== undefined || client.podLabels !== undefined, {
            error: "must give a namespace, podLabels or both",
          }),
        { error: "must be a list of {namespace, podLabels}" },
      )
      .default([])
      .describe(
        "who besides ferry's Jobs may connect to the database: the applications that will use it (NetworkPolicy)",
      ),
    tls: z
      .strictObject({
        keyType: z
          .enum(tlsKeyTypes, { error: `must be one of ${tlsKeyTypes.join(", ")}` })
          .default("ecdsa-p256")
          .describe("the key type of the server's CA and certificate"),
        validityDays: z
          .number({ error: "must be a number of days" })
          .int({ error: "must be a whole number of days" })
          .min(7, { error: "must be between 7 and 3650 days" })
          .max(3650, { error: "must be between 7 and 3650 days" })
          .default(365)
          .describe("their lifetime; each is renewed by the pulumi up after a third is left"),
      })
      .default({ keyType: "ecdsa-p256", validityDays: 365 })
      .describe(
        "the server's TLS certificate, made and kept in the destination namespace (clients trust ConfigMap <serviceName>-ca)",
      ),
  })
  .describe("the destination cluster and the database ferry runs there");

/** host:port with a DNS name, an IPv4 address or a bracketed IPv6 literal, and a real port. */
const hostPort =
  /^(?:\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):([0-9]{1,5})$/;
const endpointError =
  "must be host:port as the operator's machine reaches it, such as 127.0.0.1:9000 or [fd00::5]:9000, with a port between 1 and 65535";

const objectStoreSchema = z
  .strictObject({
    endpoint: nonEmpty
      .refine(
        (endpoint) => {
          const match = hostPort.exec(endpoint);
          return match !== null && Number(match[1]) >= 1 && Number(match[1]) <= 65535;
        },
        { error: endpointError },
      )
      .describe("host:port of the S3/MinIO store as this machine reaches it"),
    useTls: z.boolean({ error: "must be true or false" }).default(false).describe("https"),
    insecureSkipVerify: z
      .boolean({ error: "must be true or false" })
      .default(false)
      .describe("skip the check of the store's TLS certificate (warned at every run)"),
    caCert: pemCertificates
      .optional()
      .describe(
        "the CA that signs the store's certificate (PEM), trusted by every client of the store: this machine, the pods, the SSH host; none trusts the system's CAs",
      ),
    accessKey: nonEmpty.describe(
      "the store's admin access key (ferry creates bucket-scoped users for the data)",
    ),
    region: nonEmpty.default("us-east-1").describe("the store's region"),
    bucketPrefix: z
      .string({ error: "must be a string" })
      .regex(/^[a-z0-9][a-z0-9-]{0,35}$/, {
        error: "must be lowercase letters, digits and dashes, at most 36 characters",
      })
      // S3's bucket naming rules keep these beginnings for names of its own.
      .refine((prefix) => !/^(xn--|sthree-|amzn-s3-demo-)/.test(prefix), {
        error:
          "must not start with xn--, sthree- or amzn-s3-demo- (S3 reserves them for its own names)",
      })
      .default("ferry-")
      .describe("prefix of the bucket's generated name"),
    expiryDays: z
      .number({ error: "must be a number" })
      .int({ error: "must be a whole number of days" })
      .min(1, { error: "must be between 1 and 3650 days" })
      .max(3650, { error: "must be between 1 and 3650 days" })
      .default(7)
      .describe("days after which the store itself deletes a run's objects"),
    clusterEndpoint: httpUrl("http://minio.storage:9000")
      .optional()
      .describe("the store's URL as pods reach it; required when endpoint is a loopback address"),
  })
  .superRefine((store, context) => {
    if (!store.useTls && store.caCert !== undefined) {
      context.addIssue({
        code: "custom",
        path: ["caCert"],
        message:
          "is not used while useTls is false (http://, no certificate); set useTls: true, or remove it",
      });
    }
    if (!store.useTls && store.insecureSkipVerify) {
      context.addIssue({
        code: "custom",
        path: ["insecureSkipVerify"],
        message:
          "is not used while useTls is false (http://, no certificate); set useTls: true, or remove it",
      });
    }
    if (store.insecureSkipVerify && store.caCert !== undefined) {
      context.addIssue({
        code: "custom",
        path: ["insecureSkipVerify"],
        message:
          "is true while caCert is set: a CA to check the store against, and no check; remove insecureSkipVerify so the certificate is checked against caCert",
      });
    }
  })
  .describe("the S3/MinIO store the dump travels through");

const releaseSchema = z
  .strictObject({
    chart: nonEmpty.describe("chart name, or a local path when there is no repo"),
    repo: httpUrl("https://charts.example.com").optional().describe("chart repository URL"),
    version: nonEmpty.optional().describe("chart version; required with repo"),
    values: z.record(z.string(), z.unknown()).default({}).describe("the release's values"),
  })
  .superRefine((release, ctx) => {
    if (release.repo && !release.version) {
      ctx.addIssue({
        code: "custom",
        path: ["version"],
        message:
          "is required when repo is set: pin the chart version so every run installs the same thing",
      });
    }
  });

const storageSchema = z
  .strictObject({
    install: z
      .boolean({ error: "must be true or false" })
      .default(true)
      .describe(
        "install the storage system, its CSI driver and the class here; false: use storageClass.name as someone else installed it (the vendor's install, or another stack's)",
      ),
    namespace: dnsLabel.default("storage-system").describe("namespace of the Helm releases"),
    crds: releaseSchema
      .optional()
      .describe("the storage system's CRDs, a Helm chart installed first (required with install)"),
    system: releaseSchema
      .optional()
      .describe("the storage system, a Helm chart (required with install)"),
    csi: releaseSchema
      .optional()
      .describe("its CSI driver, a Helm chart installed last (required with install)"),
    licenseKeyValue: nonEmpty
      .default("license.key")
      .describe("where the secret storageLicenseKey goes in the system chart's values"),
    storageClass: z
      .strictObject({
        name: dnsLabel.describe("the class the database's volume is made from"),
        create: z
          .boolean({ error: "must be true or false" })
          .default(true)
          .describe("create the class (false: a chart creates it)"),
        provisioner: nonEmpty
          .optional()
          .describe("the CSI driver's name (required when ferry installs and creates the class)"),
        parameters: stringMap.default({}).describe("the class's parameters"),
        reclaimPolicy: z
          .enum(["Retain", "Delete"], { error: "must be Retain or Delete" })
          .default("Retain")
          .describe("Retain keeps a volume whose claim is deleted"),
        volumeBindingMode: z
          .enum(["Immediate", "WaitForFirstConsumer"], {
            error: "must be Immediate or WaitForFirstConsumer",
          })
          .default("WaitForFirstConsumer")
          .describe("when volumes are bound"),
        allowVolumeExpansion: z
          .boolean({ error: "must be true or false" })
          .default(true)
          .describe("whether claims may grow"),
      })
      .describe("the StorageClass"),
    makeDefault: z
      .boolean({ error: "must be true or false" })
      .default(true)
      .describe("make the class the cluster's default (a patch kept on destroy)"),
    previousDefaultClass: dnsLabel
      .optional()
      .describe("the class that is the default today, stepped down first"),
  })
  .describe("the new storage: Helm releases, the StorageClass, and the default class");

const minutes = (fallback: number) =>
  z
    .number({ error: "must be a number of minutes" })
    .int({ error: "must be a whole number of minutes" })
    .min(1, { error: "must be between 1 and 1440 minutes" })
    .max(1440, { error: "must be between 1 and 1440 minutes" })
    .default(fallback);

/** A run id names Jobs, objects and the run's record: one rule, here. */
export const runIdPattern = /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/;

const migrationSchema = z
  .strictObject({
    runId: z
      .string({ error: "must be a string" })
      .regex(runIdPattern, {
        error:
          "must be lowercase letters, digits and inner dashes, at most 40 characters (it names Jobs and objects)",
      })
      .describe("names the Jobs and `runs/<runId>/` in the bucket; change it to migrate again"),
    compression: z
      .enum(["gzip", "zstd"], { error: "must be gzip or zstd" })
      .default("zstd")
      .describe("how the dump is compressed"),
    parallelism: z
      .number({ error: "must be a number" })
      .int({ error: "must be a whole number" })
      .min(1, { error: "must be between 1 and 16" })
      .max(16, { error: "must be between 1 and 16" })
      .default(2)
      .describe(
        "dump streams sharing one snapshot, imported side by side, and as many digest sessions on each side; at most one per group of tables joined by foreign keys",
      ),
    chunkMiB: z
      .number({ error: "must be a number" })
      .int({ error: "must be a whole number" })
      .min(1, { error: "must be between 1 and 4096" })
      .max(4096, { error: "must be between 1 and 4096" })
      .default(32)
      .describe(
        "SQL per stored chunk before compression; each chunk is checked whole before its first byte is imported, so smaller chunks start the import sooner and lose less to a broken download",
      ),
    keepDump: z
      .boolean({ error: "must be true or false" })
      .default(false)
      .describe("keep the dump in the bucket after a verified import"),
    overwrite: z
      .boolean({ error: "must be true or false" })
      .default(false)
      .describe(
        "import into databases that already hold objects (tables, views, routines, events), replacing those the dump holds of the same names",
      ),
    stripDefiners: z
      .boolean({ error: "must be true or false" })
      .default(false)
      .describe("drop DEFINER clauses: views and routines belong to the importing account"),
    writeBinlog: z
      .boolean({ error: "must be true or false" })
      .optional()
      .describe(
        "keep the import in the destination's binary log; when not set: false for a managed database (its sessions set sql_log_bin = 0, as myloader does), true for an existing one, whose replicas must see the import",
      ),
    retainData: z
      .boolean({ error: "must be true or false" })
      .default(true)
      .describe("keep the data volume and its namespace on pulumi destroy"),
    dumpTimeoutMinutes: minutes(60).describe("longest the dump may take"),
    importTimeoutMinutes: minutes(120).describe("longest the import may take"),
    verifyTimeoutMinutes: minutes(60).describe("longest the verification may take"),
  })
  .describe("the run");

const verificationSchema = z
  .strictObject({
    enabled: z
      .boolean({ error: "must be true or false" })
      .default(true)
      .describe("compare every table with the dump; without it the dump is never removed"),
    readWriteTest: z
      .boolean({ error: "must be true or false" })
      .default(true)
      .describe("a Deployment that proves read/write on a fresh volume of the new class"),
  })
  .describe("the checks after the import");

/** The structured (non-secret) keys, each one object in the stack file. */
export const configSchemas = {
  source: sourceSchema,
  destination: destinationSchema,
  objectStore: objectStoreSchema,
  storage: storageSchema,
  migration: migrationSchema,
  verification: verificationSchema,
} as const;

/** Keys that may be left out entirely: their schema fills in every field. */
const optionalKeys = new Set<keyof typeof configSchemas>(["verification"]);

/** The secret keys, read with requireSecret/getSecret so they stay secret end to end. */
export const secretKeys = {
  sourcePassword: "the source database user's password",
  destinationRootPassword:
    "the root password of the MySQL ferry runs (only when destination.database.mode is managed)",
  destinationPassword:
    "the password of destination.database.user (only when destination.database.mode is existing)",
  objectStoreSecretKey: "the object store's admin secret key",
  sshPrivateKey: "the private key for source.ssh (only when source.mode is ssh)",
  storageLicenseKey: "the storage system's license key (optional)",
  registryCredentials:
    "a Docker config.json with the credentials of the registry the images come from (optional)",
} as const;

type ParsedSource = z.infer<typeof sourceSchema>;
type ParsedSshSource = Extract<ParsedSource, { mode: "ssh" }>;
/** An ssh source carries its key, so nothing downstream checks that it is there. */
export type SshSourceConfig = Omit<ParsedSshSource, "ssh"> & {
  readonly ssh: ParsedSshSource["ssh"] & { readonly privateKey: pulumi.Output<string> };
};
/** The source, one variant a mode. */
export type SourceConfig = Exclude<ParsedSource, { mode: "ssh" }> | SshSourceConfig;
type ParsedDestination = z.infer<typeof destinationSchema>;
type ParsedDatabase = ParsedDestination["database"];
/** The destination database, one variant a mode, each with the password it is reached with. */
export type DatabaseConfig =
  | (Extract<ParsedDatabase, { mode: "managed" }> & {
      readonly rootPassword: pulumi.Output<string>;
    })
  | (Extract<ParsedDatabase, { mode: "existing" }> & { readonly password: pulumi.Output<string> });
export type DestinationConfig = Omit<ParsedDestination, "database"> & {
  readonly database: DatabaseConfig;
};
export type ObjectStoreConfig = z.infer<typeof objectStoreSchema>;
type ParsedStorage = z.infer<typeof storageSchema>;
type ParsedMigration = z.infer<typeof migrationSchema>;
/** The storage ferry installs: its charts and, when it creates the class, the provisioner. */
export type InstalledStorageConfig = ParsedStorage & {
  readonly install: true;
  readonly crds: ReleaseConfig;
  readonly system: ReleaseConfig;
  readonly csi: ReleaseConfig;
};
/** A class someone else installed, used as it is. */
export interface ExistingStorageConfig {
  readonly install: false;
  readonly storageClass: { readonly name: string };
}
export type StorageConfig = InstalledStorageConfig | ExistingStorageConfig;
export type ReleaseConfig = z.infer<typeof releaseSchema>;
/** The run's settings, writeBinlog resolved for the destination's mode. */
export type MigrationConfig = Omit<z.infer<typeof migrationSchema>, "writeBinlog"> & {
  readonly writeBinlog: boolean;
};
export type VerificationConfig = z.infer<typeof verificationSchema>;

export interface FerryConfig {
  readonly stack: string;
  readonly source: SourceConfig;
  readonly destination: DestinationConfig;
  readonly objectStore: ObjectStoreConfig;
  readonly storage: StorageConfig;
  readonly migration: MigrationConfig;
  readonly verification: VerificationConfig;
  readonly secrets: {
    readonly sourcePassword: pulumi.Output<string>;
    readonly objectStoreSecretKey: pulumi.Output<string>;
    readonly storageLicenseKey?: pulumi.Output<string>;
    readonly registryCredentials?: pulumi.Output<string>;
  };
  /** What the configuration leaves undone, for `pulumi up` to show as warnings. */
  readonly warnings: string[];
}

/** Thrown for every configuration problem; its message lists one problem a line. */
export class FerryConfigError extends pulumi.RunError {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "FerryConfigError";
  }
}

function valueAt(value: unknown, issuePath: PropertyKey[]): unknown {
  return issuePath.reduce<unknown>(
    (inner, step) =>
      typeof inner === "object" && inner !== null
        ? (inner as Record<PropertyKey, unknown>)[step]
        : undefined,
    value,
  );
}

function describeIssue(key: string, value: unknown, issue: z.core.$ZodIssue): string {
  const path = [key, ...issue.path.map(String)].join(".");
  if (issue.code === "unrecognized_keys") {
    return `ferry:${path}: unknown key ${issue.keys.map((k) => `"${k}"`).join(", ")}; check the spelling against docs/configuration.md`;
  }
  const missing = valueAt(value, issue.path) === undefined;
  if (issue.code === "invalid_type" && missing) {
    // A schema may say when a key is required; otherwise it simply is.
    return `ferry:${path}: ${issue.message.startsWith("is required") ? issue.message : "is required"}`;
  }
  if (issue.code === "invalid_union" && missing) {
    return `ferry:${path}: is required`;
  }
  return `ferry:${path}: ${issue.message}`;
}

/** A source of raw configuration values: `pulumi.Config` in a program, a map in tests. */
export interface RawConfig {
  getObject(key: string): unknown;
  getSecret(key: string): pulumi.Output<string> | undefined;
  /** Whether a key is set to the empty string, without exposing the value. */
  isEmpty(key: string): boolean;
  /** Whether the stack file holds the key encrypted. */
  isStoredAsSecret(key: string): boolean;
}

/**
 * The optional secrets. Pulumi.yaml cannot declare them: a declared key without a default is
 * required, and a secret key's default would be plain text. So ferry checks itself that they are
 * stored encrypted.
 */
export const undeclaredSecretKeys: (keyof typeof secretKeys)[] = [
  "sshPrivateKey",
  "storageLicenseKey",
  "registryCredentials",
  "destinationRootPassword",
  "destinationPassword",
];

/**
 * Parses and validates every key. Throws one FerryConfigError listing all problems, before any
 * resource is declared, so `pulumi preview` fails fast and says what to fix.
 */
export function parseConfig(raw: RawConfig, stack: string): FerryConfig {
  const problems: string[] = [];
  const parsed: Record<string, unknown> = {};
  const given: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(configSchemas)) {
    let value: unknown;
    try {
      value = raw.getObject(key);
    } catch {
      problems.push(
        `ferry:${key}: is not valid JSON/YAML; write it as a YAML map in Pulumi.${stack}.yaml`,
      );
      continue;
    }
    if (value === undefined) {
      if (!optionalKeys.has(key as keyof typeof configSchemas)) {
        problems.push(
          `ferry:${key}: is required; add it to Pulumi.${stack}.yaml (see docs/configuration.md)`,
        );
        continue;
      }
      value = {};
    }
    given[key] = value;
    const result = schema.safeParse(value);
    if (result.success) {
      parsed[key] = result.data;
    } else {
      problems.push(...result.error.issues.map((issue) => describeIssue(key, value, issue)));
    }
  }

  const secret = (key: keyof typeof secretKeys, required: boolean) => {
    const stored = raw.getSecret(key);
    const value = stored === undefined || raw.isEmpty(key) ? undefined : stored;
    if (value !== undefined && undeclaredSecretKeys.includes(key) && !raw.isStoredAsSecret(key)) {
      problems.push(
        `ferry:${key}: is stored in plain text in Pulumi.${stack}.yaml; remove it and set it with: pulumi config set --secret ${key} <value>`,
      );
    }
    if (required && value === undefined) {
      problems.push(
        `ferry:${key}: is required (${secretKeys[key]}); set it with: pulumi config set --secret ${key} <value>`,
      );
    }
    return value;
  };
  const source = parsed.source as ParsedSource | undefined;
  const destination = parsed.destination as ParsedDestination | undefined;
  const secrets = {
    sourcePassword: secret("sourcePassword", true),
    objectStoreSecretKey: secret("objectStoreSecretKey", true),
    storageLicenseKey: secret("storageLicenseKey", false),
    registryCredentials: secret("registryCredentials", false),
  };
  const sshPrivateKey = secret("sshPrivateKey", source?.mode === "ssh");
  const existing = destination?.database.mode === "existing";
  const rootPassword = secret("destinationRootPassword", destination !== undefined && !existing);
  const password = secret("destinationPassword", existing);
  if (existing && rootPassword !== undefined) {
    problems.push(
      "ferry:destinationRootPassword: is only read when destination.database.mode is managed; remove it with: pulumi config rm destinationRootPassword",
    );
  }
  if (!existing && password !== undefined) {
    problems.push(
      "ferry:destinationPassword: is only read when destination.database.mode is existing; remove it with: pulumi config rm destinationPassword",
    );
  }
  if (existing) {
    // Keys of a database ferry runs mean nothing for one it does not: named, not ignored.
    const givenDestination = (given.destination ?? {}) as Record<string, unknown>;
    for (const key of managedDatabaseKeys.filter((k) => givenDestination[k] !== undefined)) {
      problems.push(
        `ferry:destination.${key}: is only read when destination.database.mode is managed (ferry does not run the existing server); remove it`,
      );
    }
  }

  const givenStorage = (given.storage ?? {}) as Record<string, unknown>;
  const storageParsed = parsed.storage as ParsedStorage | undefined;
  if (storageParsed && !storageParsed.install) {
    // Keys of a storage install mean nothing for a class ferry only uses: named, not ignored.
    const givenClass = (givenStorage.storageClass ?? {}) as Record<string, unknown>;
    for (const key of installedStorageKeys.filter((k) => givenStorage[k] !== undefined)) {
      problems.push(
        `ferry:storage.${key}: is only read when storage.install is true (ferry uses the class as it is); remove it`,
      );
    }
    for (const key of Object.keys(givenClass).filter((k) => k !== "name")) {
      problems.push(
        `ferry:storage.storageClass.${key}: is only read when storage.install is true (ferry uses the class as it is); remove it`,
      );
    }
    if (secrets.storageLicenseKey !== undefined) {
      problems.push(
        "ferry:storageLicenseKey: is only read when storage.install is true; remove it with: pulumi config rm storageLicenseKey",
      );
    }
  }
  if (storageParsed?.install) {
    for (const key of ["crds", "system", "csi"] as const) {
      if (!storageParsed[key]) problems.push(`ferry:storage.${key}: is required`);
    }
    if (storageParsed.storageClass.create && !storageParsed.storageClass.provisioner) {
      problems.push(
        "ferry:storage.storageClass.provisioner: is required when ferry creates the class (the CSI driver's name)",
      );
    }
  }

  problems.push(...crossChecks(parsed));
  if (problems.length > 0 || !source || !destination) {
    throw new FerryConfigError(problems);
  }
  const verification = parsed.verification as VerificationConfig;
  return {
    stack,
    ...(parsed as Omit<
      FerryConfig,
      "stack" | "source" | "destination" | "migration" | "secrets" | "warnings"
    >),
    source:
      source.mode === "ssh"
        ? { ...source, ssh: { ...source.ssh, privateKey: sshPrivateKey as pulumi.Output<string> } }
        : source,
    storage: storageParsed?.install
      ? (storageParsed as InstalledStorageConfig)
      : { install: false, storageClass: { name: storageParsed!.storageClass.name } },
    migration: {
      ...(parsed.migration as z.infer<typeof migrationSchema>),
      writeBinlog: (parsed.migration as z.infer<typeof migrationSchema>).writeBinlog ?? existing,
    },
    destination: {
      ...destination,
      database:
        destination.database.mode === "existing"
          ? { ...destination.database, password: password as pulumi.Output<string> }
          : { ...destination.database, rootPassword: rootPassword as pulumi.Output<string> },
    },
    secrets: secrets as FerryConfig["secrets"],
    warnings: [
      ...(verification.enabled
        ? []
        : [
            "ferry:verification.enabled is false: the import is not verified and the dump is kept in the bucket until it expires",
          ]),
      ...(source.mode === "ssh" && source.ssh.insecureIgnoreHostKey
        ? [
            "ferry:source.ssh.insecureIgnoreHostKey is true: the dump's SSH connection accepts any host key, so a host that takes the source's address gets the source password and the bucket key",
          ]
        : []),
      ...((parsed.objectStore as ObjectStoreConfig).insecureSkipVerify
        ? [
            "ferry:objectStore.insecureSkipVerify is true: no client checks the object store's certificate, so a server that takes its address receives every signed request and the sealed dump, and can answer in the store's place",
          ]
        : []),
      ...weakTlsWarnings(
        "ferry:source.tls.mode",
        source.tls.mode,
        "the source password and every row",
      ),
      ...(destination.database.mode === "existing"
        ? weakTlsWarnings(
            "ferry:destination.database.tls.mode",
            destination.database.tls.mode,
            "the destination password and every row",
          )
        : []),
    ],
  };
}

/** What a TLS mode short of verification risks, said at every run. */
function weakTlsWarnings(key: string, mode: TlsMode, exposed: string): string[] {
  switch (mode) {
    case "disabled":
      return [`${key} is disabled: ${exposed} cross the network in plaintext`];
    case "required":
      return [
        `${key} is required: the sessions are encrypted but the server's certificate is not checked, so a server that takes its address gets ${exposed}`,
      ];
    default:
      return [];
  }
}

/** This machine's own addresses: loopback and unspecified, IPv4 and IPv6 (mapped IPv4 too). */
const ownAddresses = new BlockList();
ownAddresses.addSubnet("127.0.0.0", 8, "ipv4");
ownAddresses.addSubnet("0.0.0.0", 8, "ipv4");
ownAddresses.addAddress("::1", "ipv6");
ownAddresses.addAddress("::", "ipv6");

/** The names resolvers give this machine's loopback (RFC 6761's localhost, Debian's /etc/hosts). */
const loopbackNames =
  /^(localhost|.+\.localhost|localhost\.localdomain|localhost6(\.localdomain6)?|ip6-localhost|ip6-loopback)\.?$/;

/**
 * Whether a host (or host:port, an IPv6 literal in brackets) is this machine however it is
 * spelled: the URL parser normalises case, IPv4 shorthand (127.1, 0x7f.1, 2130706433) and IPv6
 * forms before the address is compared.
 */
function isLoopback(hostOrHostPort: string): boolean {
  let host: string;
  try {
    host = new URL(`http://${hostOrHostPort}/`).hostname;
  } catch {
    return false;
  }
  if (loopbackNames.test(host)) return true;
  const address = host.replace(/^\[|\]$/g, "");
  const family = isIP(address);
  return family !== 0 && ownAddresses.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** Namespaces the cluster itself owns: ferry creates, labels and keeps its own, never these. */
const clusterNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"];

/** The smallest data volume a MySQL server fits on with room for data (redo log, undo, system tables). */
const smallestStorage = "1Gi";

/** Whether a cluster is named by a kubeconfig file or a context, not left to kubectl's current one. */
function clusterNamed(cluster: { kubeconfig?: string; context?: string }): boolean {
  return cluster.kubeconfig !== undefined || cluster.context !== undefined;
}

/** The namespace a Service address names (name.namespace, .svc, .svc.cluster.local), or "". */
function serviceNamespace(host: string): string {
  const labels = host.toLowerCase().replace(/\.$/, "").split(".");
  return labels.length === 2 || labels[2] === "svc" ? labels[1] : "";
}

/** Checks that span keys: what one key means for another. */
function crossChecks(parsed: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const objectStore = parsed.objectStore as ObjectStoreConfig | undefined;
  const source = parsed.source as ParsedSource | undefined;
  if (objectStore && isLoopback(objectStore.endpoint) && !objectStore.clusterEndpoint) {
    problems.push(
      "ferry:objectStore.clusterEndpoint: is required when objectStore.endpoint is a loopback address: pods cannot reach this machine's loopback; give the URL pods use, such as http://10.0.0.1:9000",
    );
  }
  if (
    source?.mode === "ssh" &&
    objectStore &&
    isLoopback(objectStore.endpoint) &&
    !source.ssh?.objectStoreEndpoint
  ) {
    problems.push(
      "ferry:source.ssh.objectStoreEndpoint: is required when objectStore.endpoint is a loopback address: the source host cannot reach this machine's loopback",
    );
  }
  if (
    source?.mode === "ssh" &&
    source.ssh &&
    !source.ssh.hostKey &&
    !source.ssh.insecureIgnoreHostKey
  ) {
    problems.push(
      "ferry:source.ssh.hostKey: is required so the dump's SSH connection reaches the source host and no other: set it to the host's public key (ssh-keyscan -t ed25519 HOST prints it after the host name), or set source.ssh.insecureIgnoreHostKey to true to accept any key",
    );
  }
  if (source?.mode === "ssh" && source.ssh?.hostKey && source.ssh.insecureIgnoreHostKey) {
    problems.push(
      "ferry:source.ssh.insecureIgnoreHostKey: is true while source.ssh.hostKey is set; remove one of them",
    );
  }
  if (source?.mode === "kubernetes" && isLoopback(source.host)) {
    problems.push(
      `ferry:source.host: is "${source.host}", a loopback address, which in kubernetes mode is the dump pod itself; give the database's address as pods of the source cluster reach it, such as mysql.shop.svc`,
    );
  }
  if (objectStore) {
    const scheme = objectStore.useTls ? "https" : "http";
    const endpoints: [string, string | undefined][] = [
      ["objectStore.clusterEndpoint", objectStore.clusterEndpoint],
      [
        "source.ssh.objectStoreEndpoint",
        source?.mode === "ssh" ? source.ssh?.objectStoreEndpoint : undefined,
      ],
    ];
    for (const [key, url] of endpoints) {
      if (url && !url.startsWith(`${scheme}://`)) {
        problems.push(
          `ferry:${key}: is ${url.split(":")[0]}:// while objectStore.useTls is ${objectStore.useTls}; one store speaks one protocol: use ${scheme}://, or change objectStore.useTls`,
        );
      }
    }
  }
  if (source?.mode === "kubernetes" && source.kubernetes && !clusterNamed(source.kubernetes)) {
    problems.push(
      "ferry:source.kubernetes.context: is required, or kubeconfig: without either the dump Job would go to whichever cluster kubectl's current context names",
    );
  }
  const storage = parsed.storage as ParsedStorage | undefined;
  const destination = parsed.destination as ParsedDestination | undefined;
  if (destination && !clusterNamed(destination)) {
    problems.push(
      "ferry:destination.context: is required, or kubeconfig: without either ferry would deploy to whichever cluster kubectl's current context names",
    );
  }
  const serverNamespace =
    destination?.database.mode === "existing" ? serviceNamespace(destination.database.host) : "";
  if (destination?.database.mode === "existing" && serverNamespace === destination.namespace) {
    problems.push(
      `ferry:destination.namespace: is "${destination.namespace}", the namespace of the existing server ${destination.database.host}; ferry's NetworkPolicies there would cut the server off from its applications: give ferry a namespace of its own`,
    );
  }
  const migration = parsed.migration as ParsedMigration | undefined;
  if (objectStore && migration) {
    const runMinutes =
      migration.dumpTimeoutMinutes +
      migration.importTimeoutMinutes +
      migration.verifyTimeoutMinutes;
    if (objectStore.expiryDays * 24 * 60 <= runMinutes) {
      const least = Math.floor(runMinutes / (24 * 60)) + 1;
      problems.push(
        `ferry:objectStore.expiryDays: is ${objectStore.expiryDays} day${objectStore.expiryDays === 1 ? "" : "s"}, while the dump, import and verification may take ${runMinutes} minutes (their timeouts): the store would delete the dump before the run has read it; set it to at least ${least}`,
      );
    }
  }
  if (destination) {
    if (clusterNamespaces.includes(destination.namespace)) {
      problems.push(
        `ferry:destination.namespace: is "${destination.namespace}", which the cluster owns; ferry creates its namespace, labels it restricted and keeps it on destroy, so give one of its own such as ferry`,
      );
    } else if (storage?.install && destination.namespace === storage.namespace) {
      problems.push(
        `ferry:destination.namespace: is "${destination.namespace}", the storage system's namespace (storage.namespace); the migration needs a namespace of its own`,
      );
    }
    if (
      destination.database.mode === "managed" &&
      quantityBytes(destination.storageSize) < quantityBytes(smallestStorage)
    ) {
      problems.push(
        `ferry:destination.storageSize: is ${destination.storageSize}, below ${smallestStorage}: the server's own files (redo log, undo, system tables) need most of that before any data; set at least ${smallestStorage}, and more than the data (the preflight checks it against the source)`,
      );
    }
  }
  if (storage?.install && storage.previousDefaultClass === storage.storageClass.name) {
    problems.push(
      `ferry:storage.previousDefaultClass: names the new class "${storage.storageClass.name}" itself; set it to the class that is the default today, or leave it out`,
    );
  }
  return problems;
}

/** Reads the current stack's configuration. */
export function loadConfig(): FerryConfig {
  const config = new pulumi.Config("ferry");
  return parseConfig(
    {
      getObject: (key) => config.getObject(key),
      getSecret: (key) => config.getSecret(key),
      isEmpty: (key) => config.get(key) === "",
      isStoredAsSecret: (key) => isConfigSecret(`ferry:${key}`),
    },
    pulumi.getStack(),
  );
}
