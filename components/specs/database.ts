import { createHash } from "node:crypto";
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { restrictedContainer, restrictedPod } from "./podSecurity";
import { pullSecretsSpec } from "./registry";

import { mysqlPort } from "../values";

/** The key of the database's root password in its Secret, and so the file name where it is mounted. */
export const rootPasswordKey = "root-password";

/**
 * Settings of the server ferry runs, passed as its arguments (the MySQL and MariaDB images hand
 * them to the server): room for the largest row a dump carries (a BLOB is written as hex, twice its
 * size, in one statement), and stored functions accepted as dumped even with the binary log on
 * (without it, a function declared neither DETERMINISTIC, NO SQL nor READS SQL DATA is refused,
 * whatever the importer's privileges).
 */
export const destinationServerSettings = [
  "--max-allowed-packet=1073741824",
  "--log-bin-trust-function-creators=1",
];

/** The keys of the server's TLS Secret, and so the file names where it is mounted. */
export const tlsFiles = { ca: "ca.crt", certificate: "tls.crt", key: "tls.key" } as const;

/** Where the server reads its certificate and key. */
export const serverTlsMountPath = "/var/run/ferry/tls";

/**
 * Settings that make the server speak TLS with the run's certificate (`certificates.ts`) and refuse
 * every TCP session without it: the migrated rows and the root password never cross the network
 * in plaintext. Sessions over the server's socket (its own probes) are not TCP and stay allowed.
 */
export function serverTlsSettings(dir = serverTlsMountPath): string[] {
  return [
    `--ssl-ca=${dir}/${tlsFiles.ca}`,
    `--ssl-cert=${dir}/${tlsFiles.certificate}`,
    `--ssl-key=${dir}/${tlsFiles.key}`,
    "--require-secure-transport=ON",
  ];
}

/** Where the database's container reads its credentials. */
const credentialsMountPath = "/var/run/ferry/secrets";

/** A volume claim of the new class: by `storageClassName`, not the deprecated beta annotation. */
export function volumeClaimSpec(
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
  readonly imagePullSecrets: readonly pulumi.Input<string>[];
  readonly cpu: string;
  readonly memory: string;
  readonly pvcName: pulumi.Input<string>;
  readonly credentialsSecretName: pulumi.Input<string>;
  /** The Secret with the server's certificate, key and CA (`tlsFiles`). */
  readonly tlsSecretName: pulumi.Input<string>;
  /**
   * Changes whenever the certificate does (a new run): a pod annotation, so a new certificate
   * restarts the server, which reads its certificate only when it starts.
   */
  readonly tlsFingerprint: pulumi.Input<string>;
  /** Live mode: the server is made a replica of the source (replicaServerSettings). */
  readonly replica?: ReplicaSettings;
}

/** What the server needs to replicate from the source in live mode. */
export interface ReplicaSettings {
  /** Its own server id, never the source's (replicaServerId). */
  readonly serverId: number;
  /** A ConfigMap holding the source's CA (sourceCaKey) and the server's init file (replicaInitKey). */
  readonly configMap: pulumi.Input<string>;
}

/** The key of the source's CA in the replica's ConfigMap, and its file name where the server reads it. */
export const sourceCaKey = "source-ca.crt";
/** The key of the statements the server runs whenever it starts (--init-file). */
export const replicaInitKey = "init.sql";
/** Where the server reads both (CHANGE MASTER TO MASTER_SSL_CA names the CA's file). */
export const replicaMountPath = "/var/run/ferry/replica";

/**
 * What the server runs whenever it starts in live mode: read-only, unless a run was cut over to it
 * and none replicates into it (ferry.runs, which the import creates and the replication step and
 * the cutover keep). So a restarted server takes no application's write while it replicates, and
 * every write once it was cut over, with nothing to change at the cutover: a changed file would be
 * a new ConfigMap, and the server restarted in the middle of the cutover. The server runs the file
 * until its first error: before the import there is no ferry.runs, and the first line holds. The
 * import and the replication write as accounts read_only does not stop.
 */
