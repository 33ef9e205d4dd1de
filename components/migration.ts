import * as k8s from "@pulumi/kubernetes";
import * as minio from "@pulumi/minio";
import * as pulumi from "@pulumi/pulumi";
import { Cleanup } from "./cleanup";
import type { FerryConfig } from "./config";
import { endpointUrl, ferryLabels, scriptsConfigMapData } from "./dataPlane";
import { DestinationDatabase } from "./destinationDatabase";
import { ImportJob, type DestinationJobContext } from "./importJob";
import { ObjectStore } from "./objectStore";
import { RunReport, type RunRecord } from "./runReport";
import { SourceDump } from "./sourceDump";
import { StorageStack } from "./storageStack";
import { Verification } from "./verification";

export interface MigrationArgs {
  /** The validated stack configuration. */
  readonly config: FerryConfig;
}

/** The summary `pulumi up` ends with. */
export interface MigrationReport {
  readonly runId: string;
  readonly sourceMode: string;
  readonly databases: string[];
  readonly bucket: string;
  readonly storageClass: string;
  readonly destination: { namespace: string; service: string; dataVolumeClaim: string };
  readonly dump: {
    tables: number;
    rows: number;
    sqlBytes: number;
    storedBytes: number;
    compression: string;
    streams: number;
    serverVersion: string;
    binlogFile: string;
    binlogPosition: string;
    gtid: string;
    startedAt: string;
    finishedAt: string;
    seconds: number;
  };
  readonly verification: string;
  readonly dumpObjects: string;
  readonly dataKeptOnDestroy: boolean;
}

/**
 * One migration, source to destination, as one dependency graph: bucket → dump → storage and
 * database → import → verification → cleanup → report.
 */
export class Migration extends pulumi.ComponentResource {
  public readonly report: pulumi.Output<MigrationReport>;
  public readonly bucket: pulumi.Output<string>;
  public readonly storageClassName: pulumi.Output<string>;
  public readonly databaseEndpoint: pulumi.Output<string>;

