import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as minio from "@pulumi/minio";
import * as pulumi from "@pulumi/pulumi";
import { BucketRevocation } from "./bucketRevocation";
import { ApplicationService } from "./applicationService";
import { Cleanup } from "./cleanup";
import { Cutover } from "./cutover";
import type { FerryConfig } from "./config";
import { DestinationDatabase } from "./destinationDatabase";
import { DestinationJobs } from "./destinationJobs";
import { ExistingDatabase } from "./existingDatabase";
import { ExistingStorageClass } from "./existingStorageClass";
import { ImportJob } from "./importJob";
import { NetworkPolicies } from "./networkPolicies";
import { ObjectStore } from "./objectStore";
import { RootPasswordKept } from "./rootPasswordKept";
import { RunKey } from "./runKey";
import { Replication } from "./replication";
import { ReplicationSource } from "./replicationSource";
import { RunReport, summarize, type MigrationReport } from "./runReport";
import { SourceDump, type DumpLocation } from "./sourceDump";
import {
  dumpIdentity,
  type DumpSettings,
  type ObjectStoreAdmin,
  type WatchedStep,
} from "./specs/dataPlane";
import { urlPort } from "./specs/networkPolicy";
import { replicaServerId } from "./specs/database";
import { imageFlavour, quantityBytes } from "./values";
import { StepLog } from "./stepLog";
import {
  bucketRoles,
  objectStoreTls,
  objectStoreUrls,
  type BucketAccess,
  type BucketRole,
} from "./specs/bucketAccess";
import { StorageStack } from "./storageStack";
import { Verification } from "./verification";

export interface MigrationArgs {
  /** The validated stack configuration. */
  readonly config: FerryConfig;
  /** When this run of the program happens: the TLS certificates' renewal window. */
  readonly now: Date;
}

/**
 * One migration, source to destination, as one dependency graph: bucket → dump → storage and
 * database → import → verification → cleanup → report. It only wires: every spec is built in
 * `specs/`, every step in its own component. The constructor is the list of phases, one method
 * each, each returning what the next needs; a new mode adds a phase or a variant of one.
 */
export class Migration extends pulumi.ComponentResource {
  public readonly report: pulumi.Output<MigrationReport>;
  public readonly bucket: pulumi.Output<string>;
  public readonly storageClassName: pulumi.Output<string>;
  public readonly databaseEndpoint: pulumi.Output<string>;
  /**
   * The CA (PEM) the database's certificate is checked against: the run's, for the server ferry
   * runs; the configured one for an existing server; "" when none is configured.
   */
  public readonly databaseCaCertificate: pulumi.Output<string>;

  constructor(name: string, args: MigrationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:Migration", name, {}, opts);
    const { config } = args;
    // Which method the graph is built for, and why: in preview as in up.
    void pulumi.log.info(`the copy's method: ${config.migration.method.reason}`, this);
    // The graph, phase by phase: each takes what the ones before made.
    const clusters = this.providers(name, config);
    const transit = this.storeAndKeys(name, config, clusters);
    const dump = this.dump(name, config, transit);
    const landing = this.storageAndDatabase(name, config, args.now, clusters, transit, dump);
    const verified = this.importAndVerification(name, config, transit, dump, landing);
    const arrival = this.catchUp(name, config, args.now, transit, landing, verified);
    const runReport = this.cleanupAndReport(name, config, args.now, transit, landing, arrival);

    this.bucket = transit.store.bucket;
    this.storageClassName = landing.storage.storageClassName;
    this.databaseEndpoint = landing.database.endpoint;
    const { destination } = config;
    this.databaseCaCertificate =
      landing.database instanceof DestinationDatabase
        ? landing.database.caCertificate
        : pulumi.output(
            destination.database.mode === "existing" ? (destination.database.tls.caCert ?? "") : "",
          );
    this.report = pulumi
      .all([
        runReport.record,
        transit.store.bucket,
        landing.storage.storageClassName,
        landing.storage.description,
        landing.database.location,
        dump.decision,
      ])
      .apply(([record, bucket, storageClass, storageDescription, location, decision]) =>
        summarize(config, record, {
          bucket,
          storageClass,
          storage: storageDescription,
          destination: location,
          decision,
        }),
      );
    this.registerOutputs({
      report: this.report,
      bucket: this.bucket,
      storageClassName: this.storageClassName,
      databaseEndpoint: this.databaseEndpoint,
      databaseCaCertificate: this.databaseCaCertificate,
    });
  }

