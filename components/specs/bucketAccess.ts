import { createHash } from "crypto";
import type * as pulumi from "@pulumi/pulumi";
import type { ObjectStoreConfig, SourceConfig } from "../config";

/** How every client checks an https store's certificate (ferry:objectStore). */
export interface ObjectStoreTls {
  /** The CA that signs it (PEM); without one the system's CAs. */
  readonly caCert?: string;
  /** Skip the check (ferry:objectStore.insecureSkipVerify): explicit, and warned at every run. */
  readonly insecure: boolean;
}

/** The object store's TLS settings as configured. */
export function objectStoreTls(objectStore: ObjectStoreConfig): ObjectStoreTls {
  return {
    insecure: objectStore.insecureSkipVerify,
    ...(objectStore.caCert ? { caCert: objectStore.caCert } : {}),
  };
}

/** How one side of the migration reaches the run's bucket: the one S3 access tuple. */
export interface BucketAccess {
  /** The object store as this side reaches it, a URL. */
  readonly url: pulumi.Input<string>;
  readonly tls: ObjectStoreTls;
  readonly bucket: pulumi.Input<string>;
  readonly accessKey: pulumi.Input<string>;
  readonly secretKey: pulumi.Input<string>;
}

/** The URL scheme for an object store endpoint given as host:port. */
export function endpointUrl(hostPort: string, useTls: boolean): string {
  return `${useTls ? "https" : "http"}://${hostPort}`;
}

/** The object store's URL from each place that talks to it. */
export interface ObjectStoreUrls {
  /** This machine: the Pulumi program and the report. */
  readonly operator: string;
  /** Pods in the destination cluster. */
  readonly cluster: string;
  /** Wherever the dump runs: a pod of the source cluster, the SSH host, or this machine. */
  readonly source: string;
}

/** Where each side reaches the object store: a side's own setting wins, then the nearest default. */
export function objectStoreUrls(
  objectStore: ObjectStoreConfig,
  source: SourceConfig,
): ObjectStoreUrls {
  const operator = endpointUrl(objectStore.endpoint, objectStore.useTls);
  const cluster = objectStore.clusterEndpoint ?? operator;
  switch (source.mode) {
    case "kubernetes":
      return { operator, cluster, source: source.kubernetes.objectStoreEndpoint ?? cluster };
    case "ssh":
      return { operator, cluster, source: source.ssh.objectStoreEndpoint ?? operator };
    case "local":
      return { operator, cluster, source: operator };
    default: {
      const unknown: never = source;
      throw new Error(`unknown source mode ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * What each side may do in the run's bucket, one user a role, so that no credential can do more
 * than its step needs:
 * - `dump` (the source side) writes the run's objects but not a verification result, and reads
 *   back only manifests (to keep or refuse a run id already dumped); it can neither read a chunk
 *   nor delete anything;
 * - `read` (import, verification, replication, cutover, report, watch) reads the run's objects
 *   and writes only the verification result, the import's log lines and live mode's record;
 * - `cleanup` reads and deletes the run's objects once verification has passed.
 */
export type BucketRole = "dump" | "read" | "cleanup";
export const bucketRoles: readonly BucketRole[] = ["dump", "read", "cleanup"];

/**
 * A bucket user's name: unique per project, stack, bucket and run (two projects with a stack
 * `prod` on one object store never share a user, and a run's users are its own), readable by its
 * stack and role.
 */
export function bucketUserName(
  project: string,
  stack: string,
  bucket: string,
  runId: string,
  role: BucketRole,
): string {
  const owner = createHash("sha256")
    .update(JSON.stringify([project, stack, bucket, runId]))
    .digest("hex")
    .slice(0, 10);
  const readable = stack
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .slice(0, 20);
  return `ferry-${readable}-${owner}-${role}`;
}

interface Statement {
  readonly Effect: "Allow" | "Deny";
  readonly Action: string[];
  readonly Resource: string[];
}

/** The IAM policy of one role: this bucket's `runs/` and nothing else. */
export function bucketPolicyDocument(bucket: string, role: BucketRole): string {
  const objects = (pattern: string) => [`arn:aws:s3:::${bucket}/runs/${pattern}`];
  const allow = (Action: string[], Resource: string[]): Statement => ({
    Effect: "Allow",
    Action,
    Resource,
  });
  // What only the destination's steps write.
  const destinationRecords = [
    "verification.json",
    "log/restore.json",
    "log/import.json",
    "live.json",
  ].flatMap((name) => objects(`*/${name}`));
  // Listing tells a missing object from a forbidden one; it shows names, never content.
  const listing = allow(["s3:GetBucketLocation", "s3:ListBucket"], [`arn:aws:s3:::${bucket}`]);
  const statements: Record<BucketRole, Statement[]> = {
    dump: [
      allow(
        ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
        [`arn:aws:s3:::${bucket}`],
      ),
      allow(
        ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        objects("*"),
      ),
      allow(["s3:GetObject"], objects("*/manifest.json")),
      // The verification result is the destination's word, which the cleanup acts on; the
      // restore's and the import's log lines and live mode's record are the destination's too.
      { Effect: "Deny", Action: ["s3:PutObject"], Resource: destinationRecords },
    ],
    read: [
      listing,
      allow(["s3:GetObject"], objects("*")),
      // The verification result, the restore's and the import's log lines for the operator's
      // pulumi up, and live mode's record of the replication and the cutover.
      allow(["s3:PutObject"], destinationRecords),
    ],
    cleanup: [listing, allow(["s3:GetObject", "s3:DeleteObject"], objects("*"))],
  };
  return JSON.stringify({ Version: "2012-10-17", Statement: statements[role] });
}
