import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { BucketAccess } from "./bucketAccess";
import { destinationEnvironment, type DataPlaneScript } from "./dataPlane";
import { ferryLabels } from "./labels";
import { restrictedContainer, restrictedPod } from "./podSecurity";
import type { DatabaseAccess, SecretFile } from "./databaseAccess";
import { pullSecretsSpec } from "./registry";
export {
  caCertKey,
  type DatabaseAccess,
  type DatabaseTls,
  type SecretFile,
  type TlsSettings,
} from "./databaseAccess";

/** Where a Job's secret files are mounted (one projected volume, whichever Secrets they come from). */
export const secretMountPath = "/var/run/ferry/secrets";
/** Where the scripts ConfigMap is mounted. */
export const scriptMountPath = "/opt/ferry";

export interface DataPlaneJobSpec {
  /** Job name; it carries the run id so that a new run replaces the Job. */
  readonly name: string;
  readonly namespace: pulumi.Input<string>;
  readonly image: string;
  readonly imagePullPolicy: string;
  /** Secrets with the registry's credentials, when the image needs them. */
  readonly imagePullSecrets: readonly pulumi.Input<string>[];
  readonly script: DataPlaneScript;
  readonly scriptsConfigMap: pulumi.Input<string>;
  /** Plain settings. */
  readonly env: Record<string, pulumi.Input<string>>;
  /** Secret files by environment variable (`DEST_PASSWORD_FILE`). */
  readonly secretFiles: Record<string, SecretFile>;
  readonly timeoutMinutes: number;
  /** The setting timeoutMinutes comes from, which a step stopped by its deadline names. */
  readonly timeoutKey?: string;
  /** Another setting timeoutMinutes adds (the import's deadline is the dump's and its own). */
  readonly timeoutWithKey?: string;
  readonly backoffLimit: number;
  readonly labels: Record<string, string>;
  /**
   * The service account whose token the pod gets, when the step talks to the Kubernetes API (the
   * cutover switching the applications' Service); without it the pod has no token.
   */
  readonly serviceAccountName?: pulumi.Input<string>;
  /**
   * A volume claim the step works in (the restore's data volume), mounted at `mountPath`; a source
   * server's, read only (the physical copy reads it beside the server).
   */
  readonly dataVolume?: {
    readonly claimName: pulumi.Input<string>;
    readonly mountPath: string;
    readonly subPath: string;
    readonly readOnly?: boolean;
  };
  /**
   * The user and group the step runs as instead of ferry's own: the owner of files it must read
   * (a source server's data directory, whose directories only their owner may list).
   */
  readonly runAs?: { readonly user: number; readonly group: number };
  /** Labels of a pod the step must run beside, on its node (where that pod's claim is attached). */
  readonly besidePod?: Record<string, string>;
}

/** The manifest of a Job that runs one data-plane script and exits. */
export function dataPlaneJob(spec: DataPlaneJobSpec): k8s.batch.v1.JobArgs {
  const secretFiles = Object.entries(spec.secretFiles);
  const env: k8s.types.input.core.v1.EnvVar[] = [
    ...Object.entries(spec.env).map(([name, value]) => ({ name, value })),
    ...secretFiles.map(([name, file]) => ({ name, value: `${secretMountPath}/${file.key}` })),
    // The step's deadline as the Job has it, so a step it stops can say so (package deadline).
    { name: "STEP_DEADLINE_SECONDS", value: String(spec.timeoutMinutes * 60) },
    ...(spec.timeoutKey ? [{ name: "STEP_DEADLINE_KEY", value: spec.timeoutKey }] : []),
    ...(spec.timeoutWithKey ? [{ name: "STEP_DEADLINE_WITH", value: spec.timeoutWithKey }] : []),
    { name: "TMPDIR", value: "/tmp" },
    // The pod's user has no home in the image; nothing is read from one.
    { name: "HOME", value: "/tmp" },
  ];
  return {
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels: spec.labels,
      annotations: {
        // A failed Job is replaced on the next `pulumi up` instead of being awaited again.
        "pulumi.com/replaceUnready": "true",
      },
    },
    spec: {
      backoffLimit: spec.backoffLimit,
      activeDeadlineSeconds: spec.timeoutMinutes * 60,
      template: {
        metadata: { labels: spec.labels },
        spec: {
          restartPolicy: "Never",
          securityContext: spec.runAs
            ? {
                ...restrictedPod,
                runAsUser: spec.runAs.user,
                runAsGroup: spec.runAs.group,
                fsGroup: spec.runAs.group,
                // The group is the files' own already: nothing of a volume is changed to match it.
                fsGroupChangePolicy: "OnRootMismatch",
              }
            : restrictedPod,
          ...(spec.besidePod
            ? {
                affinity: {
                  podAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: [
                      {
                        labelSelector: { matchLabels: spec.besidePod },
                        topologyKey: "kubernetes.io/hostname",
                      },
                    ],
                  },
                },
              }
            : {}),
          ...pullSecretsSpec(spec.imagePullSecrets),
          ...(spec.serviceAccountName
            ? { serviceAccountName: spec.serviceAccountName, automountServiceAccountToken: true }
            : { automountServiceAccountToken: false }),
          containers: [
            {
              name: spec.script.replace(/\.sh$/, ""),
              image: spec.image,
              imagePullPolicy: spec.imagePullPolicy,
              command: ["/bin/sh", `${scriptMountPath}/${spec.script}`],
              env,
              terminationMessagePolicy: "FallbackToLogsOnError",
              securityContext: restrictedContainer,
              volumeMounts: [
                { name: "scripts", mountPath: scriptMountPath, readOnly: true },
                { name: "secrets", mountPath: secretMountPath, readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
                ...(spec.dataVolume
                  ? [
                      {
                        name: "data",
                        mountPath: spec.dataVolume.mountPath,
                        subPath: spec.dataVolume.subPath,
                        ...(spec.dataVolume.readOnly ? { readOnly: true } : {}),
                      },
                    ]
                  : []),
              ],
            },
          ],
          volumes: [
            { name: "scripts", configMap: { name: spec.scriptsConfigMap, defaultMode: 0o555 } },
            {
              name: "secrets",
              projected: {
                // Readable by the pod's group (fsGroup), the only one that runs there.
                defaultMode: 0o440,
                // Only the keys this step reads, so a step never holds a secret it does not use.
                sources: secretFiles.map(([, file]) => ({
                  secret: { name: file.secretName, items: [{ key: file.key, path: file.key }] },
                })),
              },
            },
            { name: "tmp", emptyDir: {} },
            ...(spec.dataVolume
              ? [
                  {
                    name: "data",
                    persistentVolumeClaim: {
                      claimName: spec.dataVolume.claimName,
                      // Read only at the volume too: the kubelet then changes nothing of it.
                      ...(spec.dataVolume.readOnly ? { readOnly: true } : {}),
                    },
                  },
                ]
              : []),
          ],
        },
      },
    },
  };
}

