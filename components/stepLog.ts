import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { BucketAccess } from "./specs/bucketAccess";
import { scriptCommand } from "./specs/commands";
import { watchEnvironment, type WatchedStep } from "./specs/dataPlane";

/**
 * The longest the watch waits for a step's first line. A Job posts as soon as its program starts,
 * so this covers scheduling and the image pull; a step that dies before its first line (a missing
 * key) leaves pulumi up waiting for the watch this long after the Job has failed, never longer.
 */
export const watchStartMinutes = 10;

export interface StepLogArgs {
  /** The step whose Job runs in a cluster. */
  readonly step: WatchedStep;
  readonly runId: string;
  /** The bucket as this machine reaches it, with the reading user. */
  readonly bucket: BucketAccess;
  readonly runKey: pulumi.Input<string>;
  /** How long the step's Job may take. */
  readonly timeoutMinutes: number;
  /** The hooks around the step's run (BucketUserSwitch): its bucket user on only while it runs. */
  readonly hooks: pulumi.ResourceHookBinding;
}

/**
 * What a Job in a cluster is doing, shown in `pulumi up` while it runs: the Job posts its log
 * lines (progress with bytes, rate and ETA every 10 s) sealed to the bucket, and this command on the
 * operator's machine prints each new one. The Job's own resource still decides success: the watch
 * ends quietly when the step ends, goes silent, or never starts.
 */
export class StepLog extends pulumi.ComponentResource {
  constructor(name: string, args: StepLogArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:StepLog", name, {}, opts);
    new command.local.Command(
      `${name}-watch`,
      // The step's lines are on stderr, each shown as it comes.
      scriptCommand(
        "watch.sh",
        watchEnvironment(
          args.step,
          args.runId,
          args.bucket,
          args.runKey,
          Math.min(args.timeoutMinutes, watchStartMinutes),
        ),
        args.runId,
      ),
      { parent: this, hooks: args.hooks },
    );
    this.registerOutputs({});
  }
}
