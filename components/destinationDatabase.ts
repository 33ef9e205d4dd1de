import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ferryLabels } from "./dataPlane";

export interface DestinationDatabaseArgs {
  /** Namespace for the database and the migration's Jobs; created by ferry. */
  readonly namespace: string;
  /** MySQL or MariaDB server image. */
  readonly image: string;
  readonly imagePullPolicy: string;
  /** StorageClass of the data volume: the new storage. */
  readonly storageClassName: pulumi.Input<string>;
  /** Size of the data volume, a Kubernetes quantity. */
  readonly storageSize: string;
  readonly cpu: string;
  readonly memory: string;
  /** Name of the Service the import and applications connect to. */
  readonly serviceName: string;
  readonly rootPassword: pulumi.Input<string>;
  /** When true, `pulumi destroy` leaves the namespace and data volume in place. */
  readonly retainData: boolean;
  /** The destination cluster. */
  readonly provider: k8s.Provider;
}

/**
 * MySQL in the destination cluster on a volume of the new StorageClass. The data volume (and the
 * namespace that holds it) are retained on destroy unless ferry:migration.retainData is false.
 */
export class DestinationDatabase extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly serviceName: pulumi.Output<string>;
  public readonly pvcName: pulumi.Output<string>;
  public readonly credentialsSecretName: pulumi.Output<string>;
  public readonly endpoint: pulumi.Output<string>;

  constructor(name: string, args: DestinationDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:DestinationDatabase", name, {}, opts);
    const { provider } = args;
    const labels = ferryLabels("database");
    const retain = { parent: this, provider, retainOnDelete: args.retainData };

    // Deleting a namespace deletes its PVCs, so it is retained whenever the data is.
    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      { metadata: { name: args.namespace, labels: ferryLabels("namespace") } },
      retain,
    );

    // The root password, read by the server at first start and by the Jobs as a mounted file.
    const credentials = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { namespace: namespace.metadata.name, labels },
        stringData: { "root-password": args.rootPassword },
      },
      { parent: this, provider },
    );

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
        spec: databaseVolumeSpec(args.storageClassName, args.storageSize),
      },
      { ...retain, deleteBeforeReplace: true },
    );

    // One server on one volume: Recreate, so two pods never open the same data directory.
    const deployment = new k8s.apps.v1.Deployment(
      `${name}-server`,
      {
        metadata: { name: args.serviceName, namespace: namespace.metadata.name, labels },
        spec: databaseDeploymentSpec({
          labels,
          image: args.image,
          imagePullPolicy: args.imagePullPolicy,
          cpu: args.cpu,
          memory: args.memory,
          pvcName: pvc.metadata.name,
          credentialsSecretName: credentials.metadata.name,
        }),
      },
      { parent: this, provider },
    );

    // A stable name for the import, the verification and the applications.
    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: args.serviceName, namespace: namespace.metadata.name, labels },
        spec: { selector: labels, ports: [{ name: "mysql", port: 3306, targetPort: 3306 }] },
      },
      { parent: this, provider, dependsOn: [deployment] },
    );

    this.namespace = namespace.metadata.name;
    this.serviceName = service.metadata.name;
    this.pvcName = pvc.metadata.name;
    this.credentialsSecretName = credentials.metadata.name;
    this.endpoint = pulumi.interpolate`${service.metadata.name}.${namespace.metadata.name}.svc:3306`;
    this.registerOutputs({
      namespace: this.namespace,
      serviceName: this.serviceName,
      pvcName: this.pvcName,
      credentialsSecretName: this.credentialsSecretName,
      endpoint: this.endpoint,
    });
  }
}

/** The data volume's spec: a class by `storageClassName`, not the deprecated beta annotation. */
export function databaseVolumeSpec(
  storageClassName: pulumi.Input<string>,
  size: string,
): k8s.types.input.core.v1.PersistentVolumeClaimSpec {
  return {
    storageClassName,
    accessModes: ["ReadWriteOnce"],
    resources: { requests: { storage: size } },
  };
}

export interface DatabaseDeploymentSpecArgs {
  readonly labels: Record<string, string>;
  readonly image: string;
  readonly imagePullPolicy: string;
  readonly cpu: string;
  readonly memory: string;
  readonly pvcName: pulumi.Input<string>;
  readonly credentialsSecretName: pulumi.Input<string>;
}

/** The database Deployment's spec. */
export function databaseDeploymentSpec(
  args: DatabaseDeploymentSpecArgs,
): k8s.types.input.apps.v1.DeploymentSpec {
  // Both the MySQL and MariaDB images read MYSQL_ROOT_PASSWORD_FILE at first start.
  return {
    replicas: 1,
    strategy: { type: "Recreate" },
    selector: { matchLabels: args.labels },
    template: {
      metadata: { labels: args.labels },
      spec: {
        containers: [
          {
            name: "mysql",
            image: args.image,
            imagePullPolicy: args.imagePullPolicy,
            env: [
              { name: "MYSQL_ROOT_PASSWORD_FILE", value: "/var/run/ferry/secrets/root-password" },
            ],
            ports: [{ name: "mysql", containerPort: 3306 }],
            resources: {
              requests: { cpu: args.cpu, memory: args.memory },
              limits: { memory: args.memory },
            },
            // Ready means the server answers on TCP, which the images' init phase never does.
            readinessProbe: {
              exec: {
                command: [
                  "sh",
                  "-c",
                  "mariadb-admin ping -h 127.0.0.1 --silent 2>/dev/null || mysqladmin ping -h 127.0.0.1 --silent",
                ],
              },
              initialDelaySeconds: 5,
              periodSeconds: 5,
              timeoutSeconds: 5,
            },
            terminationMessagePolicy: "FallbackToLogsOnError",
            volumeMounts: [
              // A subdirectory: a fresh filesystem's lost+found would make the server refuse the volume.
              { name: "data", mountPath: "/var/lib/mysql", subPath: "mysql" },
              { name: "credentials", mountPath: "/var/run/ferry/secrets", readOnly: true },
            ],
          },
        ],
        volumes: [
          { name: "data", persistentVolumeClaim: { claimName: args.pvcName } },
          {
            name: "credentials",
            secret: { secretName: args.credentialsSecretName, defaultMode: 0o444 },
          },
        ],
      },
    },
  };
}
