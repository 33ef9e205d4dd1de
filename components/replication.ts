import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ReplicationSource } from "./replicationSource";
import { destinationJob, type DestinationJobContext } from "./specs/jobs";
import { jobAwaitTimeouts } from "./specs/timeouts";

export interface ReplicationArgs {
  readonly context: DestinationJobContext;
  /** How the destination reaches the source, checked before the import. */
  readonly source: ReplicationSource;
  /** How long the step watches the new replica (migration.live.catchUpCheckSeconds). */
  readonly catchUpCheckSeconds: number;
  /** The hooks around the step's run (BucketUserSwitch): it reads the manifest. */
  readonly hooks: pulumi.ResourceHookBinding;
  /**
   * Before the cutover, when this `pulumi up` began: a Job's pod does not change once made, so
   * a value new with every up replaces the Job, and every up checks the replica again (its state
   * and lag in the run's live record and the report, a broken replication said with its cause).
   * Absent once cut over: the step has nothing more to check.
   */
  readonly checkRequestedAt?: string;
}

/** How long the step may take: its own check, and reading the manifest before it. */
const deadlineMinutes = 10;

/**
 * Live mode's catch-up: once the import is verified, a Job (`ferry-dataplane replicate`) makes the
 * server ferry runs a replica of the source from the position the dump recorded under its
 * snapshot, and watches it until it has caught up with the source or, with more to apply, still
 * replicates when migration.live.catchUpCheckSeconds are up. The server (DestinationDatabase) has
 * its own server id, the source's CA and is read-only; the way to the source (ReplicationSource)
 * was checked before the import. Run again, the Job leaves a running replication where it is;
 * until the cutover it runs again on every `pulumi up`.
 */
export class Replication extends pulumi.ComponentResource {
  constructor(name: string, args: ReplicationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:Replication", name, {}, opts);
    const { context, source } = args;
    new k8s.batch.v1.Job(
      `${name}-job`,
      destinationJob(context, "replicate", {
        env: {
          ...source.env,
          REPL_CHECK_SECONDS: String(args.catchUpCheckSeconds),
          ...(args.checkRequestedAt ? { REPL_CHECK_REQUESTED_AT: args.checkRequestedAt } : {}),
        },
        secretFiles: source.secretFiles,
        usesDatabase: true,
        timeoutMinutes: deadlineMinutes,
        backoffLimit: 2,
      }),
      {
        parent: this,
        provider: context.provider,
        dependsOn: [source.egress],
        deleteBeforeReplace: true,
        customTimeouts: jobAwaitTimeouts(deadlineMinutes),
        hooks: args.hooks,
      },
    );
    this.registerOutputs({});
  }
}
