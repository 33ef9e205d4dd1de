import * as net from "net";
import * as pulumi from "@pulumi/pulumi";
import { parseConfig, type FerryConfig } from "../../components/config";

/** Everything one mocked run registered: inputs from the mocks, options from a transformation. */
export interface Registered {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, any>;
  readonly provider?: string;
  readonly opts?: pulumi.CustomResourceOptions;
  /** Set for a resource read from the cluster (`Resource.get`), not made. */
  readonly readId?: string;
}

export const registered: Registered[] = [];
const optionsByName = new Map<string, pulumi.CustomResourceOptions>();
const constructed: pulumi.Resource[] = [];

export const sampleManifest = {
  format: "ferry-dump/7" as const,
  runId: "run-1",
  compression: "zstd",
  bytes: 1470,
  sqlBytes: 4599,
  streams: [
    {
      name: "data-1",
      bytes: 1100,
      sqlBytes: 3900,
      chunks: [
        {
          object: "runs/run-1/data-1/000000.sql.zst",
          bytes: 1100,
          sqlBytes: 3900,
          sha256: "4cbb61fbd2f632a72e234b17afe84134858eacd71eba647c2529392cb1d1a542",
        },
      ],
    },
    {
      name: "definitions",
      bytes: 370,
      sqlBytes: 699,
      chunks: [
        {
          object: "runs/run-1/definitions/000000.sql.zst",
          bytes: 370,
          sqlBytes: 699,
          sha256: "9b1c8f0e3a0b7b5fa1a1f1cbd4c1c5dd3e4e0f1f6b9f3c2a4d5e6f708192a3b4",
        },
      ],
    },
  ],
  databases: ["shop", "crm"],
  tableCount: 2,
  serverVersion: "10.11.19-MariaDB",
  binlogFile: "binlog.000001",
  binlogPosition: "2097",
  gtid: "0-1-9",
  dumpTool: "mariadb-dump Ver 10.19",
  startedAt: "2026-11-24T15:21:05Z",
  finishedAt: "2026-11-24T15:21:08Z",
  tables: [
    { database: "shop", table: "items", rows: 3, checksum: "1:2" },
    { database: "crm", table: "people", rows: 4, checksum: "3:4" },
  ],
};

/** The certificates Job's public ConfigMap under the mocks (package certs' keys). */
export const sampleTlsPublic = {
  "ca.crt": "-----BEGIN CERTIFICATE-----\nsample CA\n-----END CERTIFICATE-----\n",
  "server.crt": "-----BEGIN CERTIFICATE-----\nsample server\n-----END CERTIFICATE-----\n",
  "server.crt.sha256": "5a".repeat(32),
};

/** When the unit tests' program runs (the certificates' renewal window). */
export const sampleNow = new Date(Date.UTC(2026, 11, 6, 12));

/** What the run key's command prints under the mocks: 64 hex digits. */
export const sampleRunKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

export const sampleVerification = {
  runId: "run-1",
  ok: true,
  tables: 2,
  rows: 7,
  mismatchedTables: 0,
  verifiedAt: "2026-11-24T15:22:00Z",
};

/** Live mode's record as the replication step, then the cutover, store it. */
export function sampleLiveRecord(state: "replicating" | "cut over") {
  return {
    runId: "run-1",
    state,
    source: "10.90.0.2:30306",
    replication: {
      checkedAt: "2026-11-24T15:23:00Z",
      behind: 3,
      secondsBehind: 1,
      applied: "0-1-40",
    },
    cutover:
      state === "cut over"
        ? {
            at: "2026-11-24T15:30:00Z",
            position: "0-1-57",
            windowMs: 412,
            compared: true,
            objects: 4,
            tables: 2,
            rows: 9,
            mismatched: 0,
          }
        : null,
  };
}

