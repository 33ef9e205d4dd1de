import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { scriptCommand } from "./specs/commands";
import {
  dumpEnvironment,
  postLogLines,
  scriptsConfigMapData,
  type DumpSettings,
} from "./specs/dataPlane";
import { pullSecretNames } from "./registryPullSecret";
import { caCertKey, dataPlaneJob } from "./specs/jobs";
import {
  parseDecision,
  preflightEnvironment,
  type MethodDecision,
  type PreflightSettings,
} from "./specs/preflight";
import { ferryLabels } from "./specs/labels";
import { dumpEgressSpec, type DnsServers } from "./specs/networkPolicy";
import { awaitTimeouts, jobAwaitTimeouts } from "./specs/timeouts";
import { SourceCredentialsRemoval } from "./sourceCredentialsRemoval";
import { reachableSshHost } from "./sshReachability";
import type { CopyMethod } from "./config/types";

/** Where the dump runs, one variant a source mode. */
export type DumpLocation =
  | {
      /** A Job in the source cluster, next to the source database. */
      readonly mode: "kubernetes";
      readonly provider: k8s.Provider;
      readonly namespace: string;
      readonly image: string;
      readonly imagePullPolicy: string;
      /** The object store's port as the source cluster's pods reach it (their egress policy). */
      readonly objectStorePort: number;
      /** The source cluster's DNS pods, which the run's pods there may reach on port 53. */
      readonly dnsServers: DnsServers;
      /** The server's data volume, which a physical copy reads (config: source.kubernetes.dataVolume). */
      readonly dataVolume?: SourceDataVolume;
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

/** A source server's data volume in its cluster, as the physical copy's Jobs mount it. */
export interface SourceDataVolume {
  readonly claim: string;
  readonly subPath: string;
  /** The data directory as the server names it: the Jobs mount the claim there. */
  readonly mountPath: string;
  readonly user: number;
  readonly group: number;
  readonly serverPodLabels: Record<string, string>;
}

export interface SourceDumpArgs {
  /** What to dump and where to put it. */
  readonly settings: DumpSettings;
  /** What the preflight checks the source against. */
  readonly preflight: PreflightSettings;
  /** Where the dump runs. */
  readonly location: DumpLocation;
  readonly timeoutMinutes: number;
  /** The registry's credentials (a Docker config.json), when the dump Job's image needs them. */
  readonly registryCredentials?: pulumi.Input<string>;
  /**
   * The method the graph is built for (config/method.ts): where no preflight's output decides it
   * (a source in a pod), it is the run's.
   */
  readonly method: CopyMethod;
  /** The hooks around the dump's run (BucketUserSwitch): its bucket user on only while it runs. */
  readonly dumpHooks: pulumi.ResourceHookBinding;
}

/**
 * The source's side of a run, where the source is reached: first the preflight (the user's
 * privileges, collations the destination cannot take, the size against its volume), then a
 * consistent online dump, compressed, sealed and streamed to the bucket with its manifest written
 * last. The same scripts run in all three modes; only where they run differs.
 */
export class SourceDump extends pulumi.ComponentResource {
  /** The preflight: what must pass before anything is dumped or installed. */
  public readonly preflight: pulumi.Resource;
  /**
   * The method the run takes and why, as the preflight decided it on the source's host; logical
   * for a source in a pod, which the configuration allows no other.
   */
  public readonly decision: pulumi.Output<MethodDecision>;

  constructor(name: string, args: SourceDumpArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:SourceDump", name, {}, opts);
    const { settings, location } = args;
    const checks = preflightEnvironment(settings, args.preflight);
    // The dump's environment once the preflight has decided its method.
    const dumpAfter = (decision: pulumi.Output<MethodDecision>) =>
      dumpEnvironment(
        settings,
        decision.apply((d) => d.method),
      );
    const timeouts = awaitTimeouts(args.timeoutMinutes);

    switch (location.mode) {
      case "kubernetes": {
        const { provider, namespace } = location;
        // A Job's output is not read back: the graph's method is the run's. A physical copy is
        // only built for one requested as such (config/method.ts), which the preflight Job
        // confirms or refuses, stopping the run.
        const { method } = args;
        this.decision = pulumi.output({ method: method.kind, reason: method.reason });
        const copiesFiles = method.kind === "physical" ? location.dataVolume : undefined;
        if (method.kind === "physical" && !copiesFiles) {
          throw new pulumi.ResourceError(
            "a physical copy of a source in a pod needs source.kubernetes.dataVolume (config/method.ts refuses it without)",
            this,
          );
        }
        const environment = dumpAfter(this.decision);
        const labels = ferryLabels("dump", settings.runId);

        // The source password, the bucket key and the run key reach the pods as files, never as
        // arguments; the preflight mounts only the password. Removed once the dump is stored
        // (SourceCredentialsRemoval, below).
        const secret = new k8s.core.v1.Secret(
          `${name}-credentials`,
          {
            metadata: { namespace, labels },
            stringData: {
              "source-password": settings.password,
              "s3-secret-key": settings.bucket.secretKey,
              "run-key": settings.runKey,
              ...(settings.tls.caCert ? { [caCertKey]: settings.tls.caCert } : {}),
            },
          },
          { parent: this, provider },
        );

        // The scripts the Jobs run, mounted read-only.
        const scripts = new k8s.core.v1.ConfigMap(
          `${name}-scripts`,
          {
            metadata: { namespace, labels },
            data: scriptsConfigMapData(["preflight.sh", "dump.sh"]),
          },
          { parent: this, provider },
        );
        const imagePullSecrets = pullSecretNames(
          `${name}-registry`,
          { namespace, credentials: args.registryCredentials, provider },
          this,
        );
        const pod = {
          namespace,
          image: location.image,
          imagePullPolicy: location.imagePullPolicy,
          imagePullSecrets,
          scriptsConfigMap: scripts.metadata.name,
          labels,
          // A physical copy reads the server's files where the server has them: its claim, read
          // only, on its node, as their owner. The preflight reads them too, to decide.
          ...(copiesFiles
            ? {
                dataVolume: {
                  claimName: copiesFiles.claim,
                  mountPath: copiesFiles.mountPath,
                  subPath: copiesFiles.subPath,
                  readOnly: true,
                },
                runAs: { user: copiesFiles.user, group: copiesFiles.group },
                besidePod: copiesFiles.serverPodLabels,
              }
            : {}),
        };
        // What each source session reads: the password, and the CA when one is configured.
        const sourceFiles = {
          SOURCE_PASSWORD_FILE: { secretName: secret.metadata.name, key: "source-password" },
          ...(settings.tls.caCert
            ? { SOURCE_TLS_CA_FILE: { secretName: secret.metadata.name, key: caCertKey } }
            : {}),
        };

        // The run's pods reach the source and the store only; in place before either runs.
        const egress = new k8s.networking.v1.NetworkPolicy(
          `${name}-egress`,
          {
            metadata: { name: `ferry-dump-${settings.runId}`, namespace, labels },
            spec: dumpEgressSpec({
              runId: settings.runId,
              source: { host: settings.host, port: settings.port },
              objectStorePort: location.objectStorePort,
              dnsServers: location.dnsServers,
            }),
          },
          { parent: this, provider, deleteBeforeReplace: true },
        );

        // The preflight: a refusal is final, so it is not retried.
        this.preflight = new k8s.batch.v1.Job(
          `${name}-preflight`,
          dataPlaneJob({
            ...pod,
            name: `ferry-preflight-${settings.runId}`,
            script: "preflight.sh",
            env: checks.plain,
            secretFiles: sourceFiles,
            timeoutMinutes: 10,
            backoffLimit: 0,
          }),
          {
            parent: this,
            provider,
            customTimeouts: jobAwaitTimeouts(10),
            deleteBeforeReplace: true,
            dependsOn: [egress],
          },
        );

        // The dump itself, next to the source database; named from the run id so a new run replaces it.
        const dump = new k8s.batch.v1.Job(
          `${name}-job`,
          dataPlaneJob({
            ...pod,
            name: `ferry-dump-${settings.runId}`,
            script: "dump.sh",
            // Its log lines reach the operator's pulumi up (StepLog).
            env: { ...environment.plain, ...postLogLines },
            secretFiles: {
              ...sourceFiles,
              S3_SECRET_KEY_FILE: { secretName: secret.metadata.name, key: "s3-secret-key" },
              RUN_KEY_FILE: { secretName: secret.metadata.name, key: "run-key" },
            },
            timeoutMinutes: args.timeoutMinutes,
            timeoutKey: "ferry:migration.dumpTimeoutMinutes",
            // A retry is safe: a complete dump is kept, an incomplete one has no manifest.
            backoffLimit: 2,
          }),
          {
            parent: this,
            provider,
            customTimeouts: jobAwaitTimeouts(args.timeoutMinutes),
            deleteBeforeReplace: true,
            dependsOn: [this.preflight],
            hooks: args.dumpHooks,
          },
        );
        new SourceCredentialsRemoval(
          `${name}-forget`,
          {
            runId: settings.runId,
            namespace,
            secretName: secret.metadata.name,
            dump,
            image: location.image,
            imagePullPolicy: location.imagePullPolicy,
            imagePullSecrets,
            provider,
          },
          { parent: this },
        );
        break;
      }
      case "ssh": {
        // The scripts and their secrets go over the SSH channel's stdin: nothing lands in argv or
        // on disk.
        const connection = {
          // Reached first by ferry's own probe, whose error names the setting to fix.
          host: reachableSshHost(location.host, location.port),
          port: location.port,
          user: location.user,
          privateKey: location.privateKey,
          ...(location.hostKey ? { hostKey: location.hostKey } : {}),
        };
        const preflight = new command.remote.Command(
          `${name}-ssh-preflight`,
          { connection, ...scriptCommand("preflight.sh", checks.all, settings.runId) },
          { parent: this, customTimeouts: awaitTimeouts(10) },
        );
        this.preflight = preflight;
        this.decision = preflight.stdout.apply(parseDecision);
        new command.remote.Command(
          `${name}-ssh`,
          // Its progress is on stderr; stdout is the manifest, kept as the command's output.
          { connection, ...scriptCommand("dump.sh", dumpAfter(this.decision).all, settings.runId) },
          {
            parent: this,
            customTimeouts: timeouts,
            dependsOn: [this.preflight],
            hooks: args.dumpHooks,
          },
        );
        break;
      }
      case "local":
        // The operator's machine reaches the source directly; the same programs arrive on stdin.
        const preflight = new command.local.Command(
          `${name}-local-preflight`,
          scriptCommand("preflight.sh", checks.all, settings.runId),
          { parent: this, customTimeouts: awaitTimeouts(10) },
        );
        this.preflight = preflight;
        this.decision = preflight.stdout.apply(parseDecision);
        new command.local.Command(
          `${name}-local`,
          scriptCommand("dump.sh", dumpAfter(this.decision).all, settings.runId),
          {
            parent: this,
            customTimeouts: timeouts,
            dependsOn: [this.preflight],
            hooks: args.dumpHooks,
          },
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
