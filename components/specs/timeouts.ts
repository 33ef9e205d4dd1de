import type * as pulumi from "@pulumi/pulumi";

/**
 * The waits ferry sets itself. The long steps (dump, import, verification) take theirs from
 * ferry:migration.*TimeoutMinutes; these are the short ones, named so a reader knows what each is for.
 */
export const timeouts = {
  /** The cleanup Job only deletes objects. */
  cleanupMinutes: 10,
  /** The read/write Deployment: a small volume provisioned and one probe passed. */
  readWriteTestMinutes: 10,
  /** Longest the import waits for a fresh database to accept connections (capped by its own timeout). */
  databaseStartSecondsMax: 900,
  /** Each Helm release: the chart's workloads ready. */
  helmReleaseSeconds: 600,
} as const;

/** Custom timeouts for a resource the provider awaits (a Job, a command) for `minutes`. */
export function awaitTimeouts(minutes: number): pulumi.CustomTimeouts {
  return { create: `${minutes}m`, update: `${minutes}m` };
}

/**
 * How much longer Pulumi waits for a Job than the Job may run (its activeDeadlineSeconds): the
 * Job's own failure, which says its deadline passed, is what ends the wait, not a bare timeout.
 */
export const jobDeadlineGraceMinutes = 2;

/** Custom timeouts for a Job whose deadline is `minutes`. */
export function jobAwaitTimeouts(minutes: number): pulumi.CustomTimeouts {
  return awaitTimeouts(minutes + jobDeadlineGraceMinutes);
}

/** How long the import waits for the database: its whole timeout, up to the cap. */
export function databaseStartSeconds(importTimeoutMinutes: number): number {
  return Math.min(importTimeoutMinutes * 60, timeouts.databaseStartSecondsMax);
}
