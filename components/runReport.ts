import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { scriptCommand } from "./specs/commands";
import { z } from "zod";
import type { MethodDecision } from "./specs/preflight";
import type { FerryConfig } from "./config";
import type { BucketAccess } from "./specs/bucketAccess";
import { reportEnvironment } from "./specs/dataPlane";

export interface RunReportArgs {
  readonly runId: string;
  /** The bucket as this machine reaches it. */
  readonly bucket: BucketAccess;
  /** The run's key, which opens its manifest and verification result. */
  readonly runKey: pulumi.Input<string>;
  /** The hooks around the read (BucketUserSwitch): its bucket user on only while it runs. */
  readonly hooks: pulumi.ResourceHookBinding;
  /**
   * Live mode: how far the run is asked to go (replicating, cut over), and while it replicates
   * when this `pulumi up` began. The read runs again when either changes: the cutover's up
   * reports the cutover, not the replication before it, and every up before it the replica's
   * state as the replication step saw it in that up.
   */
  readonly liveStage?: readonly string[];
}

const count = z.number().int().nonnegative();

/** Live mode's record of the run (runs/<runId>/live.json), as its steps store it. */
const liveRecordSchema = z.object({
  runId: z.string(),
  state: z.enum(["replicating", "cut over"]),
  source: z.string(),
  replication: z
    .object({
      checkedAt: z.iso.datetime(),
      /** -1: the positions did not tell. */
      behind: z.number().int().min(-1),
      secondsBehind: z.number().int().min(-1),
      applied: z.string(),
    })
    .nullable(),
  cutover: z
    .object({
      at: z.string(),
      position: z.string(),
      /** -1: the cutover happened but its record was lost; its log has the details. */
      windowMs: z.number().int().min(-1),
      compared: z.boolean(),
      objects: count,
      tables: count,
      rows: count,
      mismatched: count,
    })
    .nullable(),
});

/** The run record report.sh prints: the manifest (format ferry-dump/7), the verification and live mode's record. */
const runRecordSchema = z.object({
  manifest: z.object({
    format: z.literal("ferry-dump/7"),
    runId: z.string(),
    /** Absent for a logical dump. */
    method: z.enum(["logical", "physical"]).optional(),
    compression: z.string(),
    bytes: count,
    sqlBytes: count,
    streams: z.array(
      z.object({
        name: z.string(),
        bytes: count,
        sqlBytes: count,
        chunks: z.array(
          z.object({
            object: z.string(),
            bytes: count,
            sqlBytes: count,
            sha256: z.string().regex(/^[0-9a-f]{64}$/),
          }),
        ),
      }),
    ),
    databases: z.array(z.string()),
    tableCount: count,
    serverVersion: z.string(),
    binlogFile: z.string(),
    binlogPosition: z.string(),
    gtid: z.string(),
    dumpTool: z.string(),
    startedAt: z.iso.datetime(),
    finishedAt: z.iso.datetime(),
    tables: z.array(
      z.object({ database: z.string(), table: z.string(), rows: count, checksum: z.string() }),
    ),
  }),
  verification: z
    .object({
      ok: z.boolean(),
      tables: count,
      rows: count,
      mismatchedTables: count,
      verifiedAt: z.iso.datetime(),
    })
    .nullable(),
  live: liveRecordSchema.nullable(),
  /** How many of the dump's objects were still in the bucket when the report was read. */
  dumpObjectsPresent: count,
});

/** What the dump recorded and the verification found, read back from the bucket. */
export type RunRecord = z.infer<typeof runRecordSchema>;

/**
 * Reads the run's manifest and verification result from the bucket at the end of `pulumi up`, so
 * the stack outputs report what was actually moved and checked, in every source mode.
 */
export class RunReport extends pulumi.ComponentResource {
  public readonly record: pulumi.Output<RunRecord>;

  constructor(name: string, args: RunReportArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:RunReport", name, {}, opts);

    // Runs on the operator's machine, after everything it reports on (the caller orders it).
    const read = new command.local.Command(
      `${name}-read`,
      // Only what goes wrong is logged; stdout is the record, parsed below.
      scriptCommand(
        "report.sh",
        reportEnvironment(args.runId, args.bucket, args.runKey),
        args.runId,
        args.liveStage ?? [],
      ),
      { parent: this, hooks: args.hooks },
    );

    this.record = read.stdout.apply(parseRunRecord);
    this.registerOutputs({ record: this.record });
  }
}

