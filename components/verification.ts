import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { awaitTimeouts, ferryLabels } from "./dataPlane";
import { databaseVolumeSpec } from "./destinationDatabase";
import { destinationJob, type DestinationJobContext } from "./importJob";

export interface VerificationArgs {
  readonly context: DestinationJobContext;
  /** Compare per-table row counts and checksums with the manifest (ferry:verification.enabled). */
  readonly verifyData: boolean;
  /** Run a Deployment that proves read/write on the new storage (ferry:verification.readWriteTest). */
  readonly readWriteTest: boolean;
  readonly storageClassName: pulumi.Input<string>;
  readonly timeoutMinutes: number;
}

/**
 * Proof that the migration worked: a Job that recomputes every table's row count and checksum on
 * the destination and fails on any difference from the dump, and a Deployment whose readiness
 * probe writes, syncs and reads back a file on a fresh volume of the new class.
 */
export class Verification extends pulumi.ComponentResource {
  public readonly readWriteDeploymentName: pulumi.Output<string | undefined>;

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
          backoffLimit: 0,
        }),
        {
          ...childOpts,
          customTimeouts: awaitTimeouts(args.timeoutMinutes),
          deleteBeforeReplace: true,
        },
      );
    }

    let readWriteDeploymentName: pulumi.Output<string | undefined> = pulumi.output(undefined);
    if (args.readWriteTest) {
      const labels = ferryLabels("read-write-test");
      // A volume of its own, so the probe never touches the migrated data.
      const pvc = new k8s.core.v1.PersistentVolumeClaim(
        `${name}-rw-volume`,
        {
          metadata: { namespace: context.namespace, labels },
          spec: databaseVolumeSpec(args.storageClassName, "64Mi"),
        },
        childOpts,
      );
      // Ready only while a write, fsync and read-back on the new storage succeed.
      const deployment = new k8s.apps.v1.Deployment(
        `${name}-rw-test`,
        {
          metadata: { namespace: context.namespace, labels },
          spec: readWriteDeploymentSpec(
            labels,
            context.image,
            context.imagePullPolicy,
            pvc.metadata.name,
          ),
        },
        { ...childOpts, customTimeouts: { create: "10m", update: "10m" } },
      );
      readWriteDeploymentName = deployment.metadata.name;
    }

    this.readWriteDeploymentName = readWriteDeploymentName;
    this.registerOutputs({ readWriteDeploymentName: this.readWriteDeploymentName });
  }
}

/** The probe writes a fresh token, syncs it to the volume and reads it back. */
export const readWriteProbeScript =
  'token="$(date +%s)-$$"; printf %s "$token" > /data/probe.tmp && sync && mv /data/probe.tmp /data/probe && [ "$(cat /data/probe)" = "$token" ]';

/** The read/write test Deployment's spec. */
export function readWriteDeploymentSpec(
  labels: Record<string, string>,
  image: string,
  imagePullPolicy: string,
  pvcName: pulumi.Input<string>,
): k8s.types.input.apps.v1.DeploymentSpec {
  return {
    replicas: 1,
    strategy: { type: "Recreate" },
    selector: { matchLabels: labels },
    template: {
      metadata: { labels },
      spec: {
        automountServiceAccountToken: false,
        containers: [
          {
            name: "read-write-test",
            image,
            imagePullPolicy,
            command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 5; done"],
            readinessProbe: {
              exec: { command: ["/bin/sh", "-c", readWriteProbeScript] },
              periodSeconds: 10,
              timeoutSeconds: 10,
            },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
            volumeMounts: [{ name: "data", mountPath: "/data" }],
          },
        ],
        volumes: [{ name: "data", persistentVolumeClaim: { claimName: pvcName } }],
      },
    },
  };
}
