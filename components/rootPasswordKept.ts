import { createHash } from "crypto";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { keptValueCommand } from "./specs/commands";

export interface RootPasswordKeptArgs {
  readonly password: pulumi.Input<string>;
  /** What names the server's data volume (namespace, Service, class): a new one starts over. */
  readonly volume: pulumi.Input<string>[];
}

/**
 * What a changed ferry:destinationRootPassword meets on the server ferry runs: nothing would
 * change it, since the server takes the root password from its Secret only when it first
 * initialises its data volume. Without this the Secret would take the new value and the next run's
 * Jobs would be refused by the server, after a dump. This refuses the change at once instead,
 * before the Secret, the dump or any Job, and says what to do.
 */
export const rootPasswordRefusal =
  "ferry:destinationRootPassword changed since the destination server was created, and the server keeps the root password it was first started with (its data volume holds it), so the run's Jobs would be refused; nothing was changed. " +
  "Set it back: pulumi config set --secret destinationRootPassword <the previous value>. " +
  "To change root's password: change it on the server first (ALTER USER 'root'@'%' IDENTIFIED BY ...; and 'root'@'localhost'), then set it here and let ferry take it with pulumi up --replace <the URN of the resource ending in root-password-kept-check; pulumi stack --show-urns lists it>.";

export class RootPasswordKept extends pulumi.ComponentResource {
  constructor(name: string, args: RootPasswordKeptArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:RootPasswordKept", name, {}, opts);
    // A digest, kept as a secret: the state holds no more of the password than it must.
    const digest = pulumi.secret(
      pulumi
        .output(args.password)
        .apply((password) =>
          createHash("sha256").update("ferry root password\0").update(password).digest("hex"),
        ),
    );
    new command.local.Command(
      `${name}-check`,
      keptValueCommand(digest, rootPasswordRefusal, args.volume),
      { parent: this, additionalSecretOutputs: ["stdout"] },
    );
    this.registerOutputs({});
  }
}
