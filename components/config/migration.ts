import { z } from "zod";
import { mysqlPort } from "../values";
import { nonEmpty, port, serviceNameLabel } from "./fields";

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

/** `ferry:migration.live`: how the destination replicates from the source until the cutover. */
export const liveSchema = z
  .strictObject(
    {
      sourceHost: nonEmpty.describe(
        "the source server as the destination's pods reach it (its certificate must name it): a NodePort or load balancer of the old cluster, or the source host's address",
      ),
      sourcePort: port.default(mysqlPort).describe("the source server's port as they reach it"),
      replicationUser: nonEmpty.describe(
        "the source account the destination replicates as (secret sourceReplicationPassword); needs REPLICATION SLAVE, and may log in from the destination over TLS",
      ),
      catchUpCheckSeconds: z
        .number({ error: "must be a number of seconds" })
        .int({ error: "must be a whole number of seconds" })
        .min(5, { error: "must be between 5 and 600 seconds" })
        .max(600, { error: "must be between 5 and 600 seconds" })
        .default(30)
        .describe(
          "how long the replication step watches the new replica: it fails if the replica breaks or has not connected by then",
        ),
      applicationService: z
        .strictObject(
          {
            name: serviceNameLabel.describe(
              "the Service's name, in the destination namespace: applications reach <name>.<destination.namespace>.svc",
            ),
            port: port.default(mysqlPort).describe("the port applications connect to"),
          },
          { error: "must be a map (name, port)" },
        )
        .optional()
        .describe(
          "a Service ferry owns for the applications: until the cutover it sends them to the source (sourceHost, an IP address, and sourcePort), from the cutover on to the destination's server (destination.allowFrom must admit them)",
        ),
    },
    {
      error: (issue) =>
        issue.input === undefined
          ? "is required when migration.mode is live (set sourceHost and replicationUser)"
          : "must be a map",
    },
  )
  .describe("live mode: the destination replicates from the source until the cutover");

export const migrationSchema = z
  .strictObject({
    mode: z
      .enum(["snapshot", "live"], { error: "must be snapshot or live" })
      .default("snapshot")
      .describe(
        "snapshot: the source takes no writes from the dump until the applications move; live: after the import the destination replicates from the dump's position until the cutover",
      ),
    live: liveSchema.optional(),
    method: z
      .enum(["logical", "physical", "auto"], { error: "must be logical, physical or auto" })
      .default("logical")
      .describe(
        "logical: the rows as SQL, imported into the destination's server; physical: the source server's data files copied with mariadb-backup where they are (on the source host; for a server in a pod, by a Job beside it reading its claim, source.kubernetes.dataVolume), restored on the new volume before the destination's server starts (MariaDB of the same major.minor on both sides, the source's binary log on); auto: physical where the preflight finds it possible, logical otherwise, saying why (not in source.mode kubernetes, whose Job cannot choose for the graph)",
      ),
    cutover: z
      .boolean({ error: "must be true or false" })
      .default(false)
      .describe(
        "live mode: move the writes to the destination in this pulumi up (the source read-only, the destination caught up, then writable); rolled back if any step before that fails",
      ),
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
    importTimeoutMinutes: minutes(120).describe(
      "longest the import may take once the dump is complete; its Job follows the dump from the start, so its deadline is this plus dumpTimeoutMinutes",
    ),
    verifyTimeoutMinutes: minutes(60).describe("longest the verification may take"),
  })
  .describe("the run");