  /** One provider a cluster and one for the object store: no resource lands in the wrong one. */
  private providers(name: string, config: FerryConfig): Clusters {
    const { destination, objectStore } = config;
    const destinationProvider = new k8s.Provider(
      `${name}-destination`,
      { kubeconfig: destination.kubeconfig, context: destination.context },
      { parent: this },
    );
    // The object store's admin credentials; the data plane gets bucket-scoped users instead.
    const minioProvider = new minio.Provider(
      `${name}-objectstore`,
      {
        minioServer: objectStore.endpoint,
        minioUser: objectStore.accessKey,
        minioPassword: config.secrets.objectStoreSecretKey,
        minioRegion: objectStore.region,
        minioSsl: objectStore.useTls,
        minioInsecure: objectStore.insecureSkipVerify,
        // The provider reads its CA from a file only.
        ...(objectStore.caCert ? { minioCacertFile: caCertFile(objectStore.caCert) } : {}),
      },
      { parent: this },
    );

    return { destination: destinationProvider, objectStore: minioProvider };
  }

  /**
   * The bucket the dump travels through, each side's way to it, the run's key, and (for the
   * server ferry runs) the check that its root password is the one it was first started with.
   */
  private storeAndKeys(name: string, config: FerryConfig, clusters: Clusters): Transit {
    const { source, destination, objectStore, migration } = config;
    const runId = migration.runId;
    const urls = objectStoreUrls(objectStore, source);
    // The administrator, who alone turns the run's users on and off.
    const admin: ObjectStoreAdmin = {
      url: urls.operator,
      tls: objectStoreTls(objectStore),
      accessKey: objectStore.accessKey,
      secretKey: config.secrets.objectStoreSecretKey,
    };
    // The bucket the dump travels through, and its users.
    const store = new ObjectStore(
      `${name}-store`,
      {
        bucketPrefix: objectStore.bucketPrefix,
        expiryDays: objectStore.expiryDays,
        project: pulumi.getProject(),
        stack: config.stack,
        runId,
        forceDestroy: !migration.keepDump,
        admin,
      },
      { parent: this, providers: [clusters.objectStore] },
    );
    // The bucket as one side reaches it, with the credentials of one role.
    const bucketFrom = (url: string, role: BucketRole): BucketAccess => ({
      url,
      tls: objectStoreTls(objectStore),
      bucket: store.bucket,
      accessKey: store.credentials[role].accessKey,
      secretKey: store.credentials[role].secretKey,
    });

    const dumpSettings = {
      host: source.host,
      port: source.port,
      user: source.user,
      password: config.secrets.sourcePassword,
      tls: source.tls,
      databases: source.databases,
      runId,
      compression: migration.compression,
      parallelism: migration.parallelism,
      chunkMiB: migration.chunkMiB,
      bucket: bucketFrom(urls.source, "dump"),
      // Another method is another dump (its key drawn again); logical leaves the identity as it was.
      ...(migration.method.requested !== "logical" ? { method: migration.method.requested } : {}),
    };
    // The key that seals the dump in the bucket: drawn once per run id and dump, kept as a Pulumi
    // secret.
    const runKey = new RunKey(
      `${name}-run-key`,
      { runId, dumpIdentity: dumpIdentity(dumpSettings, sourceSide(source)) },
      { parent: this },
    );

    // The server ferry runs keeps the root password it was first started with: a changed one is
    // refused before the dump and the database are touched.
    const rootPasswordKept =
      destination.database.mode === "managed"
        ? [
            new RootPasswordKept(
              `${name}-root-password-kept`,
              {
                password: destination.database.rootPassword,
                volume: [
                  destination.namespace,
                  destination.serviceName,
                  config.storage.storageClass.name,
                ],
              },
              { parent: this },
            ),
          ]
        : [];

    return { store, urls, bucketFrom, dumpSettings, runKey, rootPasswordKept, admin };
  }

