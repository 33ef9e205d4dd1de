import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ServerCertificates } from "./serverCertificates";
import { serviceDnsNames, type ServerTlsSettings } from "./specs/certificates";
import {
  databaseDeploymentSpec,
  databaseServiceSpec,
  replicaInitFile,
  replicaInitKey,
  replicaServerId,
  sourceCaKey,
  rootPasswordKey,
  tlsFiles,
  volumeClaimSpec,
} from "./specs/database";
import { pullSecretNames } from "./registryPullSecret";
import type { BucketAccess } from "./specs/bucketAccess";
import { scriptsConfigMapData } from "./specs/dataPlane";
import { restoreEgressSpec, type DnsServers } from "./specs/networkPolicy";
import { restoreJob, restoreSecretKeys } from "./specs/restore";
import { jobAwaitTimeouts } from "./specs/timeouts";
import { quantityBytes } from "./values";
import { mysqlPort } from "./values";
import type { DatabaseAccess } from "./specs/jobs";
import type { DestinationLocation } from "./runReport";
import { ferryLabels } from "./specs/labels";
import { restrictedNamespaceLabels } from "./specs/podSecurity";

export interface DestinationDatabaseArgs {
  /** Namespace for the database and the migration's Jobs; created by ferry. */
  readonly namespace: string;
  /** MySQL or MariaDB server image. */
  readonly image: string;
  readonly imagePullPolicy: string;
  /** The registry's credentials (a Docker config.json), when the image needs them. */
  readonly registryCredentials?: pulumi.Input<string>;
  /** StorageClass of the data volume: the new storage. */
  readonly storageClassName: pulumi.Input<string>;
  /** Size of the data volume, a Kubernetes quantity. */
  readonly storageSize: string;
  readonly cpu: string;
  readonly memory: string;
  /** Name of the Service the import and applications connect to. */
  readonly serviceName: string;
  /**
   * The applications' Service (migration.live.applicationService), which the server's certificate
   * names too: from the cutover on applications reach the server by it.
   */
  readonly applicationServiceName?: string;
  readonly rootPassword: pulumi.Input<string>;
  /** The server certificate's key type and lifetime. */
  readonly tls: ServerTlsSettings;
  /** The image with ferry-dataplane, which makes the certificates in the cluster. */
  readonly toolsImage: string;
  /** When this `pulumi up` runs (the certificates' renewal window). */
  readonly now: Date;
  /** When true, `pulumi destroy` leaves the namespace and data volume in place. */
  readonly retainData: boolean;
  /**
   * Live mode: the source's CA certificate (PEM), with which the server replicates from it; the
   * server starts read-only until a run is cut over to it (replicaInitFile).
   */
  readonly replicaOf?: { readonly sourceCaCert: string };
  /** The physical method: the copy restored into the data volume before the server starts. */
  readonly restore?: DatabaseRestoreArgs;
  /** The destination cluster. */
  readonly provider: k8s.Provider;
}

/** What the restore before the server needs (specs/database.ts, restoreInitContainer). */
export interface DatabaseRestoreArgs {
  /** METHOD as the preflight decided it: a run copied logically restores nothing. */
  readonly method: pulumi.Input<string>;
  readonly runId: string;
  /** The Pulumi project and stack (project/stack). */
  readonly stack: string;
  /** The bucket as the cluster's pods reach it, as its reading user. */
  readonly bucket: BucketAccess;
  /** The run's key, which opens the sealed copy. */
  readonly runKey: pulumi.Input<string>;
  /** The store's port and the cluster's DNS pods: the pod's way to the store while it restores. */
  readonly objectStorePort: number;
  readonly dnsServers: DnsServers;
  /** The restore follows the dump: the server is awaited for the dump's time and the import's. */
  readonly dumpTimeoutMinutes: number;
  readonly importTimeoutMinutes: number;
  /** The hooks around the restore's run (BucketUserSwitch): the reading user on while it runs. */
  readonly hooks: pulumi.ResourceHookBinding;
}

/**
 * MySQL in the destination cluster on a volume of the new StorageClass. The data volume (and the
 * namespace that holds it) are retained on destroy unless ferry:migration.retainData is false.
 */
