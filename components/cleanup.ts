import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { destinationJob, type DestinationJobContext } from "./specs/jobs";
import { timeouts } from "./specs/timeouts";

export interface CleanupArgs {
  readonly context: DestinationJobContext;
  /** Keep the dump object after a verified import. */
  readonly keepDump: boolean;
  /** The hooks around the step's run (BucketUserSwitch): its bucket user on only while it runs. */
  readonly hooks: pulumi.ResourceHookBinding;
}

/**
 * Removes the run's dump object once verification has passed. The script checks the stored
 * verification result itself, so a dump is never removed for a run that did not verify.
 */
export class Cleanup extends pulumi.ComponentResource {
  constructor(name: string, args: CleanupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:Cleanup", name, {}, opts);
    const { context } = args;

    // Runs after verification (the caller orders it); deleting an object twice is harmless.
    new k8s.batch.v1.Job(
      `${name}-job`,
      destinationJob(context, "cleanup", {
        env: { KEEP_DUMP: String(args.keepDump) },
        usesDatabase: false,
        timeoutMinutes: timeouts.cleanupMinutes,
        backoffLimit: 2,
      }),
      {
        parent: this,
        provider: context.provider,
        deleteBeforeReplace: true,
        hooks: args.hooks,
      },
    );
    this.registerOutputs({});
  }
}
