import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { awaitTimeouts, dataPlaneJob, ferryLabels } from "./dataPlane";

/** What every destination Job needs to reach the database and the bucket. */
export interface DestinationJobContext {
  readonly namespace: pulumi.Input<string>;
  readonly image: string;
  readonly imagePullPolicy: string;
  /** ConfigMap holding the data-plane scripts. */
  readonly scriptsConfigMap: pulumi.Input<string>;
  /** Secret holding `root-password` and `s3-secret-key`. */
  readonly secretName: pulumi.Input<string>;
  /** The database's Service name. */
  readonly databaseHost: pulumi.Input<string>;
  readonly objectStoreUrl: pulumi.Input<string>;
  readonly objectStoreInsecure: boolean;
  readonly bucket: pulumi.Input<string>;
  readonly accessKey: pulumi.Input<string>;
  readonly runId: string;
  readonly provider: k8s.Provider;
}

export interface ImportJobArgs {
  readonly context: DestinationJobContext;
  /** Replace databases that already hold tables (ferry:migration.overwrite). */
  readonly overwrite: boolean;
  /** Drop DEFINER clauses so views and routines belong to the importer (ferry:migration.stripDefiners). */
  readonly stripDefiners: boolean;
  /** Write the import to the destination's binary log (ferry:migration.writeBinlog). */
  readonly writeBinlog: boolean;
  readonly timeoutMinutes: number;
}

/**
 * The Job that waits for the database, streams the run's dump from the bucket, checks its sha256
 * against the manifest and imports it. It refuses a run without a manifest, a damaged object and
 * a non-empty target unless overwrite is set.
 */
export class ImportJob extends pulumi.ComponentResource {
  public readonly jobName: pulumi.Output<string>;

  constructor(name: string, args: ImportJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:ImportJob", name, {}, opts);
    const { context } = args;

    // One import a run: the run id in the name makes a new run replace this Job.
    const job = new k8s.batch.v1.Job(
      `${name}-job`,
      destinationJob(context, "import", {
        env: {
          OVERWRITE: String(args.overwrite),
          STRIP_DEFINERS: String(args.stripDefiners),
          WRITE_BINLOG: String(args.writeBinlog),
          WAIT_SECONDS: String(Math.min(args.timeoutMinutes * 60, 900)),
        },
        usesDatabase: true,
        timeoutMinutes: args.timeoutMinutes,
        // A retry resumes this run's own interrupted import; the script refuses anything else.
        backoffLimit: 1,
      }),
      {
        parent: this,
        provider: context.provider,
        customTimeouts: awaitTimeouts(args.timeoutMinutes),
        deleteBeforeReplace: true,
      },
    );

    this.jobName = job.metadata.name;
    this.registerOutputs({ jobName: this.jobName });
  }
}

/**
 * The Job of one destination step: `ferry-<step>-<runId>` running `<step>.sh` with the context's
 * image, scripts and credentials. Only steps that use the database get its password.
 */
export function destinationJob(
  context: DestinationJobContext,
  step: "import" | "verify" | "cleanup",
  spec: {
    readonly env?: Record<string, pulumi.Input<string>>;
    readonly usesDatabase: boolean;
    readonly timeoutMinutes: number;
    readonly backoffLimit: number;
  },
): k8s.batch.v1.JobArgs {
  return dataPlaneJob({
    name: `ferry-${step}-${context.runId}`,
    namespace: context.namespace,
    image: context.image,
    imagePullPolicy: context.imagePullPolicy,
    script: `${step}.sh`,
    scriptsConfigMap: context.scriptsConfigMap,
    env: { ...destinationJobEnvironment(context), ...spec.env },
    secretFiles: spec.usesDatabase
      ? { DEST_PASSWORD_FILE: "root-password", S3_SECRET_KEY_FILE: "s3-secret-key" }
      : { S3_SECRET_KEY_FILE: "s3-secret-key" },
    secretName: context.secretName,
    timeoutMinutes: spec.timeoutMinutes,
    backoffLimit: spec.backoffLimit,
    labels: ferryLabels(step, context.runId),
  });
}

/** The settings shared by the import, verify and cleanup scripts in the destination cluster. */
export function destinationJobEnvironment(
  context: DestinationJobContext,
): Record<string, pulumi.Input<string>> {
  return {
    DEST_HOST: context.databaseHost,
    DEST_PORT: "3306",
    DEST_USER: "root",
    RUN_ID: context.runId,
    S3_ENDPOINT: context.objectStoreUrl,
    S3_INSECURE: String(context.objectStoreInsecure),
    S3_BUCKET: context.bucket,
    S3_ACCESS_KEY: context.accessKey,
  };
}
