import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { scriptsConfigMapData } from "./specs/dataPlane";
import type { DestinationJobContext } from "./specs/jobs";
import { ferryLabels } from "./specs/labels";

/** Everything of the Jobs' context but what this component makes (the scripts, the keys' files). */
export interface DestinationJobsArgs extends Omit<
  DestinationJobContext,
  "scriptsConfigMap" | "bucketSecretKeys" | "runKeyFile"
> {
  /** The run's key (a secret), which opens the sealed dump. */
  readonly runKey: pulumi.Input<string>;
}

/**
 * What the destination's import, verify and cleanup Jobs share: the bucket key and the run key as
 * a Secret, their scripts as a ConfigMap, and the context each Job is built from.
 */
export class DestinationJobs extends pulumi.ComponentResource {
  public readonly context: DestinationJobContext;

  constructor(name: string, args: DestinationJobsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:DestinationJobs", name, {}, opts);
    const { provider, runKey, ...shared } = args;
    const labels = ferryLabels("data-plane");

    // The bucket users' keys and the run key, mounted as files (each Job mounts only the ones it
    // reads); the root password stays in the database's Secret.
    const keys = new k8s.core.v1.Secret(
      `${name}-bucket-key`,
      {
        metadata: { namespace: args.namespace, labels },
        stringData: {
          "s3-secret-key": args.buckets.read.secretKey,
          "s3-cleanup-secret-key": args.buckets.cleanup.secretKey,
          "run-key": runKey,
        },
      },
      { parent: this, provider },
    );

    // The import, verify and cleanup scripts the Jobs run.
    const scripts = new k8s.core.v1.ConfigMap(
      `${name}-scripts`,
      {
        metadata: { namespace: args.namespace, labels },
        data: scriptsConfigMapData([
          "import.sh",
          "verify.sh",
          "cleanup.sh",
          "reach.sh",
          "replicate.sh",
          "cutover.sh",
        ]),
      },
      { parent: this, provider },
    );

    this.context = {
      ...shared,
      provider,
      scriptsConfigMap: scripts.metadata.name,
      bucketSecretKeys: {
        read: { secretName: keys.metadata.name, key: "s3-secret-key" },
        cleanup: { secretName: keys.metadata.name, key: "s3-cleanup-secret-key" },
      },
      runKeyFile: { secretName: keys.metadata.name, key: "run-key" },
    };
    this.registerOutputs({});
  }
}