  /** The consistent dump, sealed and uploaded with its manifest last, after its preflight. */
  private dump(name: string, config: FerryConfig, transit: Transit): SourceDump {
    const { destination, migration } = config;
    const { dumpSettings, runKey, urls, store, rootPasswordKept } = transit;
    return new SourceDump(
      `${name}-dump`,
      {
        settings: { ...dumpSettings, runKey: runKey.key },
        preflight: {
          // What ferry knows of the destination: the server it runs, or nothing of one it does not.
          destinationFlavour:
            destination.database.mode === "managed" ? imageFlavour(destination.mysqlImage) : "",
          storageBytes:
            destination.database.mode === "managed" ? quantityBytes(destination.storageSize) : 0,
          stripDefiners: migration.stripDefiners,
          // What the graph can take: it restores only where the configuration allows a physical copy.
          method: migration.method.kind === "physical" ? migration.method.requested : "logical",
          // Live mode: the source must be one the destination can replicate (a server ferry runs).
          ...(migration.mode === "live"
            ? {
                live: {
                  destinationServerId: replicaServerId(
                    destination.namespace,
                    destination.serviceName,
                  ),
                  copySeconds:
                    60 *
                    (migration.dumpTimeoutMinutes +
                      migration.importTimeoutMinutes +
                      migration.verifyTimeoutMinutes),
                  // With the applications' Service, the cutover closes their sessions on the source.
                  closesSessions: migration.live.applicationService !== undefined,
                },
              }
            : {}),
        },
        location: this.dumpLocation(name, config, urlPort(urls.source)),
        timeoutMinutes: migration.dumpTimeoutMinutes,
        registryCredentials: config.secrets.registryCredentials,
        method: migration.method,
        dumpHooks: store.users.forStep(["dump"]),
      },
      { parent: this, dependsOn: [store, ...rootPasswordKept] },
    );
  }

  /**
   * Where the data lands: the new storage (or a class someone else installed), the database on it
   * (or the user's own), the namespace's NetworkPolicies and what the destination's Jobs share.
   */
  private storageAndDatabase(
    name: string,
    config: FerryConfig,
    now: Date,
    clusters: Clusters,
    transit: Transit,
    dump: SourceDump,
  ): Landing {
    const { destination, migration } = config;
    const { rootPasswordKept } = transit;
    const destinationProvider = clusters.destination;
    // The new storage, made the cluster's default; or a class someone else installed, used as it is.
    const storage = config.storage.install
      ? new StorageStack(
          `${name}-storage`,
          {
            storage: config.storage,
            licenseKey: config.secrets.storageLicenseKey,
            retain: migration.retainData,
            provider: destinationProvider,
          },
          // Nothing is installed for a source the preflight refuses.
          { parent: this, dependsOn: [dump.preflight] },
        )
      : new ExistingStorageClass(
          `${name}-storage`,
          { name: config.storage.storageClass.name, provider: destinationProvider },
          { parent: this },
        );

    // The database the data lands in: on a volume of the new class, or the user's own server.
    const database =
      destination.database.mode === "existing"
        ? new ExistingDatabase(
            `${name}-database`,
            {
              namespace: destination.namespace,
              host: destination.database.host,
              port: destination.database.port,
              user: destination.database.user,
              password: destination.database.password,
              tls: destination.database.tls,
              registryCredentials: config.secrets.registryCredentials,
              provider: destinationProvider,
            },
            { parent: this, dependsOn: [dump.preflight] },
          )
        : new DestinationDatabase(
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
              ...(migration.mode === "live" && migration.live.applicationService
                ? { applicationServiceName: migration.live.applicationService.name }
                : {}),
              rootPassword: destination.database.rootPassword,
              tls: destination.tls,
              toolsImage: destination.toolsImage,
              now,
              retainData: migration.retainData,
              // Live mode: the server replicates from the source with its CA (required there).
              ...(migration.mode === "live"
                ? {
                    replicaOf: { sourceCaCert: config.source.tls.caCert! },
                  }
                : {}),
              // The physical method: the copy restored on the new volume before the server starts.
              ...(migration.method.kind === "physical"
                ? {
                    restore: {
                      method: dump.decision.apply((d) => d.method),
                      runId: migration.runId,
                      stack: `${pulumi.getProject()}/${pulumi.getStack()}`,
                      bucket: transit.bucketFrom(transit.urls.cluster, "read"),
                      runKey: transit.runKey.key,
                      objectStorePort: urlPort(transit.urls.cluster),
                      dnsServers: destination.dnsPods,
                      dumpTimeoutMinutes: migration.dumpTimeoutMinutes,
                      importTimeoutMinutes: migration.importTimeoutMinutes,
                      hooks: transit.store.users.forStep(["read"]),
                    },
                  }
                : {}),
              registryCredentials: config.secrets.registryCredentials,
              provider: destinationProvider,
            },
            { parent: this, dependsOn: [storage, ...rootPasswordKept] },
          );

