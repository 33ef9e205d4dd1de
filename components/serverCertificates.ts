import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { apiServerAccess } from "./apiServerAccess";
import {
  certificateObjects,
  certificatesJob,
  certificatesPodLabels,
  certificatesRoleRules,
  publicKeys,
  renewalWindow,
  type ServerTlsSettings,
} from "./specs/certificates";
import { ferryLabels } from "./specs/labels";
import { awaitTimeouts } from "./specs/timeouts";

export interface ServerCertificatesArgs {
  /** The database's namespace, where the keys are made and kept. */
  readonly namespace: pulumi.Input<string>;
  /**
   * The namespace's id: the cluster is read only once it is known, so that a first preview reads
   * nothing (and works before the cluster is reachable, as the rest of the graph does).
   */
  readonly namespaceId: pulumi.Input<string>;
  readonly serviceName: string;
  /** The names the server is dialled by (serviceDnsNames). */
  readonly dnsNames: readonly string[];
  readonly settings: ServerTlsSettings;
  /** The image with ferry-dataplane: the destination's tools image. */
  readonly image: string;
  readonly imagePullPolicy: string;
  readonly imagePullSecrets: readonly pulumi.Input<string>[];
  /** When this `pulumi up` runs: which renewal window the Job belongs to. */
  readonly now: Date;
  readonly provider: k8s.Provider;
}

/** How long the certificates Job may take: it draws two keys and writes three objects. */
const deadlineMinutes = 5;

/**
 * The database server's CA and certificate, made and kept in the destination namespace by a Job
 * (ferry-dataplane certificates) whose service account may touch only them; read back here for
 * the stack's outputs and the server's restart when the certificate changes.
 */
export class ServerCertificates extends pulumi.ComponentResource {
  /** The Secret the server mounts (tls.crt, tls.key, ca.crt). */
  public readonly serverSecretName: string;
  /** The CAs clients trust (PEM bundle): the current one first. */
  public readonly caCertificate: pulumi.Output<string>;
  /** The sha256 of the server's certificate: changes only when the certificate does. */
  public readonly fingerprint: pulumi.Output<string>;

  constructor(name: string, args: ServerCertificatesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:ServerCertificates", name, {}, opts);
    const { provider } = args;
    const objects = certificateObjects(args.serviceName);
    const labels = ferryLabels("tls");
    const child = { parent: this, provider };

    // The Job's account, which may touch its three objects only, and its way to the API server.
    const access = apiServerAccess(
      name,
      {
        namespace: args.namespace,
        labels,
        rules: certificatesRoleRules(objects),
        podLabels: certificatesPodLabels,
        policyName: "ferry-certificates-egress",
        readAfter: args.namespaceId,
        cluster: "the destination cluster",
        job: "the certificates Job",
        provider,
      },
      this,
    );

    const job = new k8s.batch.v1.Job(
      `${name}-job`,
      certificatesJob({
        namespace: args.namespace,
        serviceName: args.serviceName,
        dnsNames: args.dnsNames,
        settings: args.settings,
        window: renewalWindow(args.now, args.settings.validityDays),
        serviceAccountName: access.serviceAccountName,
        image: args.image,
        imagePullPolicy: args.imagePullPolicy,
        imagePullSecrets: args.imagePullSecrets,
        deadlineSeconds: deadlineMinutes * 60,
      }),
      {
        ...child,
        dependsOn: access.ready,
        deleteBeforeReplace: true,
        customTimeouts: awaitTimeouts(deadlineMinutes + 1),
      },
    );

    // Read once the Job has run: at a preview that would run it, its id is unknown and the read
    // waits for the update (the outputs are unknown until then).
    const published = k8s.core.v1.ConfigMap.get(
      `${name}-public`,
      pulumi.all([job.id, args.namespace]).apply(([, ns]) => `${ns}/${objects.publicConfigMap}`),
      { ...child, dependsOn: [job] },
    );
    this.serverSecretName = objects.serverSecret;
    this.caCertificate = published.data.apply((data) => data?.[publicKeys.ca] ?? "");
    this.fingerprint = published.data.apply((data) => data?.[publicKeys.fingerprint] ?? "");
    this.registerOutputs({ caCertificate: this.caCertificate, fingerprint: this.fingerprint });
  }
}
