import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";

// The SDK exports isConfigSecret at run time but leaves it out of its type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as {
  isConfigSecret: (key: string) => boolean;
};

/**
 * ferry's stack configuration: read once, validated into one typed object. Nothing else in the
 * program touches pulumi.Config. Every error names the key (`ferry:source.databases`) and the fix.
 */

const mysqlIdentifier = z.string({ error: "must be a string" }).regex(/^[A-Za-z0-9_$]{1,64}$/, {
  error: "must be a plain MySQL database name: letters, digits, _ or $, at most 64 characters",
});

const dnsLabel = z
  .string({ error: "must be a string" })
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
    error: "must be a DNS label: lowercase letters, digits and inner dashes, at most 63 characters",
  });

const quantity = z
  .string({ error: "must be a string" })
  .regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/, {
    error: "must be a Kubernetes quantity such as 500m, 1Gi or 20Gi",
  });

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

const sourceSchema = z
  .strictObject({
    mode: z.enum(["kubernetes", "ssh", "local"], { error: "must be kubernetes, ssh or local" }),
    host: nonEmpty,
    port: port.default(3306),
    user: nonEmpty,
    databases: z
      .array(mysqlIdentifier, { error: "must be a list of database names" })
      .min(1, { error: "must list at least one database" })
      .refine((names) => new Set(names).size === names.length, {
        error: "lists a database twice",
      })
      .refine((names) => names.every((n) => !systemDatabases.includes(n.toLowerCase())), {
        error: `must not include the system databases (${systemDatabases.join(", ")})`,
      }),
    kubernetes: z
      .strictObject({
        kubeconfig: nonEmpty.optional(),
        context: nonEmpty.optional(),
        namespace: dnsLabel.default("default"),
        toolsImage: image,
        imagePullPolicy: z
          .enum(["Always", "IfNotPresent", "Never"], {
            error: "must be Always, IfNotPresent or Never",
          })
          .default("IfNotPresent"),
        objectStoreEndpoint: httpUrl("http://minio.storage:9000").optional(),
      })
      .optional(),
    ssh: z
      .strictObject({
        host: nonEmpty,
        port: port.default(22),
        user: nonEmpty,
        objectStoreEndpoint: httpUrl("http://10.0.0.5:9000").optional(),
      })
      .optional(),
  })
  .superRefine((source, ctx) => {
    if (source.mode === "kubernetes" && !source.kubernetes) {
      ctx.addIssue({
        code: "custom",
        path: ["kubernetes"],
        message: "is required when mode is kubernetes (set toolsImage, and context or kubeconfig)",
      });
    }
    if (source.mode === "ssh" && !source.ssh) {
      ctx.addIssue({
        code: "custom",
        path: ["ssh"],
        message:
          "is required when mode is ssh (set host and user, and the secret ferry:sshPrivateKey)",
      });
    }
  });

const destinationSchema = z.strictObject({
  kubeconfig: nonEmpty.optional(),
  context: nonEmpty.optional(),
  namespace: dnsLabel.default("ferry"),
  mysqlImage: image.default("mariadb:10.11"),
  toolsImage: image,
  imagePullPolicy: z
    .enum(["Always", "IfNotPresent", "Never"], { error: "must be Always, IfNotPresent or Never" })
    .default("IfNotPresent"),
  storageSize: quantity.default("10Gi"),
  cpu: quantity.default("500m"),
  memory: quantity.default("1Gi"),
  serviceName: dnsLabel.default("mysql"),
});

const objectStoreSchema = z.strictObject({
  endpoint: nonEmpty.regex(/^[^/:]+:[0-9]+$/, {
    error: "must be host:port as the operator's machine reaches it, such as 127.0.0.1:9000",
  }),
  useTls: z.boolean({ error: "must be true or false" }).default(false),
  insecureSkipVerify: z.boolean({ error: "must be true or false" }).default(false),
  accessKey: nonEmpty,
  region: nonEmpty.default("us-east-1"),
  bucketPrefix: z
    .string({ error: "must be a string" })
    .regex(/^[a-z0-9][a-z0-9-]{0,35}$/, {
      error: "must be lowercase letters, digits and dashes, at most 36 characters",
    })
    .default("ferry-"),
  expiryDays: z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number of days" })
    .min(1, { error: "must be between 1 and 3650 days" })
    .max(3650, { error: "must be between 1 and 3650 days" })
    .default(7),
  clusterEndpoint: httpUrl("http://minio.storage:9000").optional(),
});

