import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { commandInputs } from "./specs/commands";

export interface RunKeyArgs {
  readonly runId: string;
  /** The dump's identity (specs/dataPlane.ts dumpIdentity): a dump that would run again draws a new key. */
  readonly dumpIdentity: pulumi.Input<string>;
}

/**
 * Draws 32 bytes from the operator's /dev/urandom and prints them as 64 hex digits, nothing else.
 * POSIX od and tr, so any machine that runs `pulumi up` runs it.
 */
export const drawRunKeyScript = "od -An -N32 -tx1 /dev/urandom | tr -d ' \\n'";

/**
 * The run's key, which seals every object of the dump in the bucket: 32 random bytes drawn on the
 * operator's machine, kept in Pulumi's state as a secret, once per run id and dump: a new run id,
 * or anything that makes the dump run again (another source, bucket or stream setting), draws a
 * new one, so no two dumps ever share a key and an older one cannot pass for the current one.
 *
 * A command's output is kept until its triggers change, so a re-run of the program reads the same
 * key back (the old key then leaves the state with its command). The command logs nothing, so the
 * key never reaches the console.
 */
export class RunKey extends pulumi.ComponentResource {
  /** The key as 64 hex digits, a secret output. */
  public readonly key: pulumi.Output<string>;

  constructor(name: string, args: RunKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:RunKey", name, {}, opts);
    const drawn = new command.local.Command(
      `${name}-draw`,
      {
        create: drawRunKeyScript,
        triggers: [args.runId, args.dumpIdentity],
        logging: "none",
        ...commandInputs,
      },
      { parent: this, additionalSecretOutputs: ["stdout"] },
    );
    this.key = pulumi.secret(drawn.stdout);
    this.registerOutputs({ key: this.key });
  }
}
