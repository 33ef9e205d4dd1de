import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { FerryConfig } from "./config";
import type { BucketAccess } from "./specs/bucketAccess";
import { reportEnvironment, stdinProgram } from "./specs/dataPlane";

export interface RunReportArgs {
  readonly runId: string;
  /** The bucket as this machine reaches it. */
  readonly bucket: BucketAccess;
}

/** What the dump recorded and the verification found, read back from the bucket. */
export interface RunRecord {
  readonly manifest: {
    readonly runId: string;
    readonly compression: string;
    readonly bytes: number;
    readonly sqlBytes: number;
    readonly objects: {
      stream: string;
      object: string;
      bytes: number;
      sqlBytes: number;
      sha256: string;
    }[];
    readonly databases: string;
    readonly tableCount: number;
    readonly serverVersion: string;
    readonly binlogFile: string;
    readonly binlogPosition: string;
    readonly gtid: string;
    readonly dumpTool: string;
    readonly startedAt: string;
    readonly finishedAt: string;
    readonly tables: { database: string; table: string; rows: number; checksum: string }[];
  };
  readonly verification: {
    readonly ok: boolean;
    readonly tables: number;
    readonly rows: number;
    readonly mismatchedTables: number;
    readonly verifiedAt: string;
  } | null;
  /** How many of the dump's objects were still in the bucket when the report was read. */
  readonly dumpObjectsPresent: number;
}

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
      {
        create: "sh -s",
        stdin: stdinProgram("report.sh", reportEnvironment(args.runId, args.bucket)),
        triggers: [args.runId],
      },
      { parent: this },
    );

    this.record = read.stdout.apply(parseRunRecord);
    this.registerOutputs({ record: this.record });
  }
}

/** Parses report.sh's output; a clear error rather than a half-filled report. */
export function parseRunRecord(stdout: string): RunRecord {
  try {
    return JSON.parse(stdout) as RunRecord;
  } catch (error) {
    throw new Error(
      `ferry: the run report is not valid JSON (${String(error)}): ${stdout.slice(0, 200)}`,
    );
  }
}

/** The summary `pulumi up` ends with. */
export interface MigrationReport {
  readonly runId: string;
  readonly sourceMode: FerryConfig["source"]["mode"];
  readonly databases: string[];
  readonly bucket: string;
  readonly storageClass: string;
  readonly destination: { namespace: string; service: string; dataVolumeClaim: string };
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
  readonly dumpObjects: string;
  readonly dataKeptOnDestroy: boolean;
}

function dumpObjectsLine(record: RunRecord, prefix: string): string {
  const total = record.manifest.objects.length;
  const present = record.dumpObjectsPresent;
  if (present === 0) return `removed: ${total} objects under ${prefix}`;
  return `still stored: ${present} of ${total} objects under ${prefix}`;
}

/** The report from the run record and where things ended up. */
export function summarize(
  config: FerryConfig,
  record: RunRecord,
  where: { bucket: string; storageClass: string; namespace: string; service: string; pvc: string },
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
    destination: { namespace: where.namespace, service: where.service, dataVolumeClaim: where.pvc },
    dump: {
      tables: manifest.tableCount,
      rows: manifest.tables.reduce((sum, table) => sum + table.rows, 0),
      sqlBytes: manifest.sqlBytes,
      storedBytes: manifest.bytes,
      compression: manifest.compression,
      streams: manifest.objects.length,
      serverVersion: manifest.serverVersion,
      binlogFile: manifest.binlogFile,
      binlogPosition: manifest.binlogPosition,
      gtid: manifest.gtid,
      startedAt: manifest.startedAt,
      finishedAt: manifest.finishedAt,
      seconds: (Date.parse(manifest.finishedAt) - Date.parse(manifest.startedAt)) / 1000,
    },
    verification: verdict,
    dumpObjects: dumpObjectsLine(record, `s3://${where.bucket}/runs/${manifest.runId}/`),
    dataKeptOnDestroy: config.migration.retainData,
  };
}