/** Installs the mocks once; call from beforeAll before importing any component. */
export function installMocks(): void {
  void pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({
          type: args.type,
          name: args.name,
          inputs: args.inputs,
          provider: args.provider,
          opts: optionsByName.get(`${args.type}::${args.name}`),
          readId: args.id ? args.id : undefined,
        });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.id && args.type === "kubernetes:storage.k8s.io/v1:StorageClass") {
          // A vendor's class as the cluster would return it.
          return {
            id: args.id,
            state: {
              metadata: { name: args.id },
              provisioner: "csi.vendor.example.com",
              volumeBindingMode: "WaitForFirstConsumer",
              reclaimPolicy: "Delete",
            },
          };
        }
        if (args.id && args.type === "kubernetes:discovery.k8s.io/v1:EndpointSlice") {
          // The API server as a cluster lists it.
          return {
            id: args.id,
            state: {
              endpoints: [{ addresses: ["10.88.0.1"] }],
              ports: [{ name: "https", port: 6443, protocol: "TCP" }],
            },
          };
        }
        if (args.id && args.type === "kubernetes:core/v1:ConfigMap") {
          // The certificates Job's public ConfigMap, as it leaves it.
          return { id: args.id, state: { metadata: { name: args.id }, data: sampleTlsPublic } };
        }
        if (args.type === "minio:index/iamUser:IamUser") state.secret = "generated-user-secret";
        if (args.type === "minio:index/s3Bucket:S3Bucket")
          state.bucket = `${args.inputs.bucketPrefix}abc123`;
        if (args.type === "minio:index/iamPolicy:IamPolicy")
          state.name = `${args.inputs.namePrefix}p1`;
        if (
          args.type.startsWith("kubernetes:") &&
          args.inputs.metadata &&
          !args.inputs.metadata.name
        ) {
          state.metadata = { ...args.inputs.metadata, name: `${args.name}-generated` };
        }
        if (args.type === "command:local:Command" || args.type === "command:remote:Command") {
          // The bucket as the declared steps would leave it: a verification result only where a
          // verify Job ran, the dump removed only where a cleanup Job ran.
          const ran = (suffix: string) =>
            registered.some((r) => r.type === "kubernetes:batch/v1:Job" && r.name.endsWith(suffix));
          state.stdout = args.name.endsWith("-run-key-draw")
            ? sampleRunKey
            : args.name.endsWith("-preflight")
              ? preflightDecision(JSON.stringify(args.inputs.stdin ?? ""))
              : args.name.endsWith("-report-read")
                ? JSON.stringify({
                    manifest: sampleManifest,
                    verification: ran("-verification-job") ? sampleVerification : null,
                    live: ran("-cutover-job")
                      ? sampleLiveRecord("cut over")
                      : ran("-replication-job")
                        ? sampleLiveRecord("replicating")
                        : null,
                    dumpObjectsPresent: ran("-cleanup-job")
                      ? 0
                      : sampleManifest.streams.flatMap((s) => s.chunks).length,
                  })
                : JSON.stringify(sampleManifest);
        }
        return { id: `${args.name}-id`, state };
      },
      call: (args) => {
        throw new Error(`unexpected call to ${args.token}`);
      },
    },
    "ferry",
    "test",
    false,
  );
  // The mock monitor takes no hook registrations; the engine's does. Hooks are options the
  // transformation below records, and never run under mocks (they run around real creates).
  const monitor = pulumi.runtime.getMonitor() as unknown as Record<string, unknown>;
  const accept = (_request: unknown, callback: (error: null, response: object) => void) =>
    callback(null, {});
  monitor.registerResourceHook = accept;
  monitor.registerErrorHook = accept;
}

/**
 * Mocks see inputs only; a transformation sees the options (dependsOn, retainOnDelete, ...).
 * Pass it in the component's options: it then applies to every child.
 */
export const recordOptions: pulumi.ResourceTransformation = (args) => {
  optionsByName.set(`${args.type}::${args.name}`, args.opts);
  constructed.push(args.resource);
  return undefined;
};

export function resetRegistered(): void {
  registered.length = 0;
  constructed.length = 0;
}

function resolved<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}

/**
 * Resolves the output once every resource constructed so far has its URN, that is once the mocks
 * have registered all of them; the output alone may resolve before unrelated children register.
 */
export async function settle<T>(output: pulumi.Output<T>): Promise<T> {
  const value = await resolved(output);
  let seen = -1;
  while (seen !== constructed.length) {
    seen = constructed.length;
    await resolved(pulumi.all(constructed.map((r) => r.urn)));
  }
  return value;
}

export function ofType(type: string): Registered[] {
  return registered.filter((r) => r.type === type);
}

export function named(suffix: string): Registered {
  const found = registered.filter((r) => r.name.endsWith(suffix));
  if (found.length !== 1)
    throw new Error(`expected one resource named *${suffix}, found ${found.length}`);
  return found[0];
}