export class DestinationDatabase extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly serviceName: pulumi.Output<string>;
  public readonly pvcName: pulumi.Output<string>;
  /** How the destination Jobs log in: as root, its password mounted from the database's Secret. */
  public readonly access: DatabaseAccess;
  public readonly endpoint: pulumi.Output<string>;
  /** The namespace's pull Secrets, for every pod ferry runs there. */
  public readonly imagePullSecrets: pulumi.Output<string>[];
  /** Where the data lives, for the run's report. */
  public readonly location: pulumi.Output<DestinationLocation>;
  /** The CAs that sign the server's certificate (PEM): what applications trust to reach it. */
  public readonly caCertificate: pulumi.Output<string>;
  /** The server's pod labels: what its Service selects, and the applications' after a cutover. */
  public readonly podSelector: Record<string, string>;

  constructor(name: string, args: DestinationDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:DestinationDatabase", name, {}, opts);
    const { provider } = args;
    const labels = ferryLabels("database");
    this.podSelector = labels;
    const retain = { parent: this, provider, retainOnDelete: args.retainData };

    // Deleting a namespace deletes its PVCs, so it is retained whenever the data is.
    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: {
          name: args.namespace,
          labels: { ...ferryLabels("namespace"), ...restrictedNamespaceLabels },
        },
      },
      retain,
    );

    this.imagePullSecrets = pullSecretNames(
      `${name}-registry`,
      { namespace: namespace.metadata.name, credentials: args.registryCredentials, provider },
      this,
    );

    // The root password, read by the server at first start and by the Jobs as a mounted file.
    const credentials = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { namespace: namespace.metadata.name, labels },
        stringData: { [rootPasswordKey]: args.rootPassword },
      },
      { parent: this, provider },
    );

    // The server's TLS: made in the namespace by a Job, kept there, renewed near its end. The
    // Jobs verify it against the CA and the Service's name, and so can applications.
    const certificates = new ServerCertificates(
      `${name}-tls`,
      {
        namespace: namespace.metadata.name,
        namespaceId: namespace.id,
        serviceName: args.serviceName,
        dnsNames: [
          ...serviceDnsNames(args.serviceName, args.namespace),
          ...(args.applicationServiceName
            ? serviceDnsNames(args.applicationServiceName, args.namespace)
            : []),
        ],
        settings: args.tls,
        image: args.toolsImage,
        imagePullPolicy: args.imagePullPolicy,
        imagePullSecrets: this.imagePullSecrets,
        now: args.now,
        provider,
      },
      { parent: this },
    );
    this.caCertificate = certificates.caCertificate;

    // The migrated data, on the new storage; never deleted by ferry unless asked.
    const pvc = new k8s.core.v1.PersistentVolumeClaim(
      `${name}-data`,
      {
        metadata: {
          name: `${args.serviceName}-data`,
          namespace: namespace.metadata.name,
          labels,
          // A claim kept from an earlier run is adopted already Bound, and the provider would wait
          // forever for the Pending phase a WaitForFirstConsumer class starts in; the server's
          // Deployment is awaited instead, and it is ready only on a bound volume.
          annotations: { "pulumi.com/skipAwait": "true" },
        },
        spec: volumeClaimSpec(args.storageClassName, args.storageSize),
      },
      { ...retain, deleteBeforeReplace: true },
    );

    // Live mode: the source's CA where the server reads it when it connects to the source, and
    // what it runs whenever it starts (read-only until a run is cut over to it). Neither changes
    // at the cutover, so the server is not restarted by it.
    const replica = args.replicaOf
      ? {
          serverId: replicaServerId(args.namespace, args.serviceName),
          configMap: new k8s.core.v1.ConfigMap(
            `${name}-replica`,
            {
              metadata: { namespace: namespace.metadata.name, labels },
              data: {
                [sourceCaKey]: args.replicaOf.sourceCaCert,
                [replicaInitKey]: replicaInitFile,
              },
            },
            { parent: this, provider },
          ).metadata.name,
        }
      : undefined;

    // The physical method: the restore's secrets, scripts and way to the store, in place before
    // the server's pod starts.
    const restore = args.restore
      ? this.restore(
          name,
          args.restore,
          { namespace: namespace.metadata.name, claimName: pvc.metadata.name },
          credentials.metadata.name,
          args,
        )
      : undefined;

    // One server on one volume: Recreate, so two pods never open the same data directory.
    const deployment = new k8s.apps.v1.Deployment(
      `${name}-server`,
      {
        metadata: { name: args.serviceName, namespace: namespace.metadata.name, labels },
        spec: databaseDeploymentSpec({
          labels,
          image: args.image,
          imagePullPolicy: args.imagePullPolicy,
          imagePullSecrets: this.imagePullSecrets,
          cpu: args.cpu,
          memory: args.memory,
          pvcName: pvc.metadata.name,
          credentialsSecretName: credentials.metadata.name,
          tlsSecretName: certificates.serverSecretName,
          // A renewed certificate restarts the server, which reads it only when it starts.
          tlsFingerprint: certificates.fingerprint,
          ...(replica ? { replica } : {}),
        }),
      },
      { parent: this, provider, dependsOn: [certificates, ...(restore ? [restore] : [])] },
    );

    // A stable name for the import, the verification and the applications.
    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: args.serviceName, namespace: namespace.metadata.name, labels },
        spec: databaseServiceSpec(labels),
      },
      { parent: this, provider, dependsOn: [deployment] },
    );

    this.namespace = namespace.metadata.name;
    this.serviceName = service.metadata.name;
    this.pvcName = pvc.metadata.name;
    this.access = {
      host: service.metadata.name,
      port: mysqlPort,
      user: "root",
      passwordFile: { secretName: credentials.metadata.name, key: rootPasswordKey },
      tls: {
        mode: "verify-identity",
        caFile: { secretName: certificates.serverSecretName, key: tlsFiles.ca },
      },
    };
    this.location = pulumi
      .all([namespace.metadata.name, service.metadata.name, pvc.metadata.name])
      .apply(([ns, svc, claim]) => ({
        mode: "managed" as const,
        namespace: ns,
        service: svc,
        dataVolumeClaim: claim,
      }));
    this.endpoint = pulumi.interpolate`${service.metadata.name}.${namespace.metadata.name}.svc:${mysqlPort}`;
    this.registerOutputs({
      namespace: this.namespace,
      serviceName: this.serviceName,
      pvcName: this.pvcName,
      endpoint: this.endpoint,
      caCertificate: this.caCertificate,
    });
  }

  /**
   * The restore's Job on the data volume (specs/restore.ts), its Secret (the bucket's reading key,
   * the run key), its scripts and its way to the store, made before it.
   */
  private restore(
    name: string,
    restore: DatabaseRestoreArgs,
    volume: { namespace: pulumi.Input<string>; claimName: pulumi.Input<string> },
    credentialsSecretName: pulumi.Input<string>,
    args: DestinationDatabaseArgs,
  ): k8s.batch.v1.Job {
    const { provider } = args;
    const { namespace } = volume;
    const labels = ferryLabels("restore", restore.runId);
    const secret = new k8s.core.v1.Secret(
      `${name}-restore`,
      {
        metadata: { namespace, labels },
        stringData: {
          [restoreSecretKeys.bucket]: restore.bucket.secretKey,
          [restoreSecretKeys.runKey]: restore.runKey,
        },
      },
      { parent: this, provider },
    );
    const scripts = new k8s.core.v1.ConfigMap(
      `${name}-restore-scripts`,
      { metadata: { namespace, labels }, data: scriptsConfigMapData(["restore.sh"]) },
      { parent: this, provider },
    );
    const egress = new k8s.networking.v1.NetworkPolicy(
      `${name}-restore-egress`,
      {
        metadata: { name: "ferry-restore", namespace, labels: ferryLabels("restore") },
        spec: restoreEgressSpec({
          objectStorePort: restore.objectStorePort,
          dnsServers: restore.dnsServers,
        }),
      },
      { parent: this, provider },
    );
    const minutes = restore.dumpTimeoutMinutes + restore.importTimeoutMinutes;
    return new k8s.batch.v1.Job(
      `${name}-restore-job`,
      restoreJob({
        runId: restore.runId,
        namespace,
        image: args.toolsImage,
        imagePullPolicy: args.imagePullPolicy,
        imagePullSecrets: this.imagePullSecrets,
        scriptsConfigMap: scripts.metadata.name,
        method: restore.method,
        stack: restore.stack,
        bucket: restore.bucket,
        secretName: secret.metadata.name,
        credentialsSecretName,
        claimName: volume.claimName,
        memoryBytes: quantityBytes(args.memory),
        dumpTimeoutMinutes: restore.dumpTimeoutMinutes,
        importTimeoutMinutes: restore.importTimeoutMinutes,
      }),
      {
        parent: this,
        provider,
        dependsOn: [egress],
        customTimeouts: jobAwaitTimeouts(minutes),
        deleteBeforeReplace: true,
        hooks: restore.hooks,
      },
    );
  }
}
