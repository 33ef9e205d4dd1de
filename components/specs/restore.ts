import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { bucketEnvironment, postLogLines } from "./dataPlane";
import type { BucketAccess } from "./bucketAccess";
import { rootPasswordKey } from "./database";
import { dataPlaneJob } from "./jobs";
import { ferryLabels } from "./labels";

/**
 * The physical method's restore (restore.sh) as a Job on the server's data volume, before the
 * server's Deployment: a Job's failure ends `pulumi up` at once with its reason, where a failing
 * init container of the server would crash-loop until the Deployment's deadline (the provider's
 * await does not fail on it), and a new run's restore would have restarted (Recreate) a server
 * that holds data.
 */

/** The keys of the restore's Secret, and so its file names. */
export const restoreSecretKeys = { bucket: "s3-secret-key", runKey: "run-key" } as const;

/** The server's data directory on the volume's subdirectory (databaseDeploymentSpec's mount). */
export const serverDataDir = { mountPath: "/var/lib/mysql", subPath: "mysql" } as const;

export interface RestoreJobSpec {
  readonly runId: string;
  readonly namespace: pulumi.Input<string>;
  /** The tools image: ferry-dataplane, mbstream, mariadb-backup and the server's version. */
  readonly image: string;
  readonly imagePullPolicy: string;
  readonly imagePullSecrets: readonly pulumi.Input<string>[];
  readonly scriptsConfigMap: pulumi.Input<string>;
  /** METHOD as the preflight decided it: a run copied logically restores nothing. */
  readonly method: pulumi.Input<string>;
  /** The Pulumi project and stack (project/stack), recorded with the run as the import does. */
  readonly stack: string;
  /** The bucket as the cluster's pods reach it, as its reading user (its key is a file). */
  readonly bucket: BucketAccess;
  /** The Secret with the reading user's key and the run key (restoreSecretKeys). */
  readonly secretName: pulumi.Input<string>;
  /** The server's Secret: the root password the restore sets on the restored accounts. */
  readonly credentialsSecretName: pulumi.Input<string>;
  readonly claimName: pulumi.Input<string>;
  /** The server's memory: the prepare's buffer pool is a quarter of it. */
  readonly memoryBytes: number;
  /** The dump's deadline (the restore follows it) and the import's (the prepare after it). */
  readonly dumpTimeoutMinutes: number;
  readonly importTimeoutMinutes: number;
}

/** The restore's Job: beside the dump (FOLLOW_DUMP), as the server's user, on its data directory. */
export function restoreJob(spec: RestoreJobSpec): k8s.batch.v1.JobArgs {
  const dumpSeconds = String(spec.dumpTimeoutMinutes * 60);
  return dataPlaneJob({
    name: `ferry-restore-${spec.runId}`,
    namespace: spec.namespace,
    image: spec.image,
    imagePullPolicy: spec.imagePullPolicy,
    imagePullSecrets: spec.imagePullSecrets,
    script: "restore.sh",
    scriptsConfigMap: spec.scriptsConfigMap,
    env: {
      METHOD: spec.method,
      RUN_ID: spec.runId,
      FERRY_STACK: spec.stack,
      DATA_DIR: serverDataDir.mountPath,
      DEST_USER: "root",
      DEST_ACCOUNT_HOST: "%",
      ...bucketEnvironment(spec.bucket),
      FOLLOW_DUMP: "true",
      FOLLOW_WAIT_SECONDS: dumpSeconds,
      MANIFEST_WAIT_SECONDS: dumpSeconds,
      PREPARE_MEMORY_MIB: String(Math.max(64, Math.floor(spec.memoryBytes / (1 << 20) / 4))),
      // Its log lines reach the operator's pulumi up (StepLog).
      ...postLogLines,
    },
    secretFiles: {
      DEST_PASSWORD_FILE: { secretName: spec.credentialsSecretName, key: rootPasswordKey },
      S3_SECRET_KEY_FILE: { secretName: spec.secretName, key: restoreSecretKeys.bucket },
      RUN_KEY_FILE: { secretName: spec.secretName, key: restoreSecretKeys.runKey },
    },
    timeoutMinutes: spec.dumpTimeoutMinutes + spec.importTimeoutMinutes,
    timeoutKey: "ferry:migration.importTimeoutMinutes",
    timeoutWithKey: "ferry:migration.dumpTimeoutMinutes",
    // A retry empties an unfinished restore of its own and begins again; a refusal is final.
    backoffLimit: 1,
    labels: ferryLabels("restore", spec.runId),
    dataVolume: { claimName: spec.claimName, ...serverDataDir },
  });
}