export const replicaInitFile =
  "SET GLOBAL read_only = ON;\n" +
  "SET GLOBAL read_only = (SELECT COUNT(*) FROM ferry.runs WHERE state = 'replicating') > 0 OR (SELECT COUNT(*) FROM ferry.runs WHERE state = 'cut over') = 0;\n";

/**
 * A server id for the server ferry runs, from its namespace and Service name: stable across
 * restarts and runs, never 0 or 1 (the default every server starts with, and so the likeliest
 * source's); the replication step refuses it should it equal the source's anyway.
 */
export function replicaServerId(namespace: string, serviceName: string): number {
  const digest = createHash("sha256").update(`${namespace}/${serviceName}`).digest();
  return 2 + (digest.readUInt32BE(0) % 4_000_000_000);
}

/**
 * Live mode's server settings: its own server id; relay logs under a fixed name on the data
 * volume, so a restarted pod (another host name) finds them; the init file above. The ConfigMap
 * is mounted whole (not by subPath), so a changed init file reaches the pod without a restart.
 */
export function replicaServerSettings(replica: ReplicaSettings): string[] {
  return [
    `--server-id=${replica.serverId}`,
    "--relay-log=ferry-relay-bin",
    `--init-file=${replicaMountPath}/${replicaInitKey}`,
  ];
}

/** The database Deployment's spec. */
export function databaseDeploymentSpec(
  args: DatabaseDeploymentSpecArgs,
): k8s.types.input.apps.v1.DeploymentSpec {
  // Both the MySQL and MariaDB images read MYSQL_ROOT_PASSWORD_FILE at first start (a restored
  // data directory has its accounts already: the restore set root's password).
  return {
    replicas: 1,
    strategy: { type: "Recreate" },
    selector: { matchLabels: args.labels },
    template: {
      metadata: {
        labels: args.labels,
        annotations: { "ferry.dev/tls-certificate-sha256": args.tlsFingerprint },
      },
      spec: {
        ...pullSecretsSpec(args.imagePullSecrets),
        automountServiceAccountToken: false,
        securityContext: restrictedPod,
        containers: [
          {
            name: "mysql",
            image: args.image,
            imagePullPolicy: args.imagePullPolicy,
            args: [
              ...destinationServerSettings,
              ...serverTlsSettings(),
              ...(args.replica ? replicaServerSettings(args.replica) : []),
            ],
            env: [
              {
                name: "MYSQL_ROOT_PASSWORD_FILE",
                value: `${credentialsMountPath}/${rootPasswordKey}`,
              },
            ],
            ports: [{ name: "mysql", containerPort: mysqlPort }],
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
            securityContext: restrictedContainer,
            volumeMounts: [
              // The server's socket and temporary files: the root filesystem is read-only.
              { name: "run", mountPath: "/run/mysqld" },
              { name: "tmp", mountPath: "/tmp" },
              // A subdirectory: a fresh filesystem's lost+found would make the server refuse the volume.
              { name: "data", mountPath: "/var/lib/mysql", subPath: "mysql" },
              { name: "credentials", mountPath: credentialsMountPath, readOnly: true },
              { name: "tls", mountPath: serverTlsMountPath, readOnly: true },
              ...(args.replica
                ? [{ name: "replica", mountPath: replicaMountPath, readOnly: true }]
                : []),
            ],
          },
        ],
        volumes: [
          { name: "data", persistentVolumeClaim: { claimName: args.pvcName } },
          {
            name: "credentials",
            secret: { secretName: args.credentialsSecretName, defaultMode: 0o440 },
          },
          // The key is read by the server as the pod's user (fsGroup), by no one else.
          { name: "tls", secret: { secretName: args.tlsSecretName, defaultMode: 0o440 } },
          { name: "run", emptyDir: {} },
          { name: "tmp", emptyDir: {} },
          ...(args.replica
            ? [{ name: "replica", configMap: { name: args.replica.configMap } }]
            : []),
        ],
      },
    },
  };
}

/** The database's Service: a stable name for the import, the verification and the applications. */
export function databaseServiceSpec(
  labels: Record<string, string>,
): k8s.types.input.core.v1.ServiceSpec {
  return { selector: labels, ports: [{ name: "mysql", port: mysqlPort, targetPort: mysqlPort }] };
}
