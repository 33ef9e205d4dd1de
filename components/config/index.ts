import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { crossChecks, weakTlsWarnings } from "./checks";
import { destinationSchema, managedDatabaseKeys } from "./destination";
import { copyMethod } from "./method";
import { migrationSchema } from "./migration";
import { objectStoreSchema } from "./objectStore";
import { sourceSchema } from "./source";
import { installedStorageKeys, storageSchema } from "./storage";
import type {
  FerryConfig,
  InstalledStorageConfig,
  MigrationConfig,
  ObjectStoreConfig,
  ParsedDestination,
  ParsedMigration,
  ParsedSource,
  ParsedStorage,
  VerificationConfig,
} from "./types";
import { verificationSchema } from "./verification";

export * from "./types";
export { managedDatabaseKeys } from "./destination";
export { runIdPattern } from "./migration";

// The SDK exports isConfigSecret at run time but leaves it out of its type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as {
  isConfigSecret: (key: string) => boolean;
};

/**
 * ferry's stack configuration: read once, validated into one typed object. Nothing else in the
 * program touches pulumi.Config. Every error names the key (`ferry:source.databases`) and the fix.
 */

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
  sourceReplicationPassword:
    "the password of migration.live.replicationUser on the source (only when migration.mode is live)",
} as const;

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
  "sourceReplicationPassword",
];

/** The structured keys as given and as parsed, and what is wrong with them. */
interface Sections {
  readonly given: Record<string, unknown>;
  readonly parsed: Record<string, unknown>;
  readonly problems: string[];
}

/** Reads and validates each structured key on its own. */
function readSections(raw: RawConfig, stack: string): Sections {
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
  return { given, parsed, problems };
}

/** The secrets, each required only where its mode reads it, and said where it is misplaced. */
interface Secrets {
  readonly shared: {
    readonly sourcePassword?: pulumi.Output<string>;
    readonly objectStoreSecretKey?: pulumi.Output<string>;
    readonly storageLicenseKey?: pulumi.Output<string>;
    readonly registryCredentials?: pulumi.Output<string>;
  };
  readonly sshPrivateKey?: pulumi.Output<string>;
  readonly rootPassword?: pulumi.Output<string>;
  readonly password?: pulumi.Output<string>;
  readonly replicationPassword?: pulumi.Output<string>;
  readonly problems: string[];
}

