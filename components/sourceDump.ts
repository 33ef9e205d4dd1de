import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { commandInputs } from "./specs/commands";
import {
  dumpEnvironment,
  postLogLines,
  scriptsConfigMapData,
  stdinProgram,
  type DumpSettings,
} from "./specs/dataPlane";
import { pullSecretNames } from "./registryPullSecret";
import { dataPlaneJob } from "./specs/jobs";
import { ferryLabels } from "./specs/labels";
import { awaitTimeouts } from "./specs/timeouts";

/** Where the dump runs, one variant a source mode. */
export type DumpLocation =
  | {
      /** A Job in the source cluster, next to the source database. */
      readonly mode: "kubernetes";
      readonly provider: k8s.Provider;
      readonly namespace: string;
      readonly image: string;
      readonly imagePullPolicy: string;
    }
  | {
      /** A command on the source host over SSH. */
      readonly mode: "ssh";
      readonly host: string;
      readonly port: number;
      readonly user: string;
      readonly privateKey: pulumi.Input<string>;
      /** The host's public key; without it (an explicit, warned opt-out) any key is accepted. */
      readonly hostKey?: string;
    }
  | {
      /** A command on this machine. */
      readonly mode: "local";
    };

export interface SourceDumpArgs {
  /** What to dump and where to put it. */
  readonly settings: DumpSettings;
  /** Where the dump runs. */
  readonly location: DumpLocation;
  readonly timeoutMinutes: number;
  /** The registry's credentials (a Docker config.json), when the dump Job's image needs them. */
  readonly registryCredentials?: pulumi.Input<string>;
}

/**
 * A consistent online dump of the source, compressed and streamed to the bucket with its manifest
 * written last. The same dump.sh runs in all three modes; only where it runs differs.
 */
export class SourceDump extends pulumi.ComponentResource {
  constructor(name: string, args: SourceDumpArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:SourceDump", name, {}, opts);
    const { settings, location } = args;
    const environment = dumpEnvironment(settings);
    const timeouts = awaitTimeouts(args.timeoutMinutes);

    switch (location.mode) {
      case "kubernetes": {
        const { provider, namespace } = location;
        const labels = ferryLabels("dump", settings.runId);

        // The source password, the bucket key and the run key reach the pod as files, never as
        // arguments.
        const secret = new k8s.core.v1.Secret(
          `${name}-credentials`,
          {
            metadata: { namespace, labels },
            stringData: {
              "source-password": settings.password,
              "s3-secret-key": settings.bucket.secretKey,
              "run-key": settings.runKey,
            },
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
            name: `ferry-dump-${settings.runId}`,
            namespace,
            image: location.image,
            imagePullPolicy: location.imagePullPolicy,
            imagePullSecrets: pullSecretNames(
              `${name}-registry`,
              { namespace, credentials: args.registryCredentials, provider },
              this,
            ),
            script: "dump.sh",
            scriptsConfigMap: scripts.metadata.name,
            // Its log lines reach the operator's pulumi up (StepLog).
            env: { ...environment.plain, ...postLogLines },
            secretFiles: {
              SOURCE_PASSWORD_FILE: { secretName: secret.metadata.name, key: "source-password" },
              S3_SECRET_KEY_FILE: { secretName: secret.metadata.name, key: "s3-secret-key" },
              RUN_KEY_FILE: { secretName: secret.metadata.name, key: "run-key" },
            },
            timeoutMinutes: args.timeoutMinutes,
            // A retry is safe: a complete dump is kept, an incomplete one has no manifest.
            backoffLimit: 2,
            labels,
          }),
          { parent: this, provider, customTimeouts: timeouts, deleteBeforeReplace: true },
        );
        break;
      }
      case "ssh":
        // The script and its secrets go over the SSH channel's stdin: nothing lands in argv or on disk.
        new command.remote.Command(
          `${name}-ssh`,
          {
            connection: {
              host: location.host,
              port: location.port,
              user: location.user,
              privateKey: location.privateKey,
              ...(location.hostKey ? { hostKey: location.hostKey } : {}),
            },
            create: "sh -s",
            stdin: stdinProgram("dump.sh", environment.all),
            triggers: [settings.runId],
            // Its progress is on stderr; stdout is the manifest, kept as the command's output.
            logging: "stderr",
            ...commandInputs,
          },
          { parent: this, customTimeouts: timeouts },
        );
        break;
      case "local":
        // The operator's machine reaches the source directly; the same program arrives on stdin.
        new command.local.Command(
          `${name}-local`,
          {
            create: "sh -s",
            stdin: stdinProgram("dump.sh", environment.all),
            triggers: [settings.runId],
            // Its progress is on stderr; stdout is the manifest, kept as the command's output.
            logging: "stderr",
            ...commandInputs,
          },
          { parent: this, customTimeouts: timeouts },
        );
        break;
      default: {
        const unknown: never = location;
        throw new pulumi.ResourceError(`unknown dump location ${JSON.stringify(unknown)}`, this);
      }
    }

    this.registerOutputs({});
  }
}
