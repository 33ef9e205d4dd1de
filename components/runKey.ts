import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { commandInputs } from "./specs/commands";

export interface RunKeyArgs {
  readonly runId: string;
}

/**
 * Draws 32 bytes from the operator's /dev/urandom and prints them as 64 hex digits, nothing else.
 * POSIX od and tr, so any machine that runs `pulumi up` runs it.
 */
export const drawRunKeyScript = "od -An -N32 -tx1 /dev/urandom | tr -d ' \\n'";

/**
 * The run's key, which seals every object of the dump in the bucket: 32 random bytes drawn once
 * per run id, on the operator's machine, and kept in Pulumi's state as a secret.
 *
 * A command's output is kept until its triggers change, so a re-run of the program reads the same
 * key back and only a new run id draws a new one (the old run's key then leaves the state with its
 * command). The command logs nothing, so the key never reaches the console.
 */
export class RunKey extends pulumi.ComponentResource {
  /** The key as 64 hex digits, a secret output. */
  public readonly key: pulumi.Output<string>;

  constructor(name: string, args: RunKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:RunKey", name, {}, opts);
    const drawn = new command.local.Command(
      `${name}-draw`,
      { create: drawRunKeyScript, triggers: [args.runId], logging: "none", ...commandInputs },
      { parent: this, additionalSecretOutputs: ["stdout"] },
    );
    this.key = pulumi.secret(drawn.stdout);
    this.registerOutputs({ key: this.key });
  }
}