function readSecrets(
  raw: RawConfig,
  stack: string,
  source: ParsedSource | undefined,
  destination: ParsedDestination | undefined,
  migration: ParsedMigration | undefined,
): Secrets {
  const problems: string[] = [];
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
  const shared = {
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
  // A section that did not parse says nothing of its mode: its own problem is named instead.
  if (destination !== undefined && !existing && password !== undefined) {
    problems.push(
      "ferry:destinationPassword: is only read when destination.database.mode is existing; remove it with: pulumi config rm destinationPassword",
    );
  }
  const live = migration?.mode === "live";
  const replicationPassword = secret("sourceReplicationPassword", live);
  if (migration !== undefined && !live && replicationPassword !== undefined) {
    problems.push(
      "ferry:sourceReplicationPassword: is only read when migration.mode is live; remove it with: pulumi config rm sourceReplicationPassword",
    );
  }
  return { shared, sshPrivateKey, rootPassword, password, replicationPassword, problems };
}

/** Keys given for a mode that does not read them: named, not ignored; and what a mode requires. */
function modeKeyProblems(sections: Sections, secrets: Secrets): string[] {
  const { given, parsed } = sections;
  const problems: string[] = [];
  const destination = parsed.destination as ParsedDestination | undefined;
  if (destination?.database.mode === "existing") {
    // Keys of a database ferry runs mean nothing for one it does not.
    const givenDestination = (given.destination ?? {}) as Record<string, unknown>;
    for (const key of managedDatabaseKeys.filter((k) => givenDestination[k] !== undefined)) {
      problems.push(
        `ferry:destination.${key}: is only read when destination.database.mode is managed (ferry does not run the existing server); remove it`,
      );
    }
  }
  const givenStorage = (given.storage ?? {}) as Record<string, unknown>;
  const storage = parsed.storage as ParsedStorage | undefined;
  if (storage && !storage.install) {
    // Keys of a storage install mean nothing for a class ferry only uses.
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
    if (secrets.shared.storageLicenseKey !== undefined) {
      problems.push(
        "ferry:storageLicenseKey: is only read when storage.install is true; remove it with: pulumi config rm storageLicenseKey",
      );
    }
  }
  if (storage?.install) {
    for (const key of ["crds", "system", "csi"] as const) {
      if (!storage[key]) problems.push(`ferry:storage.${key}: is required`);
    }
    if (storage.storageClass.create && !storage.storageClass.provisioner) {
      problems.push(
        "ferry:storage.storageClass.provisioner: is required when ferry creates the class (the CSI driver's name)",
      );
    }
  }
  return problems;
}

/** What the configuration leaves undone or weakened, said at every run. */
function runWarnings(
  source: ParsedSource,
  destination: ParsedDestination,
  parsed: Record<string, unknown>,
): string[] {
  return [
    ...((parsed.verification as VerificationConfig).enabled
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
  ];
}

/**
 * Parses and validates every key. Throws one FerryConfigError listing all problems, before any
 * resource is declared, so `pulumi preview` fails fast and says what to fix.
 */
export function parseConfig(raw: RawConfig, stack: string): FerryConfig {
  const sections = readSections(raw, stack);
  const { parsed } = sections;
  const source = parsed.source as ParsedSource | undefined;
  const destination = parsed.destination as ParsedDestination | undefined;
  const secrets = readSecrets(
    raw,
    stack,
    source,
    destination,
    parsed.migration as ParsedMigration | undefined,
  );
  const problems = [
    ...sections.problems,
    ...secrets.problems,
    ...modeKeyProblems(sections, secrets),
    ...crossChecks(parsed),
  ];
  if (problems.length > 0 || !source || !destination) {
    throw new FerryConfigError(problems);
  }
  const storage = parsed.storage as ParsedStorage;
  const migration = parsed.migration as z.infer<typeof migrationSchema>;
  return {
    stack,
    ...(parsed as Omit<
      FerryConfig,
      "stack" | "source" | "destination" | "migration" | "secrets" | "warnings"
    >),
    source:
      source.mode === "ssh"
        ? { ...source, ssh: { ...source.ssh, privateKey: secrets.sshPrivateKey! } }
        : source,
    storage: storage.install
      ? (storage as InstalledStorageConfig)
      : { install: false, storageClass: { name: storage.storageClass.name } },
    migration: migrationConfig(migration, source, destination, secrets.replicationPassword),
    destination: {
      ...destination,
      database:
        destination.database.mode === "existing"
          ? { ...destination.database, password: secrets.password! }
          : { ...destination.database, rootPassword: secrets.rootPassword! },
    },
    secrets: secrets.shared as FerryConfig["secrets"],
    warnings: runWarnings(source, destination, parsed),
  };
}

/** The run's settings, one variant a mode, writeBinlog resolved for the destination's mode. */
function migrationConfig(
  migration: ParsedMigration,
  source: ParsedSource,
  destination: ParsedDestination,
  replicationPassword: pulumi.Output<string> | undefined,
): MigrationConfig {
  const { mode, live, cutover, writeBinlog, ...run } = migration;
  const settings = {
    ...run,
    writeBinlog: writeBinlog ?? destination.database.mode === "existing",
    method: copyMethod(source, destination, migration),
  };
  // The cross-checks and readSecrets refused live mode without its settings and its password,
  // and a cutover outside it.
  return mode === "live"
    ? { ...settings, mode, live: { ...live!, replicationPassword: replicationPassword!, cutover } }
    : { ...settings, mode };
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
