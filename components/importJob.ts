import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { postLogLines } from "./specs/dataPlane";
import { destinationJob, type DestinationJobContext } from "./specs/jobs";
import { databaseStartSeconds, jobAwaitTimeouts } from "./specs/timeouts";

export interface ImportJobArgs {
  readonly context: DestinationJobContext;
  /** Replace databases that already hold tables. */
  readonly overwrite: boolean;
  /** Drop DEFINER clauses so views and routines belong to the importer. */
  readonly stripDefiners: boolean;
  /** Write the import to the destination's binary log. */
  readonly writeBinlog: boolean;
  readonly timeoutMinutes: number;
  /** The Pulumi project and stack (project/stack): the destination records whose a run id is. */
  readonly stack: string;
  /** The hooks around the step's run (BucketUserSwitch): its bucket user on only while it runs. */
  readonly hooks: pulumi.ResourceHookBinding;
}

/**
 * The Job that waits for the database, streams the run's dump from the bucket, checks its sha256
 * against the manifest and imports it. It refuses a run without a manifest, a damaged object and
 * a non-empty target unless overwrite is set.
 */
export class ImportJob extends pulumi.ComponentResource {
  constructor(name: string, args: ImportJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:ImportJob", name, {}, opts);
    const { context } = args;

    // One import a run: the run id in the name makes a new run replace this Job.
    new k8s.batch.v1.Job(
      `${name}-job`,
      destinationJob(context, "import", {
        env: {
          OVERWRITE: String(args.overwrite),
          STRIP_DEFINERS: String(args.stripDefiners),
          WRITE_BINLOG: String(args.writeBinlog),
          FERRY_STACK: args.stack,
          WAIT_SECONDS: String(databaseStartSeconds(args.timeoutMinutes)),
          // Its log lines reach the operator's pulumi up (StepLog).
          ...postLogLines,
        },
        usesDatabase: true,
        timeoutMinutes: args.timeoutMinutes,
        timeoutKey: "ferry:migration.importTimeoutMinutes",
        // A retry resumes this run's own interrupted import; the script refuses anything else.
        backoffLimit: 1,
      }),
      {
        parent: this,
        provider: context.provider,
        customTimeouts: jobAwaitTimeouts(args.timeoutMinutes),
        deleteBeforeReplace: true,
        hooks: args.hooks,
      },
    );
    this.registerOutputs({});
  }
}
