import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { LiveConfig } from "./config";
import { replicaMountPath, sourceCaKey } from "./specs/database";
import { destinationJob, type DestinationJobContext } from "./specs/jobs";
import { ferryLabels } from "./specs/labels";
import { replicationEgressSpec } from "./specs/networkPolicy";
import { jobAwaitTimeouts } from "./specs/timeouts";

export interface ReplicationArgs {
  readonly context: DestinationJobContext;
  /** How the destination reaches and logs in to the source (migration.live). */
  readonly live: LiveConfig;
  /** The source's CA certificate (PEM): replication runs over verified TLS only. */
  readonly sourceCaCert: string;
  /** verify-identity checks the source's certificate names live.sourceHost; verify-ca the chain. */
  readonly verifyIdentity: boolean;
  /** The hooks around the step's run (BucketUserSwitch): it reads the manifest. */
  readonly hooks: pulumi.ResourceHookBinding;
}

/** The key of the replication account's password in the step's Secret. */
const passwordKey = "replication-password";
/** How long the step may take: its own check, and reading the manifest before it. */
const deadlineMinutes = 10;

/**
 * Live mode's catch-up: once the import is verified, a Job (`ferry-dataplane replicate`) makes the
 * server ferry runs a replica of the source from the position the dump recorded under its
 * snapshot, and watches it until it has caught up with the source or, with more to apply, still
 * replicates when migration.live.catchUpCheckSeconds are up. The server (DestinationDatabase) has
 * its own server id, the source's CA and is read-only; a NetworkPolicy lets it and this Job reach
 * the source. Run again, the Job leaves a running replication where it is.
 */
export class Replication extends pulumi.ComponentResource {
  constructor(name: string, args: ReplicationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:Replication", name, {}, opts);
    const { context, live } = args;
    const child = { parent: this, provider: context.provider };
    const labels = ferryLabels("replicate", context.runId);

    const credentials = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { namespace: context.namespace, labels },
        stringData: { [passwordKey]: live.replicationPassword, [sourceCaKey]: args.sourceCaCert },
      },
      child,
    );
    const egress = new k8s.networking.v1.NetworkPolicy(
      `${name}-egress`,
      {
        metadata: { name: "ferry-replication-egress", namespace: context.namespace, labels },
        spec: replicationEgressSpec({ sourceHost: live.sourceHost, sourcePort: live.sourcePort }),
      },
      child,
    );
    new k8s.batch.v1.Job(
      `${name}-job`,
      destinationJob(context, "replicate", {
        env: {
          REPL_HOST: live.sourceHost,
          REPL_PORT: String(live.sourcePort),
          REPL_USER: live.replicationUser,
          // The server reads the CA from its own mount; this step from its Secret's.
          REPL_CA_FILE: `${replicaMountPath}/${sourceCaKey}`,
          REPL_TLS: args.verifyIdentity ? "verify-identity" : "verify-ca",
          REPL_CHECK_SECONDS: String(live.catchUpCheckSeconds),
        },
        secretFiles: {
          REPL_PASSWORD_FILE: { secretName: credentials.metadata.name, key: passwordKey },
          SOURCE_TLS_CA_FILE: { secretName: credentials.metadata.name, key: sourceCaKey },
        },
        usesDatabase: true,
        timeoutMinutes: deadlineMinutes,
        backoffLimit: 2,
      }),
      {
        ...child,
        dependsOn: [egress],
        deleteBeforeReplace: true,
        customTimeouts: jobAwaitTimeouts(deadlineMinutes),
        hooks: args.hooks,
      },
    );
    this.registerOutputs({});
  }
}
