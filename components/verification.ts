import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { volumeClaimSpec } from "./specs/database";
import { destinationJob, type DestinationJobContext } from "./specs/jobs";
import { ferryLabels } from "./specs/labels";
import { readWriteDeploymentSpec, readWriteVolumeSize } from "./specs/readWriteTest";
import { awaitTimeouts, jobAwaitTimeouts, timeouts } from "./specs/timeouts";

export interface VerificationArgs {
  readonly context: DestinationJobContext;
  /** Compare per-table row counts and checksums with the manifest. */
  readonly verifyData: boolean;
  /** Run a Deployment that proves read/write on the new storage. */
  readonly readWriteTest: boolean;
  readonly storageClassName: pulumi.Input<string>;
  readonly timeoutMinutes: number;
  /** The hooks around the verify Job's run (BucketUserSwitch): its bucket user on only while it runs. */
  readonly hooks: pulumi.ResourceHookBinding;
}

/**
 * Proof that the migration worked: a Job that recomputes every table's row count and checksum on
 * the destination and fails on any difference from the dump, and a Deployment whose readiness
 * probe writes, syncs and reads back a file on a fresh volume of the new class.
 */
export class Verification extends pulumi.ComponentResource {
  constructor(name: string, args: VerificationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:Verification", name, {}, opts);
    const { context } = args;
    const childOpts = { parent: this, provider: context.provider };

    if (args.verifyData) {
      // A mismatch fails this Job, and with it the pulumi up.
      new k8s.batch.v1.Job(
        `${name}-job`,
        destinationJob(context, "verify", {
          usesDatabase: true,
          timeoutMinutes: args.timeoutMinutes,
          timeoutKey: "ferry:migration.verifyTimeoutMinutes",
          backoffLimit: 0,
        }),
        {
          ...childOpts,
          customTimeouts: jobAwaitTimeouts(args.timeoutMinutes),
          deleteBeforeReplace: true,
          hooks: args.hooks,
        },
      );
    }

    if (args.readWriteTest) {
      const labels = ferryLabels("read-write-test");
      // A volume of its own, so the probe never touches the migrated data.
      const pvc = new k8s.core.v1.PersistentVolumeClaim(
        `${name}-rw-volume`,
        {
          metadata: { namespace: context.namespace, labels },
          spec: volumeClaimSpec(args.storageClassName, readWriteVolumeSize),
        },
        childOpts,
      );
      // Ready only while a write, fsync and read-back on the new storage succeed.
      new k8s.apps.v1.Deployment(
        `${name}-rw-test`,
        {
          metadata: { namespace: context.namespace, labels },
          spec: readWriteDeploymentSpec(
            labels,
            context.image,
            context.imagePullPolicy,
            context.imagePullSecrets,
            pvc.metadata.name,
          ),
        },
        { ...childOpts, customTimeouts: awaitTimeouts(timeouts.readWriteTestMinutes) },
      );
    }
    this.registerOutputs({});
  }
}
