import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { scriptCommand } from "./specs/commands";
import { bucketUsersEnvironment, type ObjectStoreAdmin } from "./specs/dataPlane";

export interface BucketRevocationArgs {
  readonly runId: string;
  /** The administrator's credentials, which alone may turn users off. */
  readonly admin: ObjectStoreAdmin;
  /** The run's bucket users (their access keys). */
  readonly users: pulumi.Input<string>[];
}

/**
 * Turns the run's bucket users off once the run is reported: from then on no credential that a
 * step held (in the source namespace, on the SSH host, in the destination's Secrets) opens the
 * bucket. Each user is off by then already (BucketUserSwitch turns it off as its last step ends,
 * whatever the outcome); this step says so in the graph and checks it with the admin's
 * credentials. The users stay, off, until a new run id replaces them or the stack is destroyed.
 */
export class BucketRevocation extends pulumi.ComponentResource {
  constructor(name: string, args: BucketRevocationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:BucketRevocation", name, {}, opts);
    // Last in the graph (the caller orders it); runs once a run id, on this machine.
    new command.local.Command(
      `${name}-revoke`,
      scriptCommand("revoke.sh", bucketUsersEnvironment(args.admin, args.users), args.runId),
      { parent: this },
    );
    this.registerOutputs({});
  }
}
