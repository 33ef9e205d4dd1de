import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { BucketAccess } from "./specs/bucketAccess";
import { scriptsConfigMapData } from "./specs/dataPlane";
import type { DestinationJobContext, SecretFile } from "./specs/jobs";
import { ferryLabels } from "./specs/labels";

export interface DestinationJobsArgs {
  /** The namespace of the database, where the Jobs run. */
  readonly namespace: pulumi.Input<string>;
  readonly image: string;
  readonly imagePullPolicy: string;
  /** The database's Service name. */
  readonly databaseHost: pulumi.Input<string>;
  /** The database's root password, from the database's own Secret. */
  readonly rootPasswordFile: SecretFile;
  /** The bucket as pods of the destination cluster reach it. */
  readonly bucket: BucketAccess;
  readonly runId: string;
  /** The destination cluster. */
  readonly provider: k8s.Provider;
}

/**
 * What the destination's import, verify and cleanup Jobs share: the bucket key as a Secret, their
 * scripts as a ConfigMap, and the context each Job is built from.
 */
export class DestinationJobs extends pulumi.ComponentResource {
  public readonly context: DestinationJobContext;

  constructor(name: string, args: DestinationJobsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:DestinationJobs", name, {}, opts);
    const { provider } = args;
    const labels = ferryLabels("data-plane");

    // The bucket user's key, mounted as a file; the root password stays in the database's Secret.
    const bucketKey = new k8s.core.v1.Secret(
      `${name}-bucket-key`,
      {
        metadata: { namespace: args.namespace, labels },
        stringData: { "s3-secret-key": args.bucket.secretKey },
      },
      { parent: this, provider },
    );

    // The import, verify and cleanup scripts the Jobs run.
    const scripts = new k8s.core.v1.ConfigMap(
      `${name}-scripts`,
      {
        metadata: { namespace: args.namespace, labels },
        data: scriptsConfigMapData(["import.sh", "verify.sh", "cleanup.sh"]),
      },
      { parent: this, provider },
    );

    this.context = {
      namespace: args.namespace,
      image: args.image,
      imagePullPolicy: args.imagePullPolicy,
      scriptsConfigMap: scripts.metadata.name,
      rootPassword: args.rootPasswordFile,
      bucketSecretKey: { secretName: bucketKey.metadata.name, key: "s3-secret-key" },
      databaseHost: args.databaseHost,
      bucket: args.bucket,
      runId: args.runId,
      provider,
    };
    this.registerOutputs({});
  }
}