    const jobs = this.destinationJobs(name, config, clusters, transit, database);
    // Live mode: the way to the source, checked from here beside the dump; the import waits for it.
    const replicationSource =
      migration.mode === "live"
        ? new ReplicationSource(
            `${name}-replication-source`,
            {
              context: jobs.context,
              live: migration.live,
              // The config refuses live mode without a CA and verified TLS to the source.
              sourceCaCert: config.source.tls.caCert!,
              verifyIdentity: config.source.tls.mode === "verify-identity",
            },
            { parent: this, dependsOn: [jobs] },
          )
        : undefined;
    return { storage, database, jobs, replicationSource };
  }

  /**
   * The namespace's NetworkPolicies, then what the destination's Jobs share (scripts, the bucket
   * key, the database's address).
   */
  private destinationJobs(
    name: string,
    config: FerryConfig,
    clusters: Clusters,
    transit: Transit,
    database: Landing["database"],
  ): DestinationJobs {
    const { destination, migration } = config;
    const { runId } = migration;
    const { urls, bucketFrom, runKey } = transit;
    const destinationProvider = clusters.destination;
    // Traffic in ferry's namespace, denied unless named; in place before any Job runs.
    const policies = new NetworkPolicies(
      `${name}-network`,
      {
        namespace: database.namespace,
        database:
          destination.database.mode === "existing"
            ? { managed: false, port: destination.database.port }
            : { managed: true, allowFrom: destination.allowFrom },
        objectStorePort: urlPort(urls.cluster),
        dnsServers: destination.dnsPods,
        provider: destinationProvider,
      },
      { parent: this },
    );

    // What the destination's Jobs share: scripts, the bucket key, the database's address.
    return new DestinationJobs(
      `${name}-jobs`,
      {
        namespace: database.namespace,
        image: destination.toolsImage,
        imagePullPolicy: destination.imagePullPolicy,
        imagePullSecrets: database.imagePullSecrets,
        database: database.access,
        buckets: {
          read: bucketFrom(urls.cluster, "read"),
          cleanup: bucketFrom(urls.cluster, "cleanup"),
        },
        runKey: runKey.key,
        runId,
        provider: destinationProvider,
      },
      { parent: this, dependsOn: [policies] },
    );
  }

  /** The import, its log in pulumi up (and the dump's, when it is a Job), and the verification. */
  private importAndVerification(
    name: string,
    config: FerryConfig,
    transit: Transit,
    dump: SourceDump,
    landing: Landing,
  ): Arrival {
    const { source, migration, verification } = config;
    const { runId } = migration;
    const { bucketFrom, urls, runKey } = transit;
    const { users } = transit.store;
    const { storage, database, jobs } = landing;
    // The import waits for a running database and, in live mode, the way to the source, checked
    // from the destination; of the dump only for its preflight: it starts beside the dump and
    // follows it chunk by chunk, ending with its manifest (or, into a target that holds
    // objects, waits for the manifest).
    const importAfter = [
      dump.preflight,
      database,
      jobs,
      ...(landing.replicationSource ? [landing.replicationSource] : []),
    ];
    const importJob = new ImportJob(
      `${name}-import`,
      {
        context: jobs.context,
        overwrite: migration.overwrite,
        stripDefiners: migration.stripDefiners,
        writeBinlog: migration.writeBinlog,
        timeoutMinutes: migration.importTimeoutMinutes,
        dumpTimeoutMinutes: migration.dumpTimeoutMinutes,
        stack: `${pulumi.getProject()}/${pulumi.getStack()}`,
        // A physical copy is restored before the server starts: the import checks it was.
        method: dump.decision.apply((d) => d.method),
        hooks: users.forStep(["read"]),
      },
      {
        parent: this,
        dependsOn: importAfter,
      },
    );

    // What the Jobs in the clusters are doing, shown in pulumi up while they run: the import, the
    // physical method's restore, and the dump when it runs as a Job (in the other modes its
    // command shows its own lines).
    const operatorRead = bucketFrom(urls.operator, "read");
    const watch = (
      step: WatchedStep,
      timeoutMinutes: number,
      after: pulumi.Input<pulumi.Resource>[],
    ) =>
      new StepLog(
        `${name}-${step}-log`,
        {
          step,
          runId,
          bucket: operatorRead,
          runKey: runKey.key,
          timeoutMinutes,
          hooks: users.forStep(["read"]),
        },
        { parent: this, dependsOn: after },
      );
    const dumpAndImportMinutes = migration.dumpTimeoutMinutes + migration.importTimeoutMinutes;
    // The import follows the dump from its start.
    const watches = [watch("import", dumpAndImportMinutes, importAfter)];
    // The restore follows the dump, then prepares the copy; watched from the preflight's decision
    // on (a logical run's restore posts its one line and ends). The physical method is a server
    // ferry runs: config/method.ts refuses it elsewhere.
    if (migration.method.kind === "physical") {
      watches.push(watch("restore", dumpAndImportMinutes, [dump.preflight]));
    }
    // From the preflight's pass on: a refused source has no dump to watch, and its up ends at once.
    if (source.mode === "kubernetes") {
      watches.push(watch("dump", migration.dumpTimeoutMinutes, [dump.preflight]));
    }

    // Proof the data arrived and the storage reads and writes.
    const checks = new Verification(
      `${name}-verification`,
      {
        context: jobs.context,
        verifyData: verification.enabled,
        readWriteTest: verification.readWriteTest,
        storageClassName: storage.storageClassName,
        timeoutMinutes: migration.verifyTimeoutMinutes,
        hooks: users.forStep(["read"]),
      },
      // The import ends only with the dump's manifest; the dump's own end is waited for too.
      { parent: this, dependsOn: [importJob, dump] },
    );

    return { checks, watches, operatorRead };
  }

  /**
   * Live mode: once the import is verified, the destination replicates from the source from the
   * dump's position, and with migration.cutover the writes move to it; the report waits for both.
   * Snapshot mode: nothing.
   */
  private catchUp(
    name: string,
    config: FerryConfig,
    now: Date,
    transit: Transit,
    landing: Landing,
    verified: Arrival,
  ): Arrival {
    const { migration, source } = config;
    if (migration.mode !== "live" || !landing.replicationSource) return verified;
    const replication = new Replication(
      `${name}-replication`,
      {
        context: landing.jobs.context,
        source: landing.replicationSource,
        catchUpCheckSeconds: migration.live.catchUpCheckSeconds,
        hooks: transit.store.users.forStep(["read"]),
        ...(migration.live.cutover ? {} : { checkRequestedAt: now.toISOString() }),
      },
      { parent: this, dependsOn: [verified.checks] },
    );
    // Live mode runs its own server (the config refuses an existing one), which the Service selects.
    const service =
      migration.live.applicationService && landing.database instanceof DestinationDatabase
        ? { ...migration.live.applicationService, server: landing.database }
        : undefined;
    if (!migration.live.cutover) {
      // Once the destination replicates (by the end of the first up), to the source until the
      // cutover; never again after it: the replication step refuses a run cut over then.
      if (service)
        this.applicationService(name, migration.live, service, landing, {
          cutOver: false,
          after: replication,
        });
      return { ...verified, catchUp: replication };
    }
    // The writes moved to the destination, once it replicates.
    const cutover = new Cutover(
      `${name}-cutover`,
      {
        context: landing.jobs.context,
        live: migration.live,
        sourceUser: source.user,
        sourcePassword: config.secrets.sourcePassword,
        sourceTlsMode: source.tls.mode,
        sourceCaCert: source.tls.caCert!,
        timeoutMinutes: migration.verifyTimeoutMinutes,
        hooks: transit.store.users.forStep(["read"]),
        ...(service
          ? {
              applicationService: {
                name: service.name,
                destinationSelector: service.server.podSelector,
                namespaceId: service.server.namespace,
              },
            }
          : {}),
      },
      { parent: this, dependsOn: [replication] },
    );
    // Stated once the cutover Job switched it: a cutover that failed leaves it on the source.
    if (service)
      this.applicationService(name, migration.live, service, landing, {
        cutOver: true,
        after: cutover,
      });
    return { ...verified, catchUp: cutover };
  }

  /**
   * Live mode's applications' Service (migration.live.applicationService): to the source once
   * `after` (the replication step) ran, to the destination's server once `after` (the cutover,
   * which switched it already) did.
   */
  private applicationService(
    name: string,
    live: { readonly sourceHost: string; readonly sourcePort: number },
    service: { readonly name: string; readonly port: number; readonly server: DestinationDatabase },
    landing: Landing,
    { cutOver, after }: { readonly cutOver: boolean; readonly after: pulumi.Resource },
  ): void {
    new ApplicationService(
      `${name}-application-service`,
      {
        namespace: service.server.namespace,
        service: { name: service.name, port: service.port },
        source: { host: live.sourceHost, port: live.sourcePort },
        ...(cutOver ? { destinationSelector: service.server.podSelector } : {}),
        provider: landing.jobs.context.provider,
      },
      { parent: this, dependsOn: [after] },
    );
  }

  /**
   * The dump removed once verified, the report read back from the bucket, and the run's bucket
   * users turned off once it is reported.
   */
  private cleanupAndReport(
    name: string,
    config: FerryConfig,
    now: Date,
    transit: Transit,
    landing: Landing,
    arrival: Arrival,
  ): RunReport {
    const { migration, verification } = config;
    const { runId } = migration;
    const { store, runKey, admin } = transit;
    const { users } = store;
    const { jobs } = landing;
    const { checks, watches, operatorRead } = arrival;
    // Without a verified import there is nothing that allows deleting the dump.
    // The report waits for the watches too: the users they read with are revoked after it.
    const finalSteps: pulumi.Resource[] = [
      checks,
      ...watches,
      ...(arrival.catchUp ? [arrival.catchUp] : []),
    ];
    if (verification.enabled) {
      finalSteps.push(
        new Cleanup(
          `${name}-cleanup`,
          {
            context: jobs.context,
            keepDump: migration.keepDump,
            hooks: users.forStep(["cleanup"]),
          },
          { parent: this, dependsOn: [checks] },
        ),
      );
    }

    // What was moved and what was checked, read back from the bucket.
    const runReport = new RunReport(
      `${name}-report`,
      {
        runId,
        bucket: operatorRead,
        runKey: runKey.key,
        hooks: users.forStep(["read"]),
        ...(migration.mode === "live"
          ? {
              liveStage: migration.live.cutover ? ["cut over"] : ["replicating", now.toISOString()],
            }
          : {}),
      },
      { parent: this, dependsOn: finalSteps },
    );

    // Once the run is reported, no credential a step held opens the bucket any more.
    new BucketRevocation(
      `${name}-revocation`,
      {
        runId,
        admin,
        users: bucketRoles.map((role) => store.credentials[role].accessKey),
      },
      { parent: this, dependsOn: [runReport] },
    );

    return runReport;
  }

  /** Where the dump runs; kubernetes mode gets a provider of its own for the source cluster. */
  private dumpLocation(name: string, config: FerryConfig, objectStorePort: number): DumpLocation {
    const { source } = config;
    switch (source.mode) {
      case "kubernetes":
        return {
          mode: "kubernetes",
          provider: new k8s.Provider(
            `${name}-source`,
            { kubeconfig: source.kubernetes.kubeconfig, context: source.kubernetes.context },
            { parent: this },
          ),
          namespace: source.kubernetes.namespace,
          image: source.kubernetes.toolsImage,
          imagePullPolicy: source.kubernetes.imagePullPolicy,
          objectStorePort,
          dnsServers: source.kubernetes.dnsPods,
          ...(source.kubernetes.dataVolume
            ? {
                dataVolume: {
                  ...source.kubernetes.dataVolume,
                  group: source.kubernetes.dataVolume.group ?? source.kubernetes.dataVolume.user,
                },
              }
            : {}),
        };
      case "ssh":
        return { mode: "ssh", ...source.ssh };
      case "local":
        return { mode: "local" };
      default: {
        const unknown: never = source;
        throw new pulumi.ResourceError(`unknown source mode ${JSON.stringify(unknown)}`, this);
      }
    }
  }
}