/** Parses report.sh's output against the record's schema; a clear error rather than a half-filled report. */
export function parseRunRecord(stdout: string): RunRecord {
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch (error) {
    throw new Error(
      `ferry: the run report is not valid JSON (${String(error)}): ${stdout.slice(0, 200)}`,
    );
  }
  const parsed = runRecordSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join(".")}: ${issue.message}`)
      .join("; ");
    throw new Error(`ferry: the run report does not have the expected shape (${problems})`);
  }
  return parsed.data;
}

/** The summary `pulumi up` ends with. */
/** Where the migrated data lives, as the report states it. */
export type DestinationLocation =
  | { mode: "managed"; namespace: string; service: string; dataVolumeClaim: string }
  | { mode: "existing"; server: string; user: string; jobsNamespace: string };

export interface MigrationReport {
  readonly runId: string;
  readonly sourceMode: FerryConfig["source"]["mode"];
  readonly databases: string[];
  readonly bucket: string;
  readonly storageClass: string;
  /** Who installed the class, and what a volume of it gets. */
  readonly storage: string;
  readonly destination: DestinationLocation;
  /** How the data crossed, as the dump's manifest says, and why (the preflight's reason). */
  readonly method: string;
  readonly dump: {
    tables: number;
    rows: number;
    sqlBytes: number;
    storedBytes: number;
    compression: string;
    streams: number;
    serverVersion: string;
    binlogFile: string;
    binlogPosition: string;
    gtid: string;
    startedAt: string;
    finishedAt: string;
    seconds: number;
  };
  readonly verification: string;
  /** Live mode: the replication as last checked, or the cutover. */
  readonly live?: string;
  readonly dumpObjects: string;
  readonly dataKeptOnDestroy: boolean;
}

/** Live mode's line: what the destination's steps recorded, never what they were asked to do. */
export function liveLine(live: RunRecord["live"]): string {
  if (live === null)
    return "NOT RECORDED: no record of the replication in the bucket, so it is not known to run";
  const { cutover, replication } = live;
  if (live.state === "cut over") {
    if (!cutover || cutover.windowMs < 0)
      return `cut over from ${live.source}; its details were not recorded (the cutover Job's log has them)`;
    const compared = !cutover.compared
      ? "NOT compared at the switch"
      : cutover.mismatched === 0
        ? `both sides equal at the switch: ${cutover.tables} tables, ${cutover.rows} rows`
        : `${cutover.mismatched} of ${cutover.objects} objects DIFFER between the sides at the switch (the cutover Job's log names them)`;
    return `cut over from ${live.source} at ${cutover.at} (position ${cutover.position || "none"}): no write accepted anywhere for ${cutover.windowMs} ms; ${compared}`;
  }
  if (!replication) return `replicating from ${live.source}; not checked yet`;
  const behind = replication.behind < 0 ? "an unknown number of" : String(replication.behind);
  const estimate =
    replication.secondsBehind < 0
      ? ""
      : ` (${replication.secondsBehind} s by the replica's estimate)`;
  return `replicating from ${live.source}: ${behind} transactions behind at ${replication.checkedAt}${estimate}; cut over with ferry:migration.cutover true`;
}

function dumpObjectsLine(record: RunRecord, prefix: string): string {
  const total = record.manifest.streams.reduce((sum, stream) => sum + stream.chunks.length, 0);
  const present = record.dumpObjectsPresent;
  if (present === 0) return `removed: ${total} objects under ${prefix}`;
  return `still stored: ${present} of ${total} objects under ${prefix}`;
}

/** The report from the run record and where things ended up. */
/** The method the manifest says the data crossed by, with the preflight's reason when it agrees. */
export function methodLine(used: string, decision: MethodDecision): string {
  return used === decision.method
    ? `${used}: ${decision.reason}`
    : `${used}, though the preflight decided ${decision.method} (${decision.reason}): the dump stored is of another method than this run's graph asked; migrate again with a new ferry:migration.runId`;
}

export function summarize(
  config: FerryConfig,
  record: RunRecord,
  where: {
    bucket: string;
    storageClass: string;
    storage: string;
    destination: DestinationLocation;
    /** The method the preflight decided, and why. */
    decision: MethodDecision;
  },
): MigrationReport {
  const { manifest, verification } = record;
  // Each line states what the bucket holds, never what the steps were supposed to do: a Job
  // that completed without doing its work leaves no verification result behind.
  const verdict = !config.verification.enabled
    ? "not run (ferry:verification.enabled is false)"
    : verification === null
      ? "NOT RECORDED: no verification result in the bucket, so nothing was verified"
      : verification.ok
        ? `passed: ${verification.tables} tables, ${verification.rows} rows match the dump`
        : `FAILED: ${verification.mismatchedTables} of ${verification.tables} tables differ from the dump`;
  return {
    runId: manifest.runId,
    sourceMode: config.source.mode,
    databases: config.source.databases,
    bucket: where.bucket,
    storageClass: where.storageClass,
    storage: where.storage,
    destination: where.destination,
    method: methodLine(manifest.method ?? "logical", where.decision),
    dump: {
      tables: manifest.tableCount,
      rows: manifest.tables.reduce((sum, table) => sum + table.rows, 0),
      sqlBytes: manifest.sqlBytes,
      storedBytes: manifest.bytes,
      compression: manifest.compression,
      streams: manifest.streams.length,
      serverVersion: manifest.serverVersion,
      binlogFile: manifest.binlogFile,
      binlogPosition: manifest.binlogPosition,
      gtid: manifest.gtid,
      startedAt: manifest.startedAt,
      finishedAt: manifest.finishedAt,
      seconds: (Date.parse(manifest.finishedAt) - Date.parse(manifest.startedAt)) / 1000,
    },
    verification: verdict,
    ...(config.migration.mode === "live" ? { live: liveLine(record.live) } : {}),
    dumpObjects: dumpObjectsLine(record, `s3://${where.bucket}/runs/${manifest.runId}/`),
    // ferry never owns an existing server, so nothing of it goes with the stack.
    dataKeptOnDestroy:
      config.destination.database.mode === "existing" || config.migration.retainData,
  };
}