const releaseSchema = z
  .strictObject({
    chart: nonEmpty,
    repo: httpUrl("https://charts.example.com").optional(),
    version: nonEmpty.optional(),
    values: z.record(z.string(), z.unknown()).default({}),
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

const storageSchema = z.strictObject({
  namespace: dnsLabel.default("storage-system"),
  crds: releaseSchema,
  system: releaseSchema,
  csi: releaseSchema,
  licenseKeyValue: nonEmpty.default("license.key"),
  storageClass: z.strictObject({
    name: dnsLabel,
    create: z.boolean({ error: "must be true or false" }).default(true),
    provisioner: nonEmpty,
    parameters: stringMap.default({}),
    reclaimPolicy: z
      .enum(["Retain", "Delete"], { error: "must be Retain or Delete" })
      .default("Retain"),
    volumeBindingMode: z
      .enum(["Immediate", "WaitForFirstConsumer"], {
        error: "must be Immediate or WaitForFirstConsumer",
      })
      .default("WaitForFirstConsumer"),
    allowVolumeExpansion: z.boolean({ error: "must be true or false" }).default(true),
  }),
  makeDefault: z.boolean({ error: "must be true or false" }).default(true),
  previousDefaultClass: dnsLabel.optional(),
});

const minutes = (fallback: number) =>
  z
    .number({ error: "must be a number of minutes" })
    .int({ error: "must be a whole number of minutes" })
    .min(1, { error: "must be between 1 and 1440 minutes" })
    .max(1440, { error: "must be between 1 and 1440 minutes" })
    .default(fallback);

const migrationSchema = z.strictObject({
  runId: z.string({ error: "must be a string" }).regex(/^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/, {
    error:
      "must be lowercase letters, digits and inner dashes, at most 40 characters (it names Jobs and objects)",
  }),
  compression: z.enum(["gzip", "zstd"], { error: "must be gzip or zstd" }).default("zstd"),
  parallelism: z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number" })
    .min(1, { error: "must be between 1 and 16" })
    .max(16, { error: "must be between 1 and 16" })
    .default(2),
  keepDump: z.boolean({ error: "must be true or false" }).default(false),
  overwrite: z.boolean({ error: "must be true or false" }).default(false),
  stripDefiners: z.boolean({ error: "must be true or false" }).default(false),
  writeBinlog: z.boolean({ error: "must be true or false" }).default(false),
  retainData: z.boolean({ error: "must be true or false" }).default(true),
  dumpTimeoutMinutes: minutes(60),
  importTimeoutMinutes: minutes(120),
  verifyTimeoutMinutes: minutes(60),
});

const verificationSchema = z.strictObject({
  enabled: z.boolean({ error: "must be true or false" }).default(true),
  readWriteTest: z.boolean({ error: "must be true or false" }).default(true),
});

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
  destinationRootPassword: "the root password of the destination MySQL",
  objectStoreSecretKey: "the object store's admin secret key",
  sshPrivateKey: "the private key for source.ssh (only when source.mode is ssh)",
  storageLicenseKey: "the storage system's license key (optional)",
} as const;

export type SourceConfig = z.infer<typeof sourceSchema>;
export type DestinationConfig = z.infer<typeof destinationSchema>;
export type ObjectStoreConfig = z.infer<typeof objectStoreSchema>;
export type StorageConfig = z.infer<typeof storageSchema>;
export type ReleaseConfig = z.infer<typeof releaseSchema>;
export type MigrationConfig = z.infer<typeof migrationSchema>;
export type VerificationConfig = z.infer<typeof verificationSchema>;
export type SourceMode = SourceConfig["mode"];

export interface FerryConfig {
  readonly project: string;
  readonly stack: string;
  readonly source: SourceConfig;
  readonly destination: DestinationConfig;
  readonly objectStore: ObjectStoreConfig;
  readonly storage: StorageConfig;
  readonly migration: MigrationConfig;
  readonly verification: VerificationConfig;
  readonly secrets: {
    readonly sourcePassword: pulumi.Output<string>;
    readonly destinationRootPassword: pulumi.Output<string>;
    readonly objectStoreSecretKey: pulumi.Output<string>;
    readonly sshPrivateKey?: pulumi.Output<string>;
    readonly storageLicenseKey?: pulumi.Output<string>;
  };
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
    return `ferry:${path}: unknown key ${issue.keys.map((k) => `"${k}"`).join(", ")}; check the spelling against the README's configuration reference`;
  }
  if (issue.code === "invalid_type" && valueAt(value, issue.path) === undefined) {
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
];

/**
 * Parses and validates every key. Throws one FerryConfigError listing all problems, before any
 * resource is declared, so `pulumi preview` fails fast and says what to fix.
 */
export function parseConfig(raw: RawConfig, project: string, stack: string): FerryConfig {
  const problems: string[] = [];
  const parsed: Record<string, unknown> = {};
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
          `ferry:${key}: is required; add it to Pulumi.${stack}.yaml (see the README's configuration reference)`,
        );
        continue;
      }
      value = {};
    }
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
  const source = parsed.source as SourceConfig | undefined;
  const secrets = {
    sourcePassword: secret("sourcePassword", true),
    destinationRootPassword: secret("destinationRootPassword", true),
    objectStoreSecretKey: secret("objectStoreSecretKey", true),
    sshPrivateKey: secret("sshPrivateKey", source?.mode === "ssh"),
    storageLicenseKey: secret("storageLicenseKey", false),
  };

  problems.push(...crossChecks(parsed));
  if (problems.length > 0) {
    throw new FerryConfigError(problems);
  }
  return {
    project,
    stack,
    ...(parsed as Omit<FerryConfig, "project" | "stack" | "secrets">),
    secrets: secrets as FerryConfig["secrets"],
  };
}

const loopback = /^(127\.[0-9.]+|localhost|\[?::1\]?)(:|$)/;

/** Checks that span keys: what one key means for another. */
function crossChecks(parsed: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const objectStore = parsed.objectStore as ObjectStoreConfig | undefined;
  const source = parsed.source as SourceConfig | undefined;
  if (objectStore && loopback.test(objectStore.endpoint) && !objectStore.clusterEndpoint) {
    problems.push(
      "ferry:objectStore.clusterEndpoint: is required when objectStore.endpoint is a loopback address: pods cannot reach this machine's loopback; give the URL pods use, such as http://10.0.0.1:9000",
    );
  }
  if (
    source?.mode === "ssh" &&
    objectStore &&
    loopback.test(objectStore.endpoint) &&
    !source.ssh?.objectStoreEndpoint
  ) {
    problems.push(
      "ferry:source.ssh.objectStoreEndpoint: is required when objectStore.endpoint is a loopback address: the source host cannot reach this machine's loopback",
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
    pulumi.getProject(),
    pulumi.getStack(),
  );
}
