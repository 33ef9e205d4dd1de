import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { BucketAccess, ObjectStoreTls } from "./bucketAccess";
import type { DatabaseAccess, TlsSettings } from "./databaseAccess";

/**
 * The data plane's contract as the Pulumi program sees it: which program each step runs (from
 * `dataplane/` at the repo root), and the settings it reads from its environment. In a pod the
 * secrets arrive as files named by `<NAME>_FILE`; on a host, inside the program fed on stdin.
 * Neither a setting nor a secret is ever on a command line.
 */

export type DataPlaneScript =
  | "preflight.sh"
  | "dump.sh"
  | "import.sh"
  | "verify.sh"
  | "cleanup.sh"
  | "report.sh"
  | "revoke.sh"
  | "grant.sh"
  | "watch.sh"
  | "reach.sh"
  | "replicate.sh"
  | "cutover.sh"
  | "restore.sh";

/** Where the data plane's programs live, relative to this file in the repo and in a linked project. */
const dataPlaneDir = path.join(__dirname, "..", "..", "dataplane");

/** The text of one data-plane script. */
export function readScript(name: DataPlaneScript | "lib.sh"): string {
  return fs.readFileSync(path.join(dataPlaneDir, name), "utf8");
}

/** Every script a pod may run, as ConfigMap data; lib.sh is sourced by each of them. */
export function scriptsConfigMapData(scripts: DataPlaneScript[]): Record<string, string> {
  const data: Record<string, string> = { "lib.sh": readScript("lib.sh") };
  for (const script of scripts) {
    data[script] = readScript(script);
  }
  return data;
}

/** Quotes a value for POSIX sh: inside single quotes nothing is special but the quote itself. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The values a program fed on stdin carries that lib.sh moves into 0600 files before anything
 * runs with them (`secrets_to_files`): the secrets, and the source's CA, which the programs read
 * from a file as a pod does. They are set in the program's shell but never exported, so no child
 * (date, mktemp, ferry-dataplane) inherits one.
 */
export const stdinFileValues = [
  "DEST_PASSWORD",
  "RUN_KEY",
  "S3_SECRET_KEY",
  "SOURCE_PASSWORD",
  "SOURCE_TLS_CA",
] as const;

/** The text of a program for `sh -s`: the settings exported, the file values set, lib.sh, the script. */
export function stdinProgramText(script: DataPlaneScript, env: Record<string, string>): string {
  const fileValues: readonly string[] = stdinFileValues;
  const assignments = Object.keys(env)
    .sort()
    .map((name) =>
      fileValues.includes(name)
        ? `${name}=${shellQuote(env[name])}`
        : `${name}=${shellQuote(env[name])}; export ${name}`,
    );
  return [
    "set -eu",
    `FERRY_STDIN_FILE_VALUES=${shellQuote(stdinFileValues.join(" "))}`,
    ...assignments,
    readScript("lib.sh"),
    readScript(script),
  ].join("\n");
}

/**
 * A self-contained program for `sh -s` (stdinProgramText). Secrets travel inside this text on
 * stdin, never in argv or a child's environment; the result is secret when any input is.
 */
export function stdinProgram(
  script: DataPlaneScript,
  environment: Record<string, pulumi.Input<string>>,
): pulumi.Output<string> {
  return pulumi.all(environment).apply((env) => stdinProgramText(script, env));
}

/** A step's settings: `plain` for a pod (its secrets come as files), `all` for stdin. */
export interface StepEnvironment {
  readonly plain: Record<string, pulumi.Input<string>>;
  readonly all: Record<string, pulumi.Input<string>>;
}

/**
 * How a step checks the store's certificate. The CA is public, so it travels as a setting (in a
 * pod's spec, or on stdin) rather than as a secret file.
 */
function objectStoreTlsEnvironment(tls: ObjectStoreTls): Record<string, string> {
  return { S3_INSECURE: String(tls.insecure), ...(tls.caCert ? { S3_CA_CERT: tls.caCert } : {}) };
}

/** The settings every step reads to reach the bucket; the secret key is not among them. */
export function bucketEnvironment(access: BucketAccess): Record<string, pulumi.Input<string>> {
  return {
    S3_ENDPOINT: access.url,
    ...objectStoreTlsEnvironment(access.tls),
    S3_BUCKET: access.bucket,
    S3_ACCESS_KEY: access.accessKey,
  };
}

/** What the dump needs to know, wherever it runs. */
export interface DumpSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: pulumi.Input<string>;
  /** How the dump's sessions with the source are protected. */
  readonly tls: TlsSettings;
  readonly databases: string[];
  readonly runId: string;
  readonly compression: "gzip" | "zstd";
  readonly parallelism: number;
  /** MiB of SQL per stored chunk. */
  readonly chunkMiB: number;
  readonly bucket: BucketAccess;
  /** The run's key, which seals what the dump stores (64 hex digits, a secret). */
  readonly runKey: pulumi.Input<string>;
}

