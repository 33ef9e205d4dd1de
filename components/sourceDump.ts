import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { SourceMode } from "./config";
import {
  awaitTimeouts,
  dataPlaneJob,
  ferryLabels,
  scriptsConfigMapData,
  stdinProgram,
} from "./dataPlane";

export interface SourceDumpArgs {
  /** Where the dump runs: a Job in the source cluster, over SSH on the source host, or here. */
  readonly mode: SourceMode;
  /** The source server as the dump reaches it. */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: pulumi.Input<string>;
  /** The databases to migrate. */
  readonly databases: string[];
  /** Names this run's objects (runs/<runId>/) and Job. */
  readonly runId: string;
  readonly compression: "gzip" | "zstd";
  /** Dump streams that share one snapshot; the import runs as many side by side. */
  readonly parallelism: number;
  /** The object store as the dump reaches it (a URL). */
  readonly objectStoreUrl: pulumi.Input<string>;
  readonly objectStoreInsecure: boolean;
  readonly bucket: pulumi.Input<string>;
  readonly accessKey: pulumi.Input<string>;
  readonly secretKey: pulumi.Input<string>;
  readonly timeoutMinutes: number;
  /** kubernetes mode: the source cluster and where the Job runs. */
  readonly kubernetes?: {
    readonly provider: k8s.Provider;
    readonly namespace: string;
    readonly image: string;
    readonly imagePullPolicy: string;
  };
  /** ssh mode: the source host. */
  readonly ssh?: {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly privateKey: pulumi.Input<string>;
  };
}

/**
 * A consistent online dump of the source, compressed and streamed to the bucket with its manifest
 * written last. The same dump.sh runs in all three modes; only where it runs differs.
 */
export class SourceDump extends pulumi.ComponentResource {
  /** The manifest the dump printed (local and ssh modes); the report reads it from the bucket in every mode. */
  public readonly manifest: pulumi.Output<string | undefined>;
  /** The object-store prefix of this run. */
  public readonly runPrefix: pulumi.Output<string>;

  constructor(name: string, args: SourceDumpArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:SourceDump", name, {}, opts);
    if (args.mode === "kubernetes" && !args.kubernetes) {
      throw new pulumi.ResourceError(
        "ferry:source.kubernetes: is required when mode is kubernetes",
        this,
      );
    }
    if (args.mode === "ssh" && !args.ssh) {
      throw new pulumi.ResourceError("ferry:source.ssh: is required when mode is ssh", this);
    }
    const environment = dumpEnvironment(args);
    const timeouts = awaitTimeouts(args.timeoutMinutes);

    if (args.mode === "kubernetes" && args.kubernetes) {
      const { provider, namespace } = args.kubernetes;
      const labels = ferryLabels("dump", args.runId);

      // The source password and the bucket key reach the pod as files, never as arguments.
      const secret = new k8s.core.v1.Secret(
        `${name}-credentials`,
        {
          metadata: { namespace, labels },
          stringData: { "source-password": args.password, "s3-secret-key": args.secretKey },
        },
        { parent: this, provider },
      );

      // The scripts the Job runs, mounted read-only.
      const scripts = new k8s.core.v1.ConfigMap(
        `${name}-scripts`,
        { metadata: { namespace, labels }, data: scriptsConfigMapData(["dump.sh"]) },
        { parent: this, provider },
      );

      // The dump itself, next to the source database; named from the run id so a new run replaces it.
      new k8s.batch.v1.Job(
        `${name}-job`,
        dataPlaneJob({
          name: `ferry-dump-${args.runId}`,
          namespace,
          image: args.kubernetes.image,
          imagePullPolicy: args.kubernetes.imagePullPolicy,
          script: "dump.sh",
          scriptsConfigMap: scripts.metadata.name,
          env: environment.plain,
          secretFiles: {
            SOURCE_PASSWORD_FILE: "source-password",
            S3_SECRET_KEY_FILE: "s3-secret-key",
          },
          secretName: secret.metadata.name,
          timeoutMinutes: args.timeoutMinutes,
          // A retry is safe: a complete dump is kept, an incomplete one has no manifest.
          backoffLimit: 2,
          labels,
        }),
        { parent: this, provider, customTimeouts: timeouts, deleteBeforeReplace: true },
      );
      this.manifest = pulumi.output(undefined);
    } else if (args.mode === "ssh" && args.ssh) {
      // The script and its secrets go over the SSH channel's stdin: nothing lands in argv or on disk.
      const dump = new command.remote.Command(
        `${name}-ssh`,
        {
          connection: {
            host: args.ssh.host,
            port: args.ssh.port,
            user: args.ssh.user,
            privateKey: args.ssh.privateKey,
          },
          create: "sh -s",
          stdin: stdinProgram("dump.sh", environment.all),
          triggers: [args.runId],
        },
        { parent: this, customTimeouts: timeouts },
      );
      this.manifest = dump.stdout;
    } else {
      // The operator's machine reaches the source directly; the same program arrives on stdin.
      const dump = new command.local.Command(
        `${name}-local`,
        {
          create: "sh -s",
          stdin: stdinProgram("dump.sh", environment.all),
          triggers: [args.runId],
        },
        { parent: this, customTimeouts: timeouts },
      );
      this.manifest = dump.stdout;
    }

    this.runPrefix = pulumi.interpolate`s3://${args.bucket}/runs/${args.runId}/`;
    this.registerOutputs({ manifest: this.manifest, runPrefix: this.runPrefix });
  }
}

/** The dump script's environment: `plain` for a pod (secrets come as files), `all` for stdin. */
export function dumpEnvironment(args: SourceDumpArgs): {
  plain: Record<string, pulumi.Input<string>>;
  all: Record<string, pulumi.Input<string>>;
} {
  const plain: Record<string, pulumi.Input<string>> = {
    SOURCE_HOST: args.host,
    SOURCE_PORT: String(args.port),
    SOURCE_USER: args.user,
    DATABASES: args.databases.join(" "),
    RUN_ID: args.runId,
    COMPRESSION: args.compression,
    PARALLELISM: String(args.parallelism),
    S3_ENDPOINT: args.objectStoreUrl,
    S3_INSECURE: String(args.objectStoreInsecure),
    S3_BUCKET: args.bucket,
    S3_ACCESS_KEY: args.accessKey,
  };
  return {
    plain,
    all: { ...plain, SOURCE_PASSWORD: args.password, S3_SECRET_KEY: args.secretKey },
  };
}
