import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { dataPlaneJob, ferryLabels } from "./dataPlane";
import { destinationJobEnvironment, type DestinationJobContext } from "./importJob";

export interface CleanupArgs {
  readonly context: DestinationJobContext;
  /** Keep the dump object after a verified import (ferry:migration.keepDump). */
  readonly keepDump: boolean;
}

/**
 * Removes the run's dump object once verification has passed. The script checks the stored
 * verification result itself, so a dump is never removed for a run that did not verify.
 */
export class Cleanup extends pulumi.ComponentResource {
  public readonly jobName: pulumi.Output<string>;

  constructor(name: string, args: CleanupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:Cleanup", name, {}, opts);
    const { context } = args;

    // Runs after verification (the caller orders it); deleting an object twice is harmless.
    const job = new k8s.batch.v1.Job(
      `${name}-job`,
      dataPlaneJob({
        name: `ferry-cleanup-${context.runId}`,
        namespace: context.namespace,
        image: context.image,
        imagePullPolicy: context.imagePullPolicy,
        script: "cleanup.sh",
        scriptsConfigMap: context.scriptsConfigMap,
        env: { ...destinationJobEnvironment(context), KEEP_DUMP: String(args.keepDump) },
        secretFiles: { S3_SECRET_KEY_FILE: "s3-secret-key" },
        secretName: context.secretName,
        timeoutMinutes: 10,
        backoffLimit: 2,
        labels: ferryLabels("cleanup", context.runId),
      }),
      { parent: this, provider: context.provider, deleteBeforeReplace: true },
    );

    this.jobName = job.metadata.name;
    this.registerOutputs({ jobName: this.jobName });
  }
}