  constructor(name: string, args: MigrationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:Migration", name, {}, opts);
    const { config } = args;
    const { source, destination, objectStore, migration, verification } = config;
    const runId = migration.runId;

    // One provider a cluster: no resource can land in the wrong one by default.
    const destinationProvider = new k8s.Provider(
      `${name}-destination`,
      { kubeconfig: destination.kubeconfig, context: destination.context },
      { parent: this },
    );
    const sourceProvider =
      source.mode === "kubernetes" && source.kubernetes
        ? new k8s.Provider(
            `${name}-source`,
            { kubeconfig: source.kubernetes.kubeconfig, context: source.kubernetes.context },
            { parent: this },
          )
        : undefined;
    // The object store's admin credentials; the data plane gets a bucket-scoped user instead.
    const minioProvider = new minio.Provider(
      `${name}-objectstore`,
      {
        minioServer: objectStore.endpoint,
        minioUser: objectStore.accessKey,
        minioPassword: config.secrets.objectStoreSecretKey,
        minioRegion: objectStore.region,
        minioSsl: objectStore.useTls,
        minioInsecure: objectStore.insecureSkipVerify,
      },
      { parent: this },
    );

    // The bucket the dump travels through.
    const store = new ObjectStore(
      `${name}-store`,
      {
        bucketPrefix: objectStore.bucketPrefix,
        expiryDays: objectStore.expiryDays,
        userName: `ferry-${config.stack}`.toLowerCase().replace(/[^a-z0-9-]/g, "-"),
        forceDestroy: !migration.keepDump,
      },
      { parent: this, providers: [minioProvider] },
    );

    const operatorUrl = endpointUrl(objectStore.endpoint, objectStore.useTls);
    const clusterUrl = objectStore.clusterEndpoint ?? operatorUrl;
    const sourceUrl =
      source.mode === "kubernetes"
        ? (source.kubernetes?.objectStoreEndpoint ?? clusterUrl)
        : source.mode === "ssh"
          ? (source.ssh?.objectStoreEndpoint ?? operatorUrl)
          : operatorUrl;

    // The consistent dump, uploaded with its manifest last.
    const dump = new SourceDump(
      `${name}-dump`,
      {
        mode: source.mode,
        host: source.host,
        port: source.port,
        user: source.user,
        password: config.secrets.sourcePassword,
        databases: source.databases,
        runId,
        compression: migration.compression,
        parallelism: migration.parallelism,
        objectStoreUrl: sourceUrl,
        objectStoreInsecure: objectStore.insecureSkipVerify,
        bucket: store.bucket,
        accessKey: store.accessKey,
        secretKey: store.secretKey,
        timeoutMinutes: migration.dumpTimeoutMinutes,
        kubernetes:
          sourceProvider && source.kubernetes
            ? {
                provider: sourceProvider,
                namespace: source.kubernetes.namespace,
                image: source.kubernetes.toolsImage,
                imagePullPolicy: source.kubernetes.imagePullPolicy,
              }
            : undefined,
        ssh:
          source.ssh && config.secrets.sshPrivateKey
            ? { ...source.ssh, privateKey: config.secrets.sshPrivateKey }
            : undefined,
      },
      { parent: this, dependsOn: [store] },
    );

    // The new storage, made the cluster's default.
    const storage = new StorageStack(
      `${name}-storage`,
      {
        storage: config.storage,
        licenseKey: config.secrets.storageLicenseKey,
        provider: destinationProvider,
      },
      { parent: this },
    );

    // The database the data lands in, on a volume of the new class.
    const database = new DestinationDatabase(
      `${name}-database`,
      {
        namespace: destination.namespace,
        image: destination.mysqlImage,
        imagePullPolicy: destination.imagePullPolicy,
        storageClassName: storage.storageClassName,
        storageSize: destination.storageSize,
        cpu: destination.cpu,
        memory: destination.memory,
        serviceName: destination.serviceName,
        rootPassword: config.secrets.destinationRootPassword,
        retainData: migration.retainData,
        provider: destinationProvider,
      },
      { parent: this, dependsOn: [storage] },
    );

    const labels = ferryLabels("data-plane");
    // The destination Jobs' credentials, mounted as files.
    const jobSecret = new k8s.core.v1.Secret(
      `${name}-job-credentials`,
      {
        metadata: { namespace: database.namespace, labels },
        stringData: {
          "root-password": config.secrets.destinationRootPassword,
          "s3-secret-key": store.secretKey,
        },
      },
      { parent: this, provider: destinationProvider },
    );
    // The import, verify and cleanup scripts the destination Jobs run.
    const jobScripts = new k8s.core.v1.ConfigMap(
      `${name}-job-scripts`,
      {
        metadata: { namespace: database.namespace, labels },
        data: scriptsConfigMapData(["import.sh", "verify.sh", "cleanup.sh"]),
      },
      { parent: this, provider: destinationProvider },
    );

    const context: DestinationJobContext = {
      namespace: database.namespace,
      image: destination.toolsImage,
      imagePullPolicy: destination.imagePullPolicy,
      scriptsConfigMap: jobScripts.metadata.name,
      secretName: jobSecret.metadata.name,
      databaseHost: database.serviceName,
      objectStoreUrl: clusterUrl,
      objectStoreInsecure: objectStore.insecureSkipVerify,
      bucket: store.bucket,
      accessKey: store.accessKey,
      runId,
      provider: destinationProvider,
    };

    // The import waits for both ends: a complete dump and a running database.
    const importJob = new ImportJob(
      `${name}-import`,
      {
        context,
        overwrite: migration.overwrite,
        stripDefiners: migration.stripDefiners,
        writeBinlog: migration.writeBinlog,
        timeoutMinutes: migration.importTimeoutMinutes,
      },
      { parent: this, dependsOn: [dump, database, jobSecret, jobScripts] },
    );

    // Proof the data arrived and the storage reads and writes.
    const checks = new Verification(
      `${name}-verification`,
      {
        context,
        verifyData: verification.enabled,
        readWriteTest: verification.readWriteTest,
        storageClassName: storage.storageClassName,
        timeoutMinutes: migration.verifyTimeoutMinutes,
      },
      { parent: this, dependsOn: [importJob] },
    );

    // Without a verified import there is nothing that allows deleting the dump.
    const finalSteps: pulumi.Resource[] = [checks];
    if (verification.enabled) {
      finalSteps.push(
        new Cleanup(
          `${name}-cleanup`,
          { context, keepDump: migration.keepDump },
          { parent: this, dependsOn: [checks] },
        ),
      );
    } else {
      void pulumi.log.warn(
        "ferry:verification.enabled is false: the import is not verified and the dump is kept in the bucket until it expires",
        this,
      );
    }

    // What was moved and what was checked, read back from the bucket.
    const runReport = new RunReport(
      `${name}-report`,
      {
        runId,
        objectStoreUrl: operatorUrl,
        objectStoreInsecure: objectStore.insecureSkipVerify,
        bucket: store.bucket,
        accessKey: store.accessKey,
        secretKey: store.secretKey,
      },
      { parent: this, dependsOn: finalSteps },
    );

    this.bucket = store.bucket;
    this.storageClassName = storage.storageClassName;
    this.databaseEndpoint = database.endpoint;
    this.report = pulumi
      .all([
        runReport.record,
        store.bucket,
        storage.storageClassName,
        database.namespace,
        database.serviceName,
        database.pvcName,
      ])
      .apply(([record, bucket, storageClass, namespace, service, pvc]) =>
        summarize(config, record, { bucket, storageClass, namespace, service, pvc }),
      );
    this.registerOutputs({
      report: this.report,
      bucket: this.bucket,
      storageClassName: this.storageClassName,
      databaseEndpoint: this.databaseEndpoint,
    });
  }
}

