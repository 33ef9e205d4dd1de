import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { LiveConfig } from "./config";
import { replicaMountPath, sourceCaKey } from "./specs/database";
import type { SecretFile } from "./specs/databaseAccess";
import { destinationJob, type DestinationJobContext } from "./specs/jobs";
import { ferryLabels } from "./specs/labels";
import { replicationEgressSpec } from "./specs/networkPolicy";
import { jobAwaitTimeouts } from "./specs/timeouts";

export interface ReplicationSourceArgs {
  readonly context: DestinationJobContext;
  /** How the destination reaches and logs in to the source (migration.live). */
  readonly live: LiveConfig;
  /** The source's CA certificate (PEM): replication runs over verified TLS only. */
  readonly sourceCaCert: string;
  /** verify-identity checks the source's certificate names live.sourceHost; verify-ca the chain. */
  readonly verifyIdentity: boolean;
}

/** The key of the replication account's password in the Secret. */
const passwordKey = "replication-password";
/** How long the check may take: a login and two queries, and the pod's start. */
const reachMinutes = 5;

/**
 * Live mode's way from the destination to the source: the replication account's password and the
 * source's CA (a Secret), the NetworkPolicy that lets the server's pods and live mode's Jobs reach
 * the source, and a Job (`ferry-dataplane reach`) that logs in there as the replication account,
 * over the replica's TLS, as the replica will. It runs beside the dump and the import waits for
 * it, so a source the replica could not follow (an address the pods cannot reach, a certificate
 * that does not name it, a refused account, one without REPLICATION SLAVE) fails the run before
 * anything is imported; the stored dump is kept for the next up.
 */
export class ReplicationSource extends pulumi.ComponentResource {
  /** What a Job of live mode sets to dial the source and log in as the replication account. */
  readonly env: Record<string, string>;
  readonly secretFiles: Record<string, SecretFile>;
  readonly egress: k8s.networking.v1.NetworkPolicy;
  /** The check's Job: done once the source answered the replication account from here. */
  readonly reached: k8s.batch.v1.Job;

  constructor(name: string, args: ReplicationSourceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:ReplicationSource", name, {}, opts);
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
    this.egress = new k8s.networking.v1.NetworkPolicy(
      `${name}-egress`,
      {
        metadata: { name: "ferry-replication-egress", namespace: context.namespace, labels },
        spec: replicationEgressSpec({ sourceHost: live.sourceHost, sourcePort: live.sourcePort }),
      },
      child,
    );
    this.env = {
      REPL_HOST: live.sourceHost,
      REPL_PORT: String(live.sourcePort),
      REPL_USER: live.replicationUser,
      // The server reads the CA from its own mount; the Jobs from the Secret's.
      REPL_CA_FILE: `${replicaMountPath}/${sourceCaKey}`,
      REPL_TLS: args.verifyIdentity ? "verify-identity" : "verify-ca",
    };
    this.secretFiles = {
      REPL_PASSWORD_FILE: { secretName: credentials.metadata.name, key: passwordKey },
      SOURCE_TLS_CA_FILE: { secretName: credentials.metadata.name, key: sourceCaKey },
    };
    this.reached = new k8s.batch.v1.Job(
      `${name}-job`,
      destinationJob(context, "reach", {
        env: this.env,
        secretFiles: this.secretFiles,
        // It reads no run: neither the database's password nor the bucket's key nor the run key.
        usesDatabase: false,
        usesBucket: false,
        timeoutMinutes: reachMinutes,
        backoffLimit: 1,
      }),
      {
        ...child,
        dependsOn: [this.egress],
        deleteBeforeReplace: true,
        customTimeouts: jobAwaitTimeouts(reachMinutes),
      },
    );
    this.registerOutputs({});
  }
}
