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
  /**
   * The dump's deadline: the import starts beside the dump and follows it chunk by chunk
   * (FOLLOW_DUMP), so its own deadline is the dump's and its own.
   */
  readonly dumpTimeoutMinutes: number;
  /** The Pulumi project and stack (project/stack): the destination records whose a run id is. */
  readonly stack: string;
  /** METHOD as the preflight decided it: a physical copy is restored, not imported. */
  readonly method: pulumi.Input<string>;
  /** The hooks around the step's run (BucketUserSwitch): its bucket user on only while it runs. */
  readonly hooks: pulumi.ResourceHookBinding;
}

/**
 * How long the import, started beside the dump, waits for the dump to state itself: the dump's
 * Job or command starts at the same moment, and states itself once the source has passed its
 * checks (the ones its preflight ran before the import started), just before its snapshot.
 */
const dumpBeginMinutes = 10;

/**
 * The Job that waits for the database, streams the run's dump from the bucket as the dump stores
 * it (following its sealed indexes until its manifest, or from the manifest when the dump is
 * already complete), checks every chunk's sha256 and imports it. It refuses a damaged object and
 * a non-empty target unless overwrite is set; into a target that holds objects it waits for the
 * manifest rather than follow, and a dump that fails while followed takes back what it imported.
 */
export class ImportJob extends pulumi.ComponentResource {
  constructor(name: string, args: ImportJobArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:ImportJob", name, {}, opts);
    const { context } = args;
    const timeoutMinutes = args.dumpTimeoutMinutes + args.timeoutMinutes;

    // One import a run: the run id in the name makes a new run replace this Job.
    new k8s.batch.v1.Job(
      `${name}-job`,
      destinationJob(context, "import", {
        env: {
          OVERWRITE: String(args.overwrite),
          STRIP_DEFINERS: String(args.stripDefiners),
          WRITE_BINLOG: String(args.writeBinlog),
          FERRY_STACK: args.stack,
          METHOD: args.method,
          // The database runs before the Job starts; a retry may find it restarting.
          WAIT_SECONDS: String(databaseStartSeconds(timeoutMinutes)),
          FOLLOW_DUMP: "true",
          // The dump states itself once the source has passed its checks, before its snapshot,
          // and marks on that statement any failure after it; this bounds only a dump that never
          // begins.
          FOLLOW_WAIT_SECONDS: String(60 * Math.min(dumpBeginMinutes, args.dumpTimeoutMinutes)),
          // Its log lines reach the operator's pulumi up (StepLog).
          ...postLogLines,
        },
        usesDatabase: true,
        timeoutMinutes,
        timeoutKey: "ferry:migration.importTimeoutMinutes",
        timeoutWithKey: "ferry:migration.dumpTimeoutMinutes",
        // A retry resumes this run's own interrupted import; the script refuses anything else.
        backoffLimit: 1,
      }),
      {
        parent: this,
        provider: context.provider,
        customTimeouts: jobAwaitTimeouts(timeoutMinutes),
        deleteBeforeReplace: true,
        hooks: args.hooks,
      },
    );
    this.registerOutputs({});
  }
}
