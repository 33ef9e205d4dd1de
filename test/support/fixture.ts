import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  bucketPolicyDocument,
  bucketRoles,
  type BucketRole,
} from "../../components/specs/bucketAccess";
import { MariaDb, Minio, secretFile } from "./servers";

/**
 * A source, a destination and an object store for a suite of data-plane tests, set up as ferry
 * expects them: a dump user with the privileges docs/real-clusters.md names, an importing user, a bucket and
 * a user confined to it by the policy ObjectStore declares, and each secret in a 0600 file.
 */
export class DataPlane {
  readonly destinationPassword = `dst-pw-${Math.random().toString(36).slice(2)}`;
  /** One bucket user a role, confined by the policy ObjectStore declares for it. */
  readonly bucketSecrets: Record<BucketRole, string> = {
    dump: `dp-dump-${Math.random().toString(36).slice(2)}`,
    read: `dp-read-${Math.random().toString(36).slice(2)}`,
    cleanup: `dp-cleanup-${Math.random().toString(36).slice(2)}`,
  };
  /** The source side's bucket key (the one that travels furthest). */
  readonly dataPlaneSecret = this.bucketSecrets.dump;
  /** The key that seals every run of the suite (ferry's program makes one per run). */
  readonly runKey = randomBytes(32).toString("hex");

  private constructor(
    readonly source: MariaDb,
    readonly destination: MariaDb,
    readonly minio: Minio,
    readonly bucket: string,
    readonly sourcePassword: string,
    readonly secretsDir: string,
  ) {}

  /**
   * `serverSettings` start both MariaDB servers, `destinationSettings` the destination after them
   * (another server id, for a replica); `objectStoreTls` makes MinIO serve https only with that
   * certificate, and every step trust its CA (S3_CA_CERT).
   */
  static async start(
    name: string,
    bucket: string,
    sourcePassword: string,
    serverSettings: string[] = [],
    objectStoreTls?: Parameters<typeof Minio.start>[0],
    destinationSettings: string[] = [],
  ): Promise<DataPlane> {
    const started = await Promise.allSettled([
      MariaDb.start(`${name}-source`, undefined, undefined, serverSettings),
      MariaDb.start(`${name}-destination`, undefined, undefined, [
        ...serverSettings,
        ...destinationSettings,
      ]),
      Minio.start(objectStoreTls),
    ]);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) {
      // The servers that did start are stopped, so a failed start leaves no server behind.
      for (const server of started) if (server.status === "fulfilled") await server.value.stop();
      throw failed.reason;
    }
    const [source, destination, minio] = started.map(
      (s) => (s as PromiseFulfilledResult<MariaDb | Minio>).value,
    ) as [MariaDb, MariaDb, Minio];
    const secretsDir = fs.mkdtempSync(path.join(os.tmpdir(), `ferry-${name}-secrets-`));
    const plane = new DataPlane(source, destination, minio, bucket, sourcePassword, secretsDir);
    secretFile(secretsDir, "source-password", sourcePassword);
    secretFile(secretsDir, "root-password", plane.destinationPassword);
    for (const role of bucketRoles)
      secretFile(secretsDir, `s3-${role}-secret-key`, plane.bucketSecrets[role]);
    secretFile(secretsDir, "run-key", plane.runKey);

    const quoted = sourcePassword.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
    source.must(`CREATE USER 'dumper'@'127.0.0.1' IDENTIFIED BY '${quoted}';
      GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE, LOCK TABLES, RELOAD, PROCESS, REPLICATION CLIENT ON *.* TO 'dumper'@'127.0.0.1';`);
    plane.grantImporter(destination);