export function countByType(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of registered) counts[r.type] = (counts[r.type] ?? 0) + 1;
  return counts;
}

/** A complete, valid stack configuration as plain values, for one source mode. */
/** An ed25519 host key line as ssh-keyscan prints it after the host name. */
export const sampleHostKey =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDPXVUb90G8biG53OjE6AG00RAT54gLy74XQxK8oL55E";

/**
 * A server on this machine's loopback that answers as an SSH server does, with its identification
 * line: the source host of the ssh mode's graph, which ferry reaches before its commands do.
 */
let sshServerPort = 22;
export async function startSshServer(): Promise<net.Server> {
  const server = net.createServer((socket) => socket.end("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  sshServerPort = (server.address() as net.AddressInfo).port;
  return server;
}

export function rawConfig(mode: "kubernetes" | "ssh" | "local"): Record<string, unknown> {
  return {
    source: {
      mode,
      host: mode === "kubernetes" ? "mysql.legacy.svc" : "127.0.0.1",
      user: "dumper",
      databases: ["shop", "crm"],
      ...(mode === "kubernetes"
        ? { kubernetes: { context: "source", namespace: "legacy", toolsImage: "ferry/tools:1" } }
        : {}),
      ...(mode === "ssh"
        ? {
            ssh: {
              host: "127.0.0.1",
              port: sshServerPort,
              user: "ops",
              hostKey: sampleHostKey,
              objectStoreEndpoint: "http://minio.example.internal:9000",
            },
          }
        : {}),
    },
    destination: { context: "destination", toolsImage: "ferry/tools:1" },
    objectStore: {
      endpoint: "minio.example.internal:9000",
      accessKey: "admin",
    },
    storage: {
      crds: { chart: "neuronsan-crds", repo: "https://charts.example.com", version: "1.2.0" },
      system: {
        chart: "neuronsan",
        repo: "https://charts.example.com",
        version: "1.2.0",
        values: { replicas: 3 },
      },
      csi: { chart: "neuronsan-csi", repo: "https://charts.example.com", version: "1.2.0" },
      storageClass: { name: "neuronsan", provisioner: "csi.neuronsan.io" },
      previousDefaultClass: "standard",
    },
    migration: { runId: "run-1" },
  };
}

export const secretValues: Record<string, string> = {
  sourcePassword: "source-pw-Z9",
  destinationRootPassword: "root-pw-Q7",
  objectStoreSecretKey: "store-secret-K3",
  sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nkey\n-----END OPENSSH PRIVATE KEY-----",
  storageLicenseKey: "license-L1",
};

/** The secrets without one of them. */
export function secretsWithout(key: string): Record<string, string> {
  return Object.fromEntries(Object.entries(secretValues).filter(([k]) => k !== key));
}

/** Parses a raw configuration the way loadConfig does, with the given secrets. */
export function configFrom(
  raw: Record<string, unknown>,
  secrets: Record<string, string> = secretValues,
  plainTextKeys: string[] = [],
): FerryConfig {
  return parseConfig(
    {
      getObject: (key) => raw[key],
      getSecret: (key) => (key in secrets ? pulumi.secret(secrets[key]) : undefined),
      isEmpty: (key) => secrets[key] === "",
      isStoredAsSecret: (key) => !plainTextKeys.includes(key),
    },
    "test",
  );
}

const secretSignature = "4dabf18193072939515e22adb298388d";

/** Whether a mocked input arrived as a secret. */
export function isSecretInput(value: unknown): boolean {
  return typeof value === "object" && value !== null && secretSignature in value;
}

/** The value inside a secret input; fails when the input was not secret. */
export function revealSecret(value: unknown): any {
  if (!isSecretInput(value))
    throw new Error(`expected a secret input, got ${JSON.stringify(value)}`);
  return (value as { value: unknown }).value;
}

/**
 * What a preflight prints for the method its program asks (METHOD): physical where physical or
 * auto is asked of it (a source that allows it), logical otherwise.
 */
export function preflightDecision(program: string): string {
  const method = /METHOD='(physical|auto)'/.test(program) ? "physical" : "logical";
  return `${JSON.stringify({ method, reason: `the preflight took ${method}` })}\n`;
}