/** The providers of the destination cluster and the object store. */
interface Clusters {
  readonly destination: k8s.Provider;
  readonly objectStore: minio.Provider;
}

/** What the store-and-keys phase gives the others. */
interface Transit {
  readonly store: ObjectStore;
  readonly urls: ReturnType<typeof objectStoreUrls>;
  /** The bucket as one side reaches it, with the credentials of one role. */
  readonly bucketFrom: (url: string, role: BucketRole) => BucketAccess;
  readonly dumpSettings: Omit<DumpSettings, "runKey">;
  readonly runKey: RunKey;
  readonly rootPasswordKept: RootPasswordKept[];
  /** The object store's administrator, as this machine reaches it. */
  readonly admin: ObjectStoreAdmin;
}

/** Where the data lands, and what the destination's Jobs share. */
interface Landing {
  readonly storage: StorageStack | ExistingStorageClass;
  readonly database: DestinationDatabase | ExistingDatabase;
  readonly jobs: DestinationJobs;
  /** Live mode: the way to the source, checked before the import. */
  readonly replicationSource?: ReplicationSource;
}

/** What the import-and-verification phase gives the last one. */
interface Arrival {
  readonly checks: Verification;
  /** Live mode: the destination replicating from the source, or cut over to. */
  readonly catchUp?: Replication | Cutover;
  readonly watches: StepLog[];
  /** The bucket as this machine reaches it, with the reading user. */
  readonly operatorRead: BucketAccess;
}

/** What the source's config says of where the dump runs, without its credentials (the SSH key). */
function sourceSide(source: FerryConfig["source"]): unknown {
  switch (source.mode) {
    case "ssh":
      return {
        ...source,
        ssh: Object.fromEntries(Object.entries(source.ssh).filter(([key]) => key !== "privateKey")),
      };
    default:
      return source;
  }
}

/**
 * The object store's CA as a file for the minio provider, named by its content under the
 * project's .ferry/: the same CA gives the same path on every run (no provider change), and it is
 * still there for a `pulumi destroy` from this checkout, which configures the provider from state.
 */
function caCertFile(caCert: string): string {
  const digest = createHash("sha256").update(caCert).digest("hex").slice(0, 16);
  const file = path.resolve(".ferry", "object-store-ca", `${digest}.pem`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, caCert, { mode: 0o644 });
  return file;
}