function dumpObjectsLine(record: RunRecord, prefix: string): string {
  const total = record.manifest.objects.length;
  const present = record.dumpObjectsPresent;
  if (present === 0) return `removed: ${total} objects under ${prefix}`;
  return `still stored: ${present} of ${total} objects under ${prefix}`;
}

/** The report from the run record and where things ended up. */
export function summarize(
  config: FerryConfig,
  record: RunRecord,
  where: { bucket: string; storageClass: string; namespace: string; service: string; pvc: string },
): MigrationReport {
  const { manifest, verification } = record;
  // Each line states what the bucket holds, never what the steps were supposed to do: a Job
  // that completed without doing its work leaves no verification result behind.
  const verdict = !config.verification.enabled
    ? "not run (ferry:verification.enabled is false)"
    : verification === null
      ? "NOT RECORDED: no verification result in the bucket, so nothing was verified"
      : verification.ok
        ? `passed: ${verification.tables} tables, ${verification.rows} rows match the dump`
        : `FAILED: ${verification.mismatchedTables} of ${verification.tables} tables differ from the dump`;
  return {
    runId: manifest.runId,
    sourceMode: config.source.mode,
    databases: config.source.databases,
    bucket: where.bucket,
    storageClass: where.storageClass,
    destination: { namespace: where.namespace, service: where.service, dataVolumeClaim: where.pvc },
    dump: {
      tables: manifest.tableCount,
      rows: manifest.tables.reduce((sum, table) => sum + table.rows, 0),
      sqlBytes: manifest.sqlBytes,
      storedBytes: manifest.bytes,
      compression: manifest.compression,
      streams: manifest.objects.length,
      serverVersion: manifest.serverVersion,
      binlogFile: manifest.binlogFile,
      binlogPosition: manifest.binlogPosition,
      gtid: manifest.gtid,
      startedAt: manifest.startedAt,
      finishedAt: manifest.finishedAt,
      seconds: (Date.parse(manifest.finishedAt) - Date.parse(manifest.startedAt)) / 1000,
    },
    verification: verdict,
    dumpObjects: dumpObjectsLine(record, `s3://${where.bucket}/runs/${manifest.runId}/`),
    dataKeptOnDestroy: config.migration.retainData,
  };
}