/** What every destination Job needs to reach the database and the bucket. */
export interface DestinationJobContext {
  readonly namespace: pulumi.Input<string>;
  readonly image: string;
  readonly imagePullPolicy: string;
  /** Secrets with the registry's credentials, in the Jobs' namespace. */
  readonly imagePullSecrets: readonly pulumi.Input<string>[];
  /** ConfigMap holding the data-plane scripts. */
  readonly scriptsConfigMap: pulumi.Input<string>;
  /** The database the import and verification log in to. */
  readonly database: DatabaseAccess;
  /** The bucket users' secret keys: the reading one, and the cleanup's that may also delete. */
  readonly bucketSecretKeys: Record<DestinationBucketRole, SecretFile>;
  /** The run's key, which opens the sealed dump (every step reads the manifest). */
  readonly runKeyFile: SecretFile;
  /** The bucket as pods of the destination cluster reach it, with each role's credentials. */
  readonly buckets: Record<DestinationBucketRole, BucketAccess>;
  readonly runId: string;
  readonly provider: k8s.Provider;
}

/** The bucket users of the destination side (BucketRole). */
export type DestinationBucketRole = "read" | "cleanup";

/** The destination's steps, each a Job running `<step>.sh`; reach, replicate and cutover in live mode only. */
export type DestinationStep = "import" | "verify" | "cleanup" | "reach" | "replicate" | "cutover";

/**
 * The Job of one destination step: `ferry-<step>-<runId>` running `<step>.sh` with the context's
 * image, scripts and credentials. Only steps that use the database get its password.
 */
export function destinationJob(
  context: DestinationJobContext,
  step: DestinationStep,
  spec: {
    readonly env?: Record<string, pulumi.Input<string>>;
    readonly usesDatabase: boolean;
    /** false: neither the bucket's settings nor its key nor the run key (a step that reads no run). */
    readonly usesBucket?: boolean;
    readonly timeoutMinutes: number;
    readonly timeoutKey?: string;
    readonly timeoutWithKey?: string;
    readonly backoffLimit: number;
    /** Secret files of this step's own, besides the database's and the bucket's. */
    readonly secretFiles?: Record<string, SecretFile>;
    /** The step's service account, when it talks to the Kubernetes API (DataPlaneJobSpec). */
    readonly serviceAccountName?: pulumi.Input<string>;
  },
): k8s.batch.v1.JobArgs {
  // Only the cleanup may delete; the import and verification read (and write their result).
  const role: DestinationBucketRole = step === "cleanup" ? "cleanup" : "read";
  const usesBucket = spec.usesBucket ?? true;
  const bucketKeys: Record<string, SecretFile> = usesBucket
    ? { S3_SECRET_KEY_FILE: context.bucketSecretKeys[role], RUN_KEY_FILE: context.runKeyFile }
    : {};
  return dataPlaneJob({
    name: `ferry-${step}-${context.runId}`,
    namespace: context.namespace,
    image: context.image,
    imagePullPolicy: context.imagePullPolicy,
    imagePullSecrets: context.imagePullSecrets,
    script: `${step}.sh`,
    scriptsConfigMap: context.scriptsConfigMap,
    env: {
      ...(usesBucket
        ? destinationEnvironment(context.database, context.runId, context.buckets[role])
        : { RUN_ID: context.runId }),
      ...spec.env,
    },
    secretFiles: {
      ...(spec.usesDatabase
        ? {
            DEST_PASSWORD_FILE: context.database.passwordFile,
            ...(context.database.tls.caFile
              ? { DEST_TLS_CA_FILE: context.database.tls.caFile }
              : {}),
          }
        : {}),
      ...bucketKeys,
      ...spec.secretFiles,
    },
    timeoutMinutes: spec.timeoutMinutes,
    ...(spec.timeoutKey ? { timeoutKey: spec.timeoutKey } : {}),
    ...(spec.timeoutWithKey ? { timeoutWithKey: spec.timeoutWithKey } : {}),
    backoffLimit: spec.backoffLimit,
    labels: ferryLabels(step, context.runId),
    ...(spec.serviceAccountName ? { serviceAccountName: spec.serviceAccountName } : {}),
  });
}
