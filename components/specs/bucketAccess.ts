import type * as pulumi from "@pulumi/pulumi";
import type { ObjectStoreConfig, SourceConfig } from "../config";

/** How one side of the migration reaches the run's bucket: the one S3 access tuple. */
export interface BucketAccess {
  /** The object store as this side reaches it, a URL. */
  readonly url: pulumi.Input<string>;
  /** Skip TLS certificate checks (ferry:objectStore.insecureSkipVerify). */
  readonly insecure: boolean;
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

/** The bucket user's name: one per stack, in the characters MinIO accepts. */
export function bucketUserName(stack: string): string {
  return `ferry-${stack}`.toLowerCase().replace(/[^a-z0-9-]/g, "-");
}

/** The IAM policy that confines the data plane's user to one bucket. */
export function bucketPolicyDocument(bucket: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Action: ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
        Resource: [`arn:aws:s3:::${bucket}`],
      },
      {
        Effect: "Allow",
        Action: [
          "s3:GetObject",
          "s3:PutObject",
          "s3:DeleteObject",
          "s3:AbortMultipartUpload",
          "s3:ListMultipartUploadParts",
        ],
        Resource: [`arn:aws:s3:::${bucket}/*`],
      },
    ],
  });
}