    minio.mustMc(["mb", `admin/${bucket}`]);
    for (const role of bucketRoles) {
      const user = `ferry-dp-${role}`;
      const policyFile = path.join(secretsDir, `policy-${role}.json`);
      fs.writeFileSync(policyFile, bucketPolicyDocument(bucket, role));
      minio.mustMc(["admin", "user", "add", "admin", user, plane.bucketSecrets[role]]);
      minio.mustMc(["admin", "policy", "create", "admin", user, policyFile]);
      minio.mustMc(["admin", "policy", "attach", "admin", user, "--user", user]);
    }
    return plane;
  }

  /** The statements that create the importing user on a destination server. */
  private importerStatements(): string {
    return `CREATE USER 'ferry_root'@'127.0.0.1' IDENTIFIED BY '${this.destinationPassword}';
      GRANT ALL ON *.* TO 'ferry_root'@'127.0.0.1' WITH GRANT OPTION;`;
  }

  /** Creates the importing user on a destination server. */
  grantImporter(server: MariaDb): void {
    server.must(this.importerStatements());
  }

  /**
   * A server setting that creates the importing user while the server starts, before it accepts
   * any connection: a server started late is never seen without its user.
   */
  importerAtStartup(): string {
    const file = path.join(this.secretsDir, "importer.sql");
    // The server reads an init file one statement a line.
    const statements = this.importerStatements().replace(/;\s*/g, ";\n");
    fs.writeFileSync(file, statements, { mode: 0o600 });
    return `--init-file=${file}`;
  }

  /** The bucket as a step of `role` reaches it, and the run key. */
  objectStoreEnv(role: BucketRole): Record<string, string> {
    return {
      S3_ENDPOINT: this.minio.url,
      ...(this.minio.caCert ? { S3_CA_CERT: this.minio.caCert } : {}),
      S3_BUCKET: this.bucket,
      S3_ACCESS_KEY: `ferry-dp-${role}`,
      S3_SECRET_KEY_FILE: path.join(this.secretsDir, `s3-${role}-secret-key`),
      RUN_KEY_FILE: path.join(this.secretsDir, "run-key"),
    };
  }

  dumpEnv(runId: string, databases: string): Record<string, string> {
    return {
      ...this.objectStoreEnv("dump"),
      SOURCE_HOST: "127.0.0.1",
      SOURCE_PORT: String(this.source.port),
      SOURCE_USER: "dumper",
      SOURCE_PASSWORD_FILE: path.join(this.secretsDir, "source-password"),
      DATABASES: databases,
      RUN_ID: runId,
      COMPRESSION: "zstd",
    };
  }

  /** The import's, verification's and report's environment (the reading user). */
  destinationEnv(runId: string, port = this.destination.port): Record<string, string> {
    return {
      ...this.objectStoreEnv("read"),
      DEST_HOST: "127.0.0.1",
      DEST_PORT: String(port),
      DEST_USER: "ferry_root",
      DEST_PASSWORD_FILE: path.join(this.secretsDir, "root-password"),
      RUN_ID: runId,
      WAIT_SECONDS: "20",
    };
  }

  /** The cleanup's environment: the user that may also delete. */
  cleanupEnv(runId: string): Record<string, string> {
    return { ...this.objectStoreEnv("cleanup"), RUN_ID: runId };
  }

  objectExists(key: string): boolean {
    return this.minio.mc(["stat", `admin/${this.bucket}/${key}`]).status === 0;
  }

  /** Every key stored under prefix (e.g. `runs/<runId>/`). */
  keysUnder(prefix: string): string[] {
    const listing = this.minio.mustMc([
      "ls",
      "--recursive",
      "--json",
      `admin/${this.bucket}/${prefix}`,
    ]);
    return listing
      .toString()
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => prefix + (JSON.parse(line) as { key: string }).key);
  }

  /** The keys under prefix whose object does not begin as a sealed record does (package seal). */
  unsealedObjects(prefix: string): string[] {
    return this.keysUnder(prefix).filter(
      (key) =>
        this.minio
          .mustMc(["cat", `admin/${this.bucket}/${key}`])
          .subarray(0, 13)
          .toString() !== "ferry-seal-1\n",
    );
  }

  async stop(): Promise<void> {
    await Promise.all([this.source.stop(), this.destination.stop(), this.minio.stop()]);
    fs.rmSync(this.secretsDir, { recursive: true, force: true });
  }
}