/**
 * What makes one dump of a run another: everything the dump reads or writes by (source, password,
 * databases, where it runs, the settings of its streams, the bucket), as a digest and a secret (it
 * covers the password). The run key is drawn again when it changes: a dump that runs again runs
 * under a new key, so two complete dumps never share one and an older dump put back in the bucket
 * opens with no key the run has (issue 25, finding 9). `where` is what the dump's location says
 * of the source side, without credentials.
 */
export function dumpIdentity(
  settings: Omit<DumpSettings, "runKey">,
  where: unknown,
): pulumi.Output<string> {
  const { password, bucket, ...plain } = settings;
  return pulumi.secret(
    pulumi
      .all([password, bucket.url, bucket.bucket])
      .apply(([sourcePassword, url, name]) =>
        createHash("sha256")
          .update(JSON.stringify({ plain, sourcePassword, url, name, where }))
          .digest("hex"),
      ),
  );
}

/**
 * The source's CA certificate for a step fed on stdin: lib.sh moves it into a file and names it by
 * SOURCE_TLS_CA_FILE, which is what a pod gets from its Secret.
 */
export function sourceCaEnvironment(tls: TlsSettings): Record<string, string> {
  return tls.caCert ? { SOURCE_TLS_CA: tls.caCert } : {};
}

/**
 * dump.sh's environment; `method` is the one the preflight decided (METHOD: logical or physical),
 * logical when not given.
 */
export function dumpEnvironment(
  settings: DumpSettings,
  method: pulumi.Input<string> = "logical",
): StepEnvironment {
  const plain: Record<string, pulumi.Input<string>> = {
    METHOD: method,
    SOURCE_HOST: settings.host,
    SOURCE_PORT: String(settings.port),
    SOURCE_USER: settings.user,
    SOURCE_TLS: settings.tls.mode,
    // JSON: a database name may hold spaces, quotes or anything else MySQL allows.
    DATABASES: JSON.stringify(settings.databases),
    RUN_ID: settings.runId,
    COMPRESSION: settings.compression,
    PARALLELISM: String(settings.parallelism),
    CHUNK_MIB: String(settings.chunkMiB),
    ...bucketEnvironment(settings.bucket),
  };
  return {
    plain,
    all: {
      ...plain,
      SOURCE_PASSWORD: settings.password,
      ...sourceCaEnvironment(settings.tls),
      S3_SECRET_KEY: settings.bucket.secretKey,
      RUN_KEY: settings.runKey,
    },
  };
}

/** The settings shared by the import, verify and cleanup scripts in the destination cluster. */
export function destinationEnvironment(
  database: Pick<DatabaseAccess, "host" | "port" | "user" | "tls">,
  runId: string,
  bucket: BucketAccess,
): Record<string, pulumi.Input<string>> {
  return {
    DEST_HOST: database.host,
    DEST_PORT: String(database.port),
    DEST_USER: database.user,
    DEST_TLS: database.tls.mode,
    RUN_ID: runId,
    ...bucketEnvironment(bucket),
  };
}

/** report.sh's environment: it runs on this machine, so everything arrives on stdin. */
export function reportEnvironment(
  runId: string,
  bucket: BucketAccess,
  runKey: pulumi.Input<string>,
): Record<string, pulumi.Input<string>> {
  return {
    RUN_ID: runId,
    ...bucketEnvironment(bucket),
    S3_SECRET_KEY: bucket.secretKey,
    RUN_KEY: runKey,
  };
}

/** The steps that run in a cluster and post their log lines for the operator (package beacon). */
export type WatchedStep = "dump" | "restore" | "import";

/** A Job's setting that makes its step post its log lines to the bucket. */
export const postLogLines = { FERRY_BEACON: "true" } as const;

/** watch.sh's environment: it runs on this machine, so everything arrives on stdin. */
export function watchEnvironment(
  step: WatchedStep,
  runId: string,
  bucket: BucketAccess,
  runKey: pulumi.Input<string>,
  startMinutes: number,
): Record<string, pulumi.Input<string>> {
  return {
    ...reportEnvironment(runId, bucket, runKey),
    WATCH_STEP: step,
    WATCH_START_SECONDS: String(startMinutes * 60),
  };
}

/** The object store's administrator as this machine reaches it (Pulumi's minio provider's). */
export interface ObjectStoreAdmin {
  readonly url: string;
  readonly tls: ObjectStoreTls;
  readonly accessKey: string;
  readonly secretKey: pulumi.Input<string>;
}

/** revoke.sh's and grant.sh's environment: on this machine, everything on stdin. */
export function bucketUsersEnvironment(
  admin: ObjectStoreAdmin,
  users: pulumi.Input<string>[],
): Record<string, pulumi.Input<string>> {
  return {
    S3_ENDPOINT: admin.url,
    ...objectStoreTlsEnvironment(admin.tls),
    S3_ACCESS_KEY: admin.accessKey,
    S3_SECRET_KEY: admin.secretKey,
    USERS: pulumi.all(users).apply((names) => JSON.stringify(names)),
  };
}
