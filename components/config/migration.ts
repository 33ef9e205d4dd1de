import { z } from "zod";

/** `ferry:migration`: the run's settings. */

export const minutes = (fallback: number) =>
  z
    .number({ error: "must be a number of minutes" })
    .int({ error: "must be a whole number of minutes" })
    .min(1, { error: "must be between 1 and 1440 minutes" })
    .max(1440, { error: "must be between 1 and 1440 minutes" })
    .default(fallback);

/** A run id names Jobs, objects and the run's record: one rule, here. */
export const runIdPattern = /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/;

export const migrationSchema = z
  .strictObject({
    runId: z
      .string({ error: "must be a string" })
      .regex(runIdPattern, {
        error:
          "must be lowercase letters, digits and inner dashes, at most 40 characters (it names Jobs and objects)",
      })
      .describe("names the Jobs and `runs/<runId>/` in the bucket; change it to migrate again"),
    compression: z
      .enum(["gzip", "zstd"], { error: "must be gzip or zstd" })
      .default("zstd")
      .describe("how the dump is compressed"),
    parallelism: z
      .number({ error: "must be a number" })
      .int({ error: "must be a whole number" })
      .min(1, { error: "must be between 1 and 16" })
      .max(16, { error: "must be between 1 and 16" })
      .default(2)
      .describe(
        "dump streams sharing one snapshot, imported side by side, and as many digest sessions on each side; at most one per group of tables joined by foreign keys",
      ),
    chunkMiB: z
      .number({ error: "must be a number" })
      .int({ error: "must be a whole number" })
      .min(1, { error: "must be between 1 and 4096" })
      .max(4096, { error: "must be between 1 and 4096" })
      .default(32)
      .describe(
        "SQL per stored chunk before compression; each chunk is checked whole before its first byte is imported, so smaller chunks start the import sooner and lose less to a broken download",
      ),
    keepDump: z
      .boolean({ error: "must be true or false" })
      .default(false)
      .describe("keep the dump in the bucket after a verified import"),
    overwrite: z
      .boolean({ error: "must be true or false" })
      .default(false)
      .describe(
        "import into databases that already hold objects (tables, views, routines, events), replacing those the dump holds of the same names",
      ),
    stripDefiners: z
      .boolean({ error: "must be true or false" })
      .default(false)
      .describe("drop DEFINER clauses: views and routines belong to the importing account"),
    writeBinlog: z
      .boolean({ error: "must be true or false" })
      .optional()
      .describe(
        "keep the import in the destination's binary log; when not set: false for a managed database (its sessions set sql_log_bin = 0, as myloader does), true for an existing one, whose replicas must see the import",
      ),
    retainData: z
      .boolean({ error: "must be true or false" })
      .default(true)
      .describe("keep the data volume and its namespace on pulumi destroy"),
    dumpTimeoutMinutes: minutes(60).describe("longest the dump may take"),
    importTimeoutMinutes: minutes(120).describe("longest the import may take"),
    verifyTimeoutMinutes: minutes(60).describe("longest the verification may take"),
  })
  .describe("the run");
