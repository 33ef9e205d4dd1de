import type * as pulumi from "@pulumi/pulumi";
import { stdinProgram, type DataPlaneScript } from "./dataPlane";

/**
 * Inputs every ferry `Command` sets. The real provider puts the previous stdout and stderr into the
 * environment of an update and a delete (`addPreviousOutputInEnv` defaults to true): the dump's
 * stdout there would grow with its manifest past the kernel's limit for one environment string
 * (128 KiB, and the update fails with E2BIG), and the run key's would put a secret into a child's
 * environment. ferry's commands read nothing from their previous run.
 */
export const commandInputs = { addPreviousOutputInEnv: false } as const;

/**
 * A Command's inputs that run one data-plane script, its settings and secrets on stdin (never in
 * argv or a child's environment), once per run id. Its lines on stderr are logged as they come;
 * stdout (the dump's manifest, the report's record) is kept as the output, not logged.
 */
export function scriptCommand(
  script: DataPlaneScript,
  environment: Record<string, pulumi.Input<string>>,
  runId: string,
  /** What else, when it changes, runs the command again. */
  alsoTriggeredBy: readonly string[] = [],
) {
  return {
    create: "sh -s",
    stdin: stdinProgram(script, environment),
    triggers: [runId, ...alsoTriggeredBy],
    logging: "stderr" as const,
    ...commandInputs,
  };
}

/**
 * A Command that holds a value to what it was first given: its create prints the value's digest,
 * kept as its output; a later up with another digest runs its update, which fails with `refusal`
 * (the fixed text ferry gives, not data) before anything that depends on it changes. An update for
 * any other reason (ferry's own new text) finds the digest unchanged and passes. `triggers` name
 * what, when it changes, starts over (create again, any value taken).
 */
export function keptValueCommand(
  digest: pulumi.Input<string>,
  refusal: string,
  triggers: pulumi.Input<string>[],
) {
  return {
    create: 'printf "%s" "$KEPT_DIGEST"',
    update:
      'if [ "${PULUMI_COMMAND_STDOUT-}" = "$KEPT_DIGEST" ]; then printf "%s" "$KEPT_DIGEST"; ' +
      'else printf "%s\\n" "$KEPT_REFUSAL" >&2; exit 1; fi',
    environment: { KEPT_DIGEST: digest, KEPT_REFUSAL: refusal },
    triggers,
    logging: "stderr" as const,
    // The update reads the digest its create printed (and nothing larger or secret).
    addPreviousOutputInEnv: true,
  };
}
