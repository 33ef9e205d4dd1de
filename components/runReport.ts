import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { stdinProgram } from "./dataPlane";

export interface RunReportArgs {
  readonly runId: string;
  /** The object store as the operator's machine reaches it (a URL). */
  readonly objectStoreUrl: pulumi.Input<string>;
  readonly objectStoreInsecure: boolean;
  readonly bucket: pulumi.Input<string>;
  readonly accessKey: pulumi.Input<string>;
  readonly secretKey: pulumi.Input<string>;
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
        stdin: stdinProgram("report.sh", {
          RUN_ID: args.runId,
          S3_ENDPOINT: args.objectStoreUrl,
          S3_INSECURE: String(args.objectStoreInsecure),
          S3_BUCKET: args.bucket,
          S3_ACCESS_KEY: args.accessKey,
          S3_SECRET_KEY: args.secretKey,
        }),
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
