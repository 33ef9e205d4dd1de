/**
 * Inputs every ferry `Command` sets. The real provider puts the previous stdout and stderr into the
 * environment of an update and a delete (`addPreviousOutputInEnv` defaults to true): the dump's
 * stdout there would grow with its manifest past the kernel's limit for one environment string
 * (128 KiB, and the update fails with E2BIG), and the run key's would put a secret into a child's
 * environment. ferry's commands read nothing from their previous run.
 */
export const commandInputs = { addPreviousOutputInEnv: false } as const;
