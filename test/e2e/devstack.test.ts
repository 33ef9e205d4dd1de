import { execFileSync, spawn, spawnSync, type ChildProcess } from "child_process";
import { createHash, X509Certificate } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { engineWorkspace, repoRoot, type EngineWorkspace } from "../engine/workspace";
import { signedBy, testCertificates } from "../support/certificates";
import { SecretWatch, type SecretHolder } from "../support/secretWatch";
import { startWriter, until, type Writer } from "../support/writer";
import { restrictedContainer, restrictedPod } from "../../components/specs/podSecurity";

/**
 * The dev stack end to end on the real engine, the providers ferry builds and the local cluster
 * (scripts/dev/cluster.sh): a real node runs the Jobs' pods, the destination MySQL and the storage
 * provisioner. Twice: with the source on this machine (mode local) and with the source in a pod
 * of the cluster (mode kubernetes). Each time the rows are read back from the destination and
 * compared with the source's.
 */

const secretsDir = path.join(repoRoot, ".ferry", "dev-secrets");
const kubeconfig = path.join(repoRoot, ".ferry", "kubeconfig");
const secretKeys = ["sourcePassword", "destinationRootPassword", "objectStoreSecretKey"];
const tables = ["shop.products", "shop.orders", "crm.people"];
let kubectlBin: string;
let startedHere = false;
let clientOptions: string;

/** kubectl on the destination cluster (the kubeconfig's current context). */
function kubectl(args: string[]) {
  return spawnSync(kubectlBin, ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8" });
}

/** kubectl apply of manifests (YAML or JSON), on the destination cluster unless a context is named. */
function kubectlApply(manifests: string, context?: string) {
  const contextArgs = context ? ["--context", context] : [];
  const applied = spawnSync(
    kubectlBin,
    ["--kubeconfig", kubeconfig, ...contextArgs, "apply", "-f", "-"],
    { input: manifests, encoding: "utf8" },
  );
  expect(applied.status, applied.stderr).toBe(0);
}

/** kubectl on the source cluster, a cluster of its own on an older Kubernetes. */
function sourceKubectl(args: string[]) {
  return kubectl(["--context", "source", ...args]);
}

/** A setting of scripts/build/versions.env, as the scripts that build the clusters read it. */
function pinnedVersion(name: string): string {
  const file = fs.readFileSync(path.join(repoRoot, "scripts/build/versions.env"), "utf8");
  const value = new RegExp(`^${name}=(\\S+)$`, "m").exec(file)?.[1];
  if (!value) throw new Error(`scripts/build/versions.env has no ${name}`);
  return value;
}

function jsonpath(kind: string, name: string, namespace: string | null, expression: string) {
  const scope = namespace ? ["-n", namespace] : [];
  return kubectl(["get", kind, name, ...scope, "-o", `jsonpath=${expression}`]).stdout;
}

/** A jsonpath expression over the pods of the database ferry runs in `namespace`. */
function databasePods(namespace: string, expression: string): string {
  return kubectl([
    "get",
    "pods",
    "-n",
    namespace,
    "-l",
    "app.kubernetes.io/component=database",
    "-o",
    `jsonpath=${expression}`,
  ]).stdout;
}

function secret(key: string): string {
  return fs.readFileSync(path.join(secretsDir, key), "utf8");
}

/** A 0600 option file, so no password is on the client's command line. */
function passwordOptions(password: string): string {
  const file = path.join(clientOptions, `client-${Math.random().toString(36).slice(2)}.cnf`);
  fs.writeFileSync(file, `[client]\npassword=${password}\n`, { mode: 0o600 });
  return file;
}

/** Every row of `table`, in key order, BLOBs as hex: what must be equal on both sides. */
function rows(connection: string[], table: string): string {
  const result = spawnSync(
    "mariadb",
    [
      ...connection,
      "--batch",
      "--skip-column-names",
      "--binary-as-hex",
      "--default-character-set=utf8mb4",
      "-e",
      `SELECT * FROM ${table} ORDER BY id`,
    ],
    { encoding: "utf8", maxBuffer: 512 * 1024 * 1024 },
  );
  expect(result.status, result.stderr).toBe(0);
  return result.stdout;
}

/**
 * The destination MySQL through its Service's cluster address (kube-proxy on this machine), over
 * TLS checked against the CA applications trust, ConfigMap mysql-ca (the chain: the address is an
 * IP the certificate does not name). `tls: false` tries plaintext, which the server must refuse.
 */
function destination(namespace: string, tls = true): string[] {
  const address = jsonpath("service", "mysql", namespace, "{.spec.clusterIP}");
  const options = passwordOptions(secret("destinationRootPassword"));
  if (!tls) return [`--defaults-extra-file=${options}`, "-h", address, "-uroot", "--skip-ssl"];
  const ca = jsonpath("configmap", "mysql-ca", namespace, "{.data.ca\\.crt}");
  expect(ca).toContain("BEGIN CERTIFICATE");
  const caFile = path.join(clientOptions, `ca-${Math.random().toString(36).slice(2)}.crt`);
  fs.writeFileSync(caFile, ca);
  return [
    `--defaults-extra-file=${options}`,
    "-h",
    address,
    "-uroot",
    "--ssl",
    `--ssl-ca=${caFile}`,
  ];
}

/** The dev object store's settings in Pulumi.dev.yaml (endpoint host:port, accessKey, …). */
function devObjectStore(): { endpoint: string; accessKey: string } {
  return parse(fs.readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8")).config[
    "ferry:objectStore"
  ];
}

/** mc as the dev MinIO's admin (alias dev), trusting the dev servers' CA alone. */
function devMc(args: string[]) {
  const { endpoint, accessKey } = devObjectStore();
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-e2e-mc-"));
  try {
    // mc trusts the CAs of its config's certs/CAs: the dev MinIO's, and no other.
    fs.mkdirSync(path.join(configDir, "certs", "CAs"), { recursive: true });
    fs.writeFileSync(path.join(configDir, "certs", "CAs", "ca.crt"), devServersCa());
    fs.writeFileSync(
      path.join(configDir, "config.json"),
      JSON.stringify({
        version: "10",
        aliases: {
          dev: {
            url: `https://${endpoint}`,
            accessKey,
            secretKey: secret("objectStoreSecretKey"),
            api: "S3v4",
            path: "auto",
          },
        },
      }),
      { mode: 0o600 },
    );
    const ran = spawnSync("mc", ["--config-dir", configDir, "--quiet", ...args], {
      encoding: "utf8",
    });
    expect(ran.status, `mc ${args.join(" ")}: ${ran.stdout}${ran.stderr}`).toBe(0);
    return ran.stdout;
  } finally {
    fs.rmSync(configDir, { recursive: true, force: true });
  }
}

/**
 * openssl's TLS client over the MySQL protocol's STARTTLS to the server at `address`: its chain
 * checked against the CA file `trusted`, its name against `name`; -brief or -showcerts output.
 */
function startTls(address: string, trusted: string, name: string, output: "-brief" | "-showcerts") {
  return spawnSync(
    "openssl",
    [
      "s_client",
      "-connect",
      `${address}:3306`,
      "-starttls",
      "mysql",
      "-CAfile",
      trusted,
      "-verify_hostname",
      name,
      "-verify_return_error",
      output,
    ],
    { encoding: "utf8", input: "", timeout: 30_000 },
  );
}

/** What the dev stack's MinIO says of a user: "enabled" or "disabled" (its admin asks). */
function objectStoreUserStatus(user: string): string {
  return JSON.parse(devMc(["admin", "user", "info", "dev", user, "--json"])).userStatus;
}

const hostSource = [
  "--no-defaults",
  `--socket=${path.join(repoRoot, ".ferry", "devenv", "mariadb.sock")}`,
  "-uroot",
];

/** The source cluster's database, from outside that cluster: its node's address, the node port. */
/** ferry:source for the source cluster's server (mode kubernetes), its kubernetes section extended. */
function clusterSourceConfig(kubernetes: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mode: "kubernetes",
    host: "source-db.ferry-source.svc.cluster.local",
    port: 3306,
    kubernetes: {
      kubeconfig: ".ferry/kubeconfig",
      context: "source",
      namespace: "ferry-source",
      toolsImage: "ferry.local/tools:1",
      ...kubernetes,
    },
  };
}

function clusterSource(): string[] {
  const options = passwordOptions(secret("sourceRootPassword"));
  return [`--defaults-extra-file=${options}`, "-h", "10.90.0.2", "-P", "30306", "-uroot"];
}

/** A statement's output (tab-separated, no header), the statement on stdin. */
function query(connection: string[], statement: string): string {
  const result = spawnSync("mariadb", [...connection, "--batch", "--skip-column-names"], {
    input: statement,
    encoding: "utf8",
  });
  expect(result.status, `${statement}: ${result.stderr}`).toBe(0);
  return result.stdout.trim();
}

/** One row of a statement's output, as column name to value (SHOW SLAVE STATUS). */
function queryRow(connection: string[], statement: string): Record<string, string> {
  const result = spawnSync("mariadb", [...connection, "--batch"], {
    input: statement,
    encoding: "utf8",
  });
  expect(result.status, `${statement}: ${result.stderr}`).toBe(0);
  const [names, values] = result.stdout.split("\n");
  if (!values) return {};
  const row = values.split("\t");
  return Object.fromEntries(names.split("\t").map((name, i) => [name, row[i]]));
}

/** The dev stack's storage as a later stack uses it: the class by name, nothing installed. */
function existingStorage(stack: { config: Record<string, any> }) {
  return {
    install: false,
    storageClass: { name: stack.config["ferry:storage"].storageClass.name },
  };
}

/**
 * The dev storage the first stack installed and every destroy keeps (its Helm releases' objects,
 * the class): removed when this test leaves a cluster it did not start, so the next run installs
 * it again. A cluster it started goes away whole.
 */
function removeDevStorage(): void {
  const dev = parse(fs.readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8"));
  const storageNamespace = dev.config["ferry:storage"].namespace as string;
  const listed = kubectl([
    "get",
    "clusterrole,clusterrolebinding,csidriver,customresourcedefinition,storageclass",
    "-o",
    "json",
  ]);
  const items = (
    JSON.parse(listed.stdout || '{"items":[]}') as {
      items: { kind: string; metadata: { name: string; annotations?: Record<string, string> } }[];
    }
  ).items.filter(
    (item) =>
      item.metadata.annotations?.["meta.helm.sh/release-namespace"] === storageNamespace ||
      (item.kind === "StorageClass" &&
        item.metadata.name === dev.config["ferry:storage"].storageClass.name),
  );
  for (const item of items)
    kubectl(["delete", item.kind, item.metadata.name, "--ignore-not-found"]);
  kubectl(["delete", "namespace", storageNamespace, "--ignore-not-found", "--wait=true"]);
}

/** A resource as `pulumi stack export` prints it. */
interface ExportedResource {
  readonly urn: string;
  readonly type: string;
  readonly outputs?: Record<string, unknown>;
}

/** An output's value: a secret is exported as an envelope whose plaintext is the value in JSON. */
function revealed(value: unknown): unknown {
  if (typeof value === "string") return value;
  const plaintext = (value as { plaintext?: string } | undefined)?.plaintext;
  return JSON.parse(plaintext ?? "null");
}

/** The CA of the dev servers' certificate (scripts/dev/dev-tls.sh, made by devenv.sh up). */
function devServersCa(): string {
  return fs.readFileSync(path.join(repoRoot, ".ferry", "dev-tls", "ca.crt"), "utf8");
}

/** One stack of the dev project in its own namespace, run from a throw-away workspace. */
class DevStack {
  readonly workspace: EngineWorkspace;
  readonly stackFile: string;

  constructor(
    readonly stack: string,
    readonly namespace: string,
    sourceOverride: Record<string, unknown>,
    options: {
      destination?: (destination: Record<string, unknown>) => void;
      migration?: (migration: Record<string, unknown>) => void;
      secrets?: Record<string, string>;
      /** Use the class an earlier stack installed (storage.install false), as a platform team would. */
      existingStorage?: boolean;
    } = {},
  ) {
    kubectl(["delete", "namespace", namespace, "--ignore-not-found", "--wait=true"]);
    this.workspace = engineWorkspace(stack, [".ferry"]);
    const dev = parse(fs.readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8"));
    dev.config["ferry:destination"].namespace = namespace;
    options.destination?.(dev.config["ferry:destination"]);
    options.migration?.(dev.config["ferry:migration"]);
    // Every dev server (the sources, MinIO) requires TLS with a certificate of
    // scripts/dev/dev-tls.sh: trust its CA.
    dev.config["ferry:source"].tls = { mode: "verify-identity", caCert: devServersCa() };
    dev.config["ferry:objectStore"].caCert = devServersCa();
    Object.assign(dev.config["ferry:source"], sourceOverride);
    if (options.existingStorage) dev.config["ferry:storage"] = existingStorage(dev);
    this.stackFile = path.join(this.workspace.work, `Pulumi.${stack}.yaml`);
    fs.writeFileSync(this.stackFile, stringify(dev));
    const init = this.pulumi(["stack", "init"]);
    expect(init.status, init.output).toBe(0);
    const secrets =
      options.secrets ?? Object.fromEntries(secretKeys.map((key) => [key, secret(key)]));
    for (const [key, value] of Object.entries(secrets)) {
      const set = this.pulumi(["config", "set", "--secret", key], value);
      expect(set.status, set.output).toBe(0);
    }
    this.setRunId(`${stack}-${Date.now().toString(36)}`);
  }

  /** Runs the CLI on this stack; `stack` commands take no config file. */
  pulumi(args: string[], input?: string) {
    return this.workspace.pulumi(this.cliArgs(args), input);
  }

  /** The same, without blocking (runs that overlap); `started` gets the CLI's pid. */
  pulumiAsync(args: string[], started?: (pid: number) => void) {
    return this.workspace.pulumiAsync(this.cliArgs(args), started);
  }

  private cliArgs(args: string[]): string[] {
    const configFile = args[0] === "stack" ? [] : ["--config-file", this.stackFile];
    return [...args, "--stack", this.stack, ...configFile];
  }

  /** Changes the stack file's config in place. */
  changeConfig(change: (config: Record<string, any>) => void): void {
    const stack = parse(fs.readFileSync(this.stackFile, "utf8"));
    change(stack.config);
    fs.writeFileSync(this.stackFile, stringify(stack));
  }

  /** From now on, the storage an earlier up installed is used as it is. */
  useExistingStorage(): void {
    this.changeConfig((config) => (config["ferry:storage"] = existingStorage({ config })));
  }

  setRunId(runId: string): void {
    this.changeConfig((config) => (config["ferry:migration"].runId = runId));
  }

  previewSteps(): { op: string; type: string; name: string }[] {
    const preview = this.pulumi(["preview", "--json"]);
    expect(preview.status, preview.output).toBe(0);
    const json = JSON.parse(preview.output.slice(0, preview.output.lastIndexOf("}") + 1));
    return (json.steps as { op: string; urn: string }[]).map((s) => ({
      op: s.op,
      type: s.urn.split("::")[2].split("$").pop()!,
      name: s.urn.split("::")[3],
    }));
  }

  report() {
    const outputs = this.pulumi(["stack", "output", "report", "--json"]);
    expect(outputs.status, outputs.output).toBe(0);
    return JSON.parse(outputs.output.slice(0, outputs.output.lastIndexOf("}") + 1));
  }

  /** The resources of the stack's state, its secrets shown only when asked. */
  private stateResources(showSecrets: boolean): ExportedResource[] {
    const exported = this.pulumi(["stack", "export", ...(showSecrets ? ["--show-secrets"] : [])]);
    expect(exported.status, exported.output).toBe(0);
    const state = JSON.parse(exported.output.slice(0, exported.output.lastIndexOf("}") + 1));
    return state.deployment.resources as ExportedResource[];
  }

  /** The run key, as the stack's state holds it (a secret: shown only when asked). */
  runKey(): string {
    const draw = this.stateResources(true).find((r) => r.urn.endsWith("-run-key-draw"));
    const key = revealed(draw?.outputs?.stdout);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    return key as string;
  }

  /** The bucket users' secret keys (made by the minio provider during the up), from its state. */
  bucketUserKeys(): string[] {
    const keys = this.stateResources(true)
      .filter((r) => r.type === "minio:index/iamUser:IamUser")
      .map((r) => revealed(r.outputs?.secret));
    for (const key of keys) expect(typeof key === "string" && key.length >= 8).toBe(true);
    return keys as string[];
  }

  /** The bucket users of the stack's current run, from its state. */
  bucketUsers(): string[] {
    return this.stateResources(false)
      .filter((r) => r.type === "minio:index/iamUser:IamUser")
      .map((r) => (r.outputs?.name as string | undefined) ?? "");
  }

  /** The data volume's directory on the node, through its claim and volume. */
  dataDirectory(): string {
    const volume = jsonpath("pvc", "mysql-data", this.namespace, "{.spec.volumeName}");
    expect(volume).not.toBe("");
    return jsonpath("pv", volume, null, "{.spec.hostPath.path}");
  }

  /** What a run of this stack leaves behind: the retained namespace, its volumes and their data. */
  remove(): void {
    this.pulumi(["destroy", "--yes"]);
    const volumes = kubectl([
      "get",
      "pv",
      "-o",
      "jsonpath={range .items[*]}{.metadata.name} {.spec.claimRef.namespace} {.spec.hostPath.path}{'\\n'}{end}",
    ])
      .stdout.trim()
      .split("\n")
      .map((line) => line.split(" "))
      .filter(([, namespace]) => namespace === this.namespace);
    kubectl(["delete", "namespace", this.namespace, "--ignore-not-found", "--wait=true"]);
    for (const [volume, , directory] of volumes) {
      kubectl(["delete", "pv", volume, "--ignore-not-found", "--wait=true"]);
      if (directory?.startsWith("/var/lib/neuronsan/volumes/")) {
        fs.rmSync(directory, { recursive: true, force: true });
      }
    }
    fs.rmSync(this.workspace.work, { recursive: true, force: true });
  }
}

/**
 * What one migration must have done, whichever the source: checked, read back, cleaned up. Returns
 * what `pulumi up` printed.
 */
function expectMigrated(
  stack: DevStack,
  source: string[],
  // The destination as the rows are read back (by default the server ferry runs, found once it
  // exists), and the Deployments ready in the stack's namespace.
  into: { target?: string[]; deployments: string } = { deployments: "1 1" },
): string {
  return expectMigratedBy(stack.pulumi(["up", "--yes"]), stack, source, into);
}

/** expectMigrated, for an up that has already run (one of several at the same time). */
function expectMigratedBy(
  up: { status: number | null; output: string },
  stack: DevStack,
  source: string[],
  into: { target?: string[]; deployments: string; ledger?: boolean } = { deployments: "1 1" },
): string {
  // A failed up says what the cluster looked like: which pods ran where, and what happened.
  const cluster = () =>
    [
      kubectl(["get", "pods", "-A", "-o", "wide"]).stdout,
      kubectl(["get", "endpoints", "-A"]).stdout,
      kubectl(["get", "events", "-A", "--sort-by=.lastTimestamp"])
        .stdout.split("\n")
        .slice(-40)
        .join("\n"),
    ].join("\n");
  expect(up.status, up.status === 0 ? "" : `${up.output}\n${cluster()}`).toBe(0);
  const report = stack.report();
  if (into.ledger) {
    // The sample's 3 tables and the live migration's ledger (2), whose application writes on.
    expect(report.dump).toMatchObject({ tables: 5, compression: "zstd" });
    expect(report.dump.rows).toBeGreaterThan(25003);
    expect(report.verification).toBe(`passed: 5 tables, ${report.dump.rows} rows match the dump`);
  } else {
    expect(report.dump).toMatchObject({ tables: 3, rows: 25003, compression: "zstd" });
    expect(report.verification).toBe("passed: 3 tables, 25003 rows match the dump");
  }
  expect(report.dumpObjects).toMatch(/^removed: \d+ objects under s3:\/\/ferry-[0-9a-f]+\/runs\//);
  const target = into.target ?? destination(stack.namespace);
  for (const table of tables) {
    const expected = rows(source, table);
    expect(expected.length).toBeGreaterThan(0);
    expect(rows(target, table), table).toBe(expected);
  }
  // The database and the read/write test on a fresh volume of the new class, both ready.
  const ready = kubectl([
    "get",
    "deployments",
    "-n",
    stack.namespace,
    "-o",
    "jsonpath={range .items[*]}{.status.readyReplicas}{' '}{end}",
  ]).stdout;
  expect(ready.trim()).toBe(into.deployments);
  // The run's three bucket users are turned off now that it is reported.
  const users = stack.bucketUsers();
  expect(users).toHaveLength(3);
  for (const user of users) expect(objectStoreUserStatus(user), user).toBe("disabled");
  return up.output;
}

beforeAll(() => {
  const bin = process.env.FERRY_PULUMI_BIN;
  if (!bin) throw new Error("FERRY_PULUMI_BIN is not set: run the tests with npm test");
  // Leave a cluster the developer started alone; stop the one this test starts.
  const status = execFileSync("sh", ["scripts/dev/cluster.sh", "status"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  startedHere = !status.includes("kube-apiserver: running");
  execFileSync("sh", ["scripts/dev/cluster.sh", "up"], { cwd: repoRoot, stdio: "inherit" });
  execFileSync("sh", ["scripts/dev/devenv.sh", "up"], { cwd: repoRoot, stdio: "inherit" });
  kubectlBin = path.join(
    execFileSync("sh", ["scripts/build/cluster-tools.sh"], {
      cwd: repoRoot,
      encoding: "utf8",
    }).trim(),
    "kubectl",
  );
  clientOptions = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-e2e-client-"));
}, 3_600_000);

afterAll(() => {
  if (clientOptions) fs.rmSync(clientOptions, { recursive: true, force: true });
  if (!startedHere) removeDevStorage();
  if (startedHere) {
    execFileSync("sh", ["scripts/dev/devenv.sh", "down"], { cwd: repoRoot, stdio: "inherit" });
    execFileSync("sh", ["scripts/dev/cluster.sh", "down"], { cwd: repoRoot, stdio: "inherit" });
  }
}, 600_000);

/**
 * The processes that need a secret in their environment: the Pulumi program, to which the engine
 * hands the stack's config (its secrets decrypted) in PULUMI_CONFIG, once for the preview and once
 * for the update; and the object store's own server, whose root credential the admin key is.
 */
function needsSecret(h: SecretHolder): boolean {
  return (
    (h.comm === "node" && /@pulumi\/pulumi\/cmd\/run/.test(h.args)) ||
    (h.key === "objectStoreSecretKey" && h.comm === "minio" && / server /.test(` ${h.args}`))
  );
}

/** A pod that only waits, so connections can be tried from where it runs, as who it is. */
class ProbePod {
  constructor(
    readonly namespace: string,
    readonly name: string,
    labels: Record<string, string>,
    /** The kubeconfig's context of the cluster it runs in. */
    readonly context = "destination",
    /** ConfigMaps of its namespace to mount read-only, by mount path. */
    configMaps: Record<string, string> = {},
  ) {
    const mounts = Object.entries(configMaps);
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace, labels },
      spec: {
        // restricted, as the namespaces ferry owns require: ferry's own pods' settings
        securityContext: restrictedPod,
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: 0,
        containers: [
          {
            name: "probe",
            image: "ferry.local/tools:1",
            imagePullPolicy: "Never",
            command: ["sleep", "infinity"],
            securityContext: restrictedContainer,
            volumeMounts: mounts.map(([mountPath], i) => ({
              name: `config-${i}`,
              mountPath,
              readOnly: true,
            })),
          },
        ],
        volumes: mounts.map(([, name], i) => ({ name: `config-${i}`, configMap: { name } })),
      },
    };
    kubectlApply(JSON.stringify(pod), context);
    const ready = kubectl([
      "--context",
      context,
      "wait",
      "-n",
      namespace,
      "--for=condition=Ready",
      `pod/${name}`,
      "--timeout=120s",
    ]);
    expect(ready.status, ready.stderr).toBe(0);
  }

  /**
   * Opens a TCP connection from the pod: "connected", "refused" (nothing listens: the packets got
   * there) or "timeout" (nothing answered in 5 s: a NetworkPolicy dropped them).
   */
  connect(host: string, port: number): string {
    const program = `use IO::Socket::INET; my $c = IO::Socket::INET->new(PeerAddr => $ARGV[0], PeerPort => $ARGV[1], Timeout => 5); print $c ? "connected" : $@ =~ /timeout/ ? "timeout" : $@ =~ /refused/ ? "refused" : "failed: $@";`;
    const run = kubectl([
      "--context",
      this.context,
      "exec",
      "-n",
      this.namespace,
      this.name,
      "--",
      "perl",
      "-e",
      program,
      host,
      String(port),
    ]);
    expect(run.status, run.stderr).toBe(0);
    return run.stdout;
  }

  /** Runs a program in the pod; its exit status and output. */
  exec(args: string[]) {
    return kubectl([
      "--context",
      this.context,
      "exec",
      "-n",
      this.namespace,
      this.name,
      "--",
      ...args,
    ]);
  }
}

describe("the dev stack with the source on this machine (mode local)", () => {
  let stack: DevStack;
  let upOutput = "";
  let holders: SecretHolder[] = [];
  /** The one application allowed to reach the migrated database (destination.allowFrom). */
  const application = { namespace: "ferry-e2e-shop", podLabels: { app: "shop" } };
  beforeAll(() => {
    stack = new DevStack(
      "e2e",
      "ferry-e2e",
      {},
      {
        destination: (destination) => {
          destination.allowFrom = [application];
        },
      },
    );
  }, 120_000);
  afterAll(() => stack?.remove(), 600_000);

  it("previews the whole graph", () => {
    const steps = stack.previewSteps();
    // 49 resources and the DestinationJobs component that groups the Jobs' Secret and scripts,
    // and the namespace's three NetworkPolicies with their component; the RootPasswordKept
    // component and its check; the ServerCertificates component, its account, Role, binding,
    // NetworkPolicy and Job, and its two reads of the cluster (the API server's endpoints, the
    // public ConfigMap), which wait for the namespace and the Job and so read nothing yet.
    expect(steps).toHaveLength(64);
    const reads = steps.filter((s) => s.op === "read").map((s) => s.name);
    expect(reads.sort()).toEqual(["ferry-database-tls-api-server", "ferry-database-tls-public"]);
    expect(steps.every((s) => s.op === "create" || reads.includes(s.name))).toBe(true);
  });

  // A whole pulumi up with real pods: about a minute here, more on a loaded machine.
  it("migrates: dump, import, verification and read/write test in real pods; the rows read back equal the source's", () => {
    // Every process of this machine and of the cluster's containers is watched during the up.
    const watch = SecretWatch.start(Object.fromEntries(secretKeys.map((k) => [k, secret(k)])));
    try {
      upOutput = expectMigrated(stack, hostSource);
    } finally {
      holders = watch.stop();
    }
    // The import Job's own lines appear in pulumi up while it runs, and no Job that did its work
    // is a warning.
    expect(upOutput).toMatch(/ferry-import: importing run e2e-/);
    expect(upOutput).toMatch(/ferry-import: imported run e2e-/);
    // The server requires TLS of every TCP session, so the Jobs' sessions were TLS: plaintext is
    // refused, a session checked against the run's CA is encrypted.
    const plaintext = spawnSync(
      "mariadb",
      [...destination(stack.namespace, false), "-e", "SELECT 1"],
      {
        encoding: "utf8",
      },
    );
    expect(plaintext.status, plaintext.stdout).not.toBe(0);
    expect(
      spawnSync(
        "mariadb",
        [
          ...destination(stack.namespace),
          "--batch",
          "--skip-column-names",
          "-e",
          "SHOW SESSION STATUS LIKE 'Ssl_version'",
        ],
        { encoding: "utf8" },
      ).stdout,
    ).toMatch(/^Ssl_version\tTLSv1\.[23]\n$/);
    // Every pod ran in a namespace that enforces the restricted Pod Security Standard, and the API
    // server warned of none (its warnings reach the up's output).
    expect(
      jsonpath(
        "namespace",
        stack.namespace,
        null,
        "{.metadata.labels.pod-security\\.kubernetes\\.io/enforce}",
      ),
    ).toBe("restricted");
    expect(upOutput).not.toMatch(/violate PodSecurity/i);
    // The preflight ran first and said so.
    expect(upOutput).toMatch(/ferry-preflight: preflight passed: 2 database\(s\)/);
    // (The kubernetes provider's own transient pod warnings, such as "Container ... completed with
    // exit code 0" while the kubelet delays a finished pod's terminal phase, are not ferry's.)
    // The one warning of ferry's own is the preflight's: the dev source's view keeps its definer.
    const ferryLines = /ferry-(preflight|dump|restore|import|verify|cleanup|report|watch|revoke): /;
    const definers =
      /ferry-preflight: warning: views, routines, triggers or events keep their definers root@localhost: /;
    expect(upOutput).toMatch(definers);
    expect(
      upOutput
        .split("\n")
        .filter((line) => /warning|ERROR/.test(line) && ferryLines.test(line))
        .filter((line) => !definers.test(line)),
    ).toEqual([]);
    expect(
      jsonpath(
        "storageclass",
        "neuronsan",
        null,
        "{.metadata.annotations.storageclass\\.kubernetes\\.io/is-default-class}",
      ),
    ).toBe("true");
  }, 300_000);

  it("went through the object store over verified TLS: the Jobs had its https URL and CA; a client without that CA, or plaintext, is refused", () => {
    const jobs = JSON.parse(kubectl(["get", "jobs", "-n", stack.namespace, "-o", "json"]).stdout);
    type Env = { name: string; value: string }[];
    const envs: Env[] = jobs.items
      .map((job: any) => job.spec.template.spec.containers[0].env as Env)
      .filter((env: Env) => env.some((e) => e.name === "S3_ENDPOINT"));
    expect(envs.length).toBeGreaterThanOrEqual(3);
    for (const env of envs) {
      expect(env.find((e) => e.name === "S3_ENDPOINT")!.value).toMatch(/^https:\/\//);
      expect(env).toContainEqual({ name: "S3_CA_CERT", value: devServersCa() });
      expect(env).toContainEqual({ name: "S3_INSECURE", value: "false" });
    }
    const { endpoint } = devObjectStore();
    const health = `${endpoint}/minio/health/ready`;
    const caFile = path.join(repoRoot, ".ferry", "dev-tls", "ca.crt");
    const curl = (args: string[]) =>
      spawnSync("curl", ["-sS", "-o", "/dev/null", "-m", "10", ...args]);
    expect(curl(["--cacert", caFile, `https://${health}`]).status).toBe(0);
    // 60: the peer's certificate could not be checked against the system's CAs.
    expect(curl([`https://${health}`]).status).toBe(60);
    const plaintext = curl(["-f", `http://${health}`]);
    expect(plaintext.status).not.toBe(0);
  });

  // The local cluster's node enforces NetworkPolicy (kube-network-policies, scripts/dev/node.sh): a
  // connection a policy does not allow is dropped, so it times out.
  it("lets only ferry's Jobs and destination.allowFrom reach the database, and the Jobs only the database and the object store (NetworkPolicy, enforced)", () => {
    const outsiders = ["ferry-e2e-outsider", application.namespace];
    for (const namespace of outsiders) {
      kubectl(["delete", "namespace", namespace, "--ignore-not-found", "--wait=true"]);
      expect(kubectl(["create", "namespace", namespace]).status).toBe(0);
    }
    try {
      const database = jsonpath("service", "mysql", stack.namespace, "{.spec.clusterIP}");
      expect(database).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      const [storeHost, storePort] = devObjectStore().endpoint.split(":");
      const apiServer = jsonpath("service", "kubernetes", "default", "{.spec.clusterIP}");
      const dnsPod = kubectl([
        "get",
        "pods",
        "-n",
        "kube-system",
        "-l",
        "k8s-app=kube-dns",
        "-o",
        "jsonpath={.items[0].status.podIP}",
      ]).stdout;

      const probes: ProbePod[] = [];
      const probe = (namespace: string, name: string, labels: Record<string, string>) => {
        const pod = new ProbePod(namespace, name, labels);
        probes.push(pod);
        return pod;
      };
      try {
        const shop = probe(application.namespace, "shop", application.podLabels);
        const shopAdmin = probe(application.namespace, "shop-admin", { app: "shop-admin" });
        const outsider = probe("ferry-e2e-outsider", "outsider", application.podLabels);
        const job = probe(stack.namespace, "probe-as-import", {
          "app.kubernetes.io/part-of": "ferry",
          "app.kubernetes.io/component": "import",
        });
        const neighbour = probe(stack.namespace, "probe-as-neighbour", { app: "neighbour" });
        // Ingress to the database: the Jobs and the allowed application only.
        expect(shop.connect(database, 3306)).toBe("connected");
        expect(job.connect(database, 3306)).toBe("connected");
        expect(shopAdmin.connect(database, 3306)).toBe("timeout");
        expect(outsider.connect(database, 3306)).toBe("timeout");
        expect(neighbour.connect(database, 3306)).toBe("timeout");
        // Egress of the Jobs: the object store, and nothing else (here the API server and a pod).
        expect(job.connect(storeHost, Number(storePort))).toBe("connected");
        expect(job.connect(apiServer, 443)).toBe("timeout");
        expect(job.connect(dnsPod, 8080)).toBe("timeout");
        // Every other pod of ferry's namespace: nothing but names.
        expect(neighbour.connect(storeHost, Number(storePort))).toBe("timeout");
        // The same connections from a pod no policy selects go through: it is the policies.
        expect(outsider.connect(apiServer, 443)).toBe("connected");
        expect(outsider.connect(dnsPod, 8080)).toBe("connected");
      } finally {
        for (const pod of probes) {
          kubectl(["delete", "pod", "-n", pod.namespace, pod.name, "--wait=false"]);
        }
      }
    } finally {
      for (const namespace of outsiders) {
        kubectl(["delete", "namespace", namespace, "--wait=false"]);
      }
    }
  }, 300_000);

  it("serves a certificate made in its namespace (ECDSA P-256, a year, the Service's names only): openssl and a MariaDB client in an application's pod verify it by name; its CA cannot vouch for another host", () => {
    const ns = stack.namespace;
    const names = ["mysql", `mysql.${ns}`, `mysql.${ns}.svc`, `mysql.${ns}.svc.cluster.local`];
    const published = (key: string) => jsonpath("configmap", "mysql-ca", ns, `{.data.${key}}`);
    const bundle = published("ca\\.crt");
    const serverPem = published("server\\.crt");
    const ca = new X509Certificate(bundle);
    const server = new X509Certificate(serverPem);
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    const daysLeft = (Date.parse(server.validTo) - Date.now()) / 86_400_000;
    expect(daysLeft).toBeGreaterThan(364);
    expect(daysLeft).toBeLessThan(365.01);
    for (const name of names) expect(server.checkHost(name), name).toBe(name);
    expect(server.checkHost("bank.example")).toBeUndefined();
    // The server's pod carries the sha256 of the certificate it serves (a new one restarts it).
    const fingerprint = createHash("sha256").update(serverPem).digest("hex");
    expect(published("server\\.crt\\.sha256")).toBe(fingerprint);
    expect(
      databasePods(ns, "{.items[0].metadata.annotations.ferry\\.dev/tls-certificate-sha256}"),
    ).toBe(fingerprint);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-e2e-tls-"));
    try {
      const file = (name: string, content: string | Buffer) => {
        fs.writeFileSync(path.join(dir, name), content, { mode: 0o600 });
        return path.join(dir, name);
      };
      const caFile = file("bundle.crt", bundle);
      const otherCa = testCertificates(["mysql"]).caCertificate;
      const openssl = (args: string[], input = "") =>
        spawnSync("openssl", args, { encoding: "utf8", input, cwd: dir, timeout: 30_000 });
      // The server serves it: openssl's TLS client over the MySQL protocol's STARTTLS, chain and
      // name checked.
      const address = jsonpath("service", "mysql", ns, "{.spec.clusterIP}");
      const handshake = (trusted: string, name: string) =>
        startTls(address, trusted, name, "-brief");
      const good = handshake(caFile, names[3]);
      expect(good.status, good.stderr).toBe(0);
      expect(good.stderr).toMatch(/Verification: OK/);
      expect(handshake(caFile, "bank.example").status).not.toBe(0);
      expect(handshake(file("other.crt", otherCa), names[3]).status).not.toBe(0);
      // Whoever took the CA's key out of the namespace still cannot vouch for another host: the
      // CA may sign for the Service's names only.
      const caPair = {
        certificate: Buffer.from(
          jsonpath("secret", "mysql-ca-key", ns, "{.data.ca\\.crt}"),
          "base64",
        ).toString(),
        key: Buffer.from(
          jsonpath("secret", "mysql-ca-key", ns, "{.data.ca\\.key}"),
          "base64",
        ).toString(),
      };
      file("ca.crt", caPair.certificate);
      file("evil.crt", signedBy(caPair, ["bank.example"], 1).certificate);
      const evil = openssl(["verify", "-CAfile", caFile, "evil.crt"]);
      expect(evil.status).not.toBe(0);
      expect(evil.stdout + evil.stderr).toMatch(/permitted subtree violation/);
      expect(
        server.checkIssued(new X509Certificate(fs.readFileSync(path.join(dir, "ca.crt")))),
      ).toBe(true);

      // An application's pod with a MariaDB client and the CA, as docs/trust-and-security.md says to give it: the
      // server is verified by its name (the login of a user that does not exist is refused after
      // the handshake), refused by an address the certificate does not name or another CA.
      const clientNamespace = application.namespace;
      kubectl(["delete", "namespace", clientNamespace, "--ignore-not-found", "--wait=true"]);
      expect(kubectl(["create", "namespace", clientNamespace]).status).toBe(0);
      try {
        for (const [name, source] of [
          ["mysql-ca", caFile],
          ["other-ca", file("other-ca.crt", otherCa)],
        ]) {
          const made = kubectl([
            "create",
            "configmap",
            name,
            "-n",
            clientNamespace,
            `--from-file=ca.crt=${source}`,
          ]);
          expect(made.status, made.stderr).toBe(0);
        }
        const client = new ProbePod(
          clientNamespace,
          "shop-client",
          application.podLabels,
          "destination",
          {
            "/ca": "mysql-ca",
            "/other-ca": "other-ca",
          },
        );
        const login = (host: string, caDir: string) =>
          client.exec([
            "mariadb",
            "--no-defaults",
            "--connect-timeout=10",
            "--ssl",
            "--ssl-verify-server-cert",
            `--ssl-ca=${caDir}/ca.crt`,
            "-h",
            host,
            "-u",
            "ferry-e2e-nobody",
            "-e",
            "SELECT 1",
          ]);
        const verified = login(names[3], "/ca");
        expect(verified.stderr).toMatch(/ERROR 1045 .*Access denied for user 'ferry-e2e-nobody'/);
        for (const [host, caDir] of [
          [address, "/ca"],
          [names[2], "/other-ca"],
        ]) {
          const refused = login(host, caDir);
          expect(refused.status, `${host} ${caDir}`).not.toBe(0);
          expect(refused.stderr, `${host} ${caDir}`).not.toMatch(/Access denied/);
          expect(refused.stderr, `${host} ${caDir}`).toMatch(/SSL|TLS|certificate/i);
        }
      } finally {
        kubectl(["delete", "namespace", clientNamespace, "--wait=false"]);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it("puts no secret on any process's command line, nor in the environment of any process but the one that needs it", () => {
    expect(holders.filter((h) => h.where === "cmdline")).toEqual([]);
    const inEnvironment = holders.filter((h) => h.where === "environ");
    expect(inEnvironment.filter((h) => !needsSecret(h))).toEqual([]);
    // The watch saw the program: it would have seen any other holder.
    expect(inEnvironment.some((h) => h.comm === "node")).toBe(true);
  });

  it("keeps every secret, the run key and the bucket users' keys out of the state file, the stack file, the cluster's objects, the pods' logs, the events and the output", () => {
    const userKeys = stack.bucketUserKeys();
    expect(userKeys).toHaveLength(3);
    const secrets = [...secretKeys.map(secret), stack.runKey(), ...userKeys];
    const state = path.join(stack.workspace.work, "state");
    const stateFiles = fs
      .readdirSync(state, { recursive: true, encoding: "utf8" })
      .map((file) => path.join(state, file))
      .filter((file) => fs.statSync(file).isFile());
    expect(stateFiles.some((file) => file.endsWith("e2e.json"))).toBe(true);
    const objects = kubectl([
      "get",
      "pods,jobs,deployments,configmaps",
      "-n",
      stack.namespace,
      "-o",
      "yaml",
    ]).stdout;
    expect(objects).toContain("ferry-import-");
    // Every container's log in the namespace (the Jobs' and the database's), and its events.
    const pods = kubectl(["get", "pods", "-n", stack.namespace, "-o", "name"])
      .stdout.trim()
      .split("\n")
      .filter(Boolean);
    expect(pods.some((pod) => pod.includes("ferry-import-"))).toBe(true);
    const logs = pods.map(
      (pod) => kubectl(["logs", pod, "-n", stack.namespace, "--all-containers"]).stdout,
    );
    expect(logs.join("\n")).toContain("ferry-import: imported run");
    const events = kubectl(["get", "events", "-n", stack.namespace, "-o", "yaml"]).stdout;
    expect(events).toContain("kind: Event");
    for (const text of [
      ...stateFiles.map((file) => fs.readFileSync(file, "utf8")),
      fs.readFileSync(stack.stackFile, "utf8"),
      objects,
      ...logs,
      events,
      upOutput,
    ]) {
      for (const value of secrets) expect(text.includes(value)).toBe(false);
    }
  });

  it("finds nothing to change on a second preview, and keeps the run key on a second up", () => {
    const preview = stack.pulumi(["preview", "--expect-no-changes"]);
    expect(preview.status, preview.output).toBe(0);
    const key = stack.runKey();
    // The server's certificate and its pod: an up that changes nothing touches neither.
    const tlsState = () => [
      jsonpath("secret", "mysql-server-tls", stack.namespace, "{.metadata.resourceVersion}"),
      jsonpath("secret", "mysql-ca-key", stack.namespace, "{.metadata.resourceVersion}"),
      jsonpath("configmap", "mysql-ca", stack.namespace, "{.metadata.resourceVersion}"),
      databasePods(stack.namespace, "{.items[*].metadata.uid}"),
    ];
    const before = tlsState();
    expect(before.every((v) => v !== "")).toBe(true);
    const up = stack.pulumi(["up", "--yes", "--expect-no-changes"]);
    expect(up.status, up.output).toBe(0);
    expect(stack.runKey()).toBe(key);
    expect(tlsState()).toEqual(before);
  });

  it("renews a certificate near its end on the next pulumi up that runs the certificates Job (here: the Job deleted, pulumi up --refresh); the CA is kept and the server restarts with the new one", () => {
    const ns = stack.namespace;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-e2e-renew-"));
    try {
      // A server certificate of the namespace's CA with 10 days left, as a year's would have.
      const secretValue = (key: string) =>
        Buffer.from(
          jsonpath("secret", "mysql-ca-key", ns, `{.data.${key.replace(".", "\\.")}}`),
          "base64",
        ).toString();
      const caCert = path.join(dir, "ca.crt");
      fs.writeFileSync(caCert, secretValue("ca.crt"));
      const names = ["mysql", `mysql.${ns}`, `mysql.${ns}.svc`, `mysql.${ns}.svc.cluster.local`];
      const planted = signedBy(
        { certificate: secretValue("ca.crt"), key: secretValue("ca.key") },
        names,
        10,
      );
      const patch = kubectl([
        "patch",
        "secret",
        "mysql-server-tls",
        "-n",
        ns,
        "--type",
        "merge",
        "-p",
        JSON.stringify({
          data: {
            "tls.crt": Buffer.from(planted.certificate).toString("base64"),
            "tls.key": Buffer.from(planted.key).toString("base64"),
          },
        }),
      ]);
      expect(patch.status, patch.stderr).toBe(0);
      const caVersion = jsonpath("secret", "mysql-ca-key", ns, "{.metadata.resourceVersion}");
      const serverPod = () => databasePods(ns, "{.items[*].metadata.uid}");
      const podBefore = serverPod();

      const job = kubectl([
        "get",
        "jobs",
        "-n",
        ns,
        "-l",
        "app.kubernetes.io/component=certificates",
        "-o",
        "name",
      ]);
      expect(job.stdout.trim()).toMatch(/^job\.batch\/ferry-certificates-\d+$/);
      expect(kubectl(["delete", "-n", ns, job.stdout.trim(), "--wait=true"]).status).toBe(0);
      const up = stack.pulumi(["up", "--yes", "--refresh"]);
      expect(up.status, up.output).toBe(0);
      // The refresh read the run's bucket users off, as they are at rest: none turned on again.
      const users = stack.bucketUsers();
      expect(users).toHaveLength(3);
      for (const user of users) expect(objectStoreUserStatus(user), user).toBe("disabled");

      const renewed = Buffer.from(
        jsonpath("secret", "mysql-server-tls", ns, "{.data.tls\\.crt}"),
        "base64",
      ).toString();
      expect(renewed).not.toBe(planted.certificate);
      const certificate = new X509Certificate(renewed);
      expect((Date.parse(certificate.validTo) - Date.now()) / 86_400_000).toBeGreaterThan(364);
      expect(certificate.verify(new X509Certificate(fs.readFileSync(caCert)).publicKey)).toBe(true);
      expect(jsonpath("secret", "mysql-ca-key", ns, "{.metadata.resourceVersion}")).toBe(caVersion);
      expect(jsonpath("configmap", "mysql-ca", ns, "{.data.server\\.crt}")).toBe(renewed);
      // The server restarted and serves the new certificate.
      expect(serverPod()).not.toBe(podBefore);
      const address = jsonpath("service", "mysql", ns, "{.spec.clusterIP}");
      // The Service routes to the new pod only once the node's proxy has its endpoint and has
      // dropped the old pod's (a few seconds after the rollout, on a loaded machine: until then a
      // connection is refused, or reset by the old server as it stops): asked again until the
      // new certificate is served, for a minute at most.
      const serve = () => startTls(address, caCert, names[3], "-showcerts");
      const renewedLine = renewed.split("\n")[1];
      let served = serve();
      for (let tries = 1; tries < 30; tries++) {
        if (served.status === 0 && served.stdout.includes(renewedLine)) break;
        spawnSync("sleep", ["2"]);
        served = serve();
      }
      expect(served.status, served.stderr).toBe(0);
      expect(served.stdout).toContain(renewedLine);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it("replaces only the run's Jobs and commands when the run id changes, and draws a new run key", () => {
    stack.setRunId(`e2e-next-${Date.now().toString(36)}`);
    // (A read of the cluster is a step of every preview, not a change.)
    const changed = stack.previewSteps().filter((s) => s.op !== "same" && s.op !== "read");
    expect(changed.map((s) => s.type)).toContain("command:local:Command");
    // The Jobs' Secret is replaced too (it holds the new run's key and users' keys), and the
    // bucket users: each run has its own. The server's certificate is not the run's: its Job and
    // the server stay as they are, and nothing of the data changes.
    expect(changed.map((s) => s.name)).not.toContainEqual(expect.stringMatching(/-tls|-server/));
    for (const step of changed) {
      expect(
        [
          "kubernetes:batch/v1:Job",
          "command:local:Command",
          "kubernetes:core/v1:Secret",
          "minio:index/iamUser:IamUser",
          "minio:index/iamPolicy:IamPolicy",
          "minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment",
        ],
        `${step.op} ${step.type}`,
      ).toContain(step.type);
    }
  });

  it("destroys everything but the data: claim, volume and its directory stay", () => {
    const directory = stack.dataDirectory();
    const destroy = stack.pulumi(["destroy", "--yes"]);
    expect(destroy.status, destroy.output).toBe(0);
    expect(jsonpath("pvc", "mysql-data", stack.namespace, "{.status.phase}")).toBe("Bound");
    expect(kubectl(["get", "deployment", "-n", stack.namespace, "-o", "name"]).stdout).toBe("");
    expect(kubectl(["get", "job", "-n", stack.namespace, "-o", "name"]).stdout).toBe("");
    expect(fs.existsSync(path.join(directory, "mysql", "shop", "products.ibd"))).toBe(true);
    // The storage the volume lives on stays installed, for this data and other migrations'.
    expect(jsonpath("storageclass", "neuronsan", null, "{.provisioner}")).toBe(
      "csi.neuronsan.local",
    );
    expect(kubectl(["get", "pods", "-n", "neuronsan-system", "-o", "name"]).stdout).toContain(
      "pod/",
    );
  });

  it("refuses, on a new pulumi up without overwrite, to import over the kept data", () => {
    // The storage is kept, so the next up uses it rather than installing it again.
    stack.useExistingStorage();
    stack.setRunId(`e2e-again-${Date.now().toString(36)}`);
    const up = stack.pulumi(["up", "--yes"]);
    expect(up.status, up.output).not.toBe(0);
    expect(up.output).toContain("the destination is not empty");
    expect(up.output).toContain("ferry:migration.overwrite");
    expect(rows(destination(stack.namespace), "crm.people")).toBe(rows(hostSource, "crm.people"));
    // The run failed before its report: every one of its bucket users is off all the same, the
    // reading one turned off once the failed import and its watch (which also reads) had ended,
    // whichever ended last.
    const users = stack.bucketUsers();
    expect(users).toHaveLength(3);
    for (const user of users) expect(objectStoreUserStatus(user), user).toBe("disabled");
    expect(up.output).toMatch(
      /ferry-revoke: turned off bucket user \S+-read \(\S+-import-(job failed|log-watch succeeded)\)/,
    );
    // A whole pulumi up up to the import's refusal: about a minute here.
  }, 300_000);
});

/** The SSH host's MariaDB (scripts/dev/sshhost.sh), through its socket on this machine's disk. */
const sshHostSource = [
  "--no-defaults",
  `--socket=${path.join(repoRoot, ".ferry", "sshhost", "mariadb.sock")}`,
  "-uroot",
];

function sshHost(command: "up" | "down" | "host-key"): string {
  return execFileSync("sh", ["scripts/dev/sshhost.sh", command], {
    cwd: repoRoot,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
}

/**
 * Two migrations into the one destination cluster at the same time, as a platform team runs them:
 * different sources (a pod of the source cluster, and a host reached over SSH), namespaces, buckets
 * and run ids, both on the storage the first stack installed.
 */
describe("two dev stacks at the same time: the source in a pod of the older source cluster (mode kubernetes) and on a host reached over SSH (mode ssh)", () => {
  const sshDir = path.join(repoRoot, ".ferry", "sshhost");
  let k8sStack: DevStack;
  let sshStack: DevStack;
  let hostKey: string;
  const sshSecrets = () => ({
    sourcePassword: secret("sshSourcePassword"),
    destinationRootPassword: secret("destinationRootPassword"),
    objectStoreSecretKey: secret("objectStoreSecretKey"),
    sshPrivateKey: secret("sshPrivateKey"),
  });
  /** The SSH stack's source.ssh, changed. */
  const setSsh = (ssh: Record<string, unknown>) =>
    sshStack.changeConfig((config) => Object.assign(config["ferry:source"].ssh, ssh));
  /**
   * The kubernetes stack is a live migration: an application writes to the source cluster's
   * server (database ledger, account writer) from before the dump until the cutover, each
   * transaction an insert and an update.
   */
  let writer: Writer | undefined;
  /**
   * A second application, which reaches the database through the applications' Service ferry owns
   * (migration.live.applicationService, ledger-db): started once the first up made it; its ids
   * from serviceIds on.
   */
  let serviceWriter: Writer | undefined;
  const serviceIds = 1_000_000;
  /** The replication step's log after the first up (every later up runs the step again). */
  let firstReplicateLog = "";
  const ledgerTransaction =
    "START TRANSACTION; INSERT INTO ledger.writes (token) VALUES ({id}); UPDATE ledger.counter SET n = n + 1 WHERE id = 1; COMMIT;";
  beforeAll(() => {
    sshHost("up");
    hostKey = sshHost("host-key");
    // The dev sources' ledger and its account (scripts/dev/sample-data.sh), emptied; as root. A
    // run before may have left the server read-only.
    query(
      clusterSource(),
      `SET GLOBAL read_only = OFF;
      TRUNCATE TABLE ledger.writes;
      UPDATE ledger.counter SET n = 0 WHERE id = 1;`,
    );
    k8sStack = new DevStack(
      "e2e-k8s",
      "ferry-e2e-k8s",
      { ...clusterSourceConfig(), databases: ["shop", "crm", "ledger"] },
      {
        // A later migration into the same cluster uses the storage the first installed.
        existingStorage: true,
        // The destination's pods reach the old cluster's server at its node port (devenv.sh).
        migration: (migration) =>
          Object.assign(migration, {
            mode: "live",
            live: {
              sourceHost: "10.90.0.2",
              sourcePort: 30306,
              replicationUser: "ferry_replication",
              applicationService: { name: "ledger-db" },
            },
          }),
        secrets: {
          ...Object.fromEntries(secretKeys.map((key) => [key, secret(key)])),
          sourceReplicationPassword: secret("sourceReplicationPassword"),
        },
      },
    );
    sshStack = new DevStack(
      "e2e-ssh",
      "ferry-e2e-ssh",
      {
        // The database as the SSH host reaches it: its own loopback, which nothing else reaches.
        mode: "ssh",
        host: "127.0.0.1",
        port: 3306,
        ssh: { host: "10.89.0.2", user: "ferry-ssh", hostKey },
      },
      {
        existingStorage: true,
        secrets: sshSecrets(),
        // The SSH host's server allows a physical copy (scripts/dev/sshhost.sh): auto takes it.
        migration: (migration) => Object.assign(migration, { method: "auto" }),
      },
    );
    writer = startWriter(
      {
        host: "10.90.0.2",
        port: 30306,
        user: "writer",
        password: secret("ledgerWriterPassword"),
        caFile: path.join(repoRoot, ".ferry", "dev-tls", "ca.crt"),
      },
      ledgerTransaction,
      { firstId: 1, pauseMs: 100 },
    );
  }, 300_000);
  afterAll(async () => {
    await writer?.stop();
    await serviceWriter?.stop();
    k8sStack?.remove();
    sshStack?.remove();
    sshHost("down");
    query(clusterSource(), "SET GLOBAL read_only = OFF");
  }, 900_000);

  /** No Secret of ferry's in the source's namespace, and the removal Job's pod said why. */
  const expectNoSourceCredentials = () => {
    const secrets = sourceKubectl([
      "get",
      "secrets",
      "-n",
      "ferry-source",
      "-l",
      "app.kubernetes.io/part-of=ferry",
      "-o",
      "name",
    ]);
    expect(secrets.status, secrets.stderr).toBe(0);
    expect(secrets.stdout.trim()).toBe("");
    const removal = sourceKubectl([
      "logs",
      "-n",
      "ferry-source",
      "-l",
      "app.kubernetes.io/component=forget",
      "--tail=-1",
    ]);
    expect(removal.stdout).toMatch(
      /ferry-forget: (the dump is stored: its credentials \(Secret ferry-source\/\S+: the source password, the bucket key, the run key\) are removed|Secret ferry-source\/\S+ is already gone)/,
    );
  };

  it("the source and destination are two clusters, each its own API server and node, on the Kubernetes versions the scripts pin", () => {
    const serverVersion = (run: typeof kubectl) => {
      const version = run(["version", "-o", "json"]);
      return JSON.parse(version.stdout).serverVersion.gitVersion;
    };
    const nodes = (run: typeof kubectl) =>
      run(["get", "nodes", "-o", "jsonpath={.items[*].metadata.name}"]).stdout;
    expect(serverVersion(sourceKubectl)).toBe(pinnedVersion("SOURCE_KUBERNETES_VERSION"));
    expect(serverVersion(kubectl)).toBe(pinnedVersion("KUBERNETES_VERSION"));
    expect(pinnedVersion("SOURCE_KUBERNETES_VERSION")).not.toBe(
      pinnedVersion("KUBERNETES_VERSION"),
    );
    expect(nodes(sourceKubectl)).toBe("ferry-source-node-1");
    expect(nodes(kubectl)).toBe("ferry-node-1");
    // The source database lives in the source cluster only.
    expect(sourceKubectl(["get", "deployment", "source-db", "-n", "ferry-source"]).status).toBe(0);
    expect(kubectl(["get", "namespace", "ferry-source"]).status).not.toBe(0);
  });

  it("refuses an SSH host that does not answer, naming ferry:source.ssh.host, and dumps nothing", () => {
    setSsh({ host: "10.89.0.3" });
    const up = sshStack.pulumi(["up", "--yes"]);
    expect(up.status, up.output).not.toBe(0);
    expect(up.output).toMatch(
      /ferry:source\.ssh\.host: 10\.89\.0\.3:22 (is unreachable from this machine|did not accept a connection)/,
    );
    expect(up.output).not.toMatch(/ferry-(preflight|dump): /);
  }, 300_000);

  it("refuses an SSH host whose key is not the pinned one, and dumps nothing", () => {
    const other = fs.mkdtempSync(path.join(clientOptions, "other-host-key-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(other, "key")]);
    const otherKey = fs.readFileSync(path.join(other, "key.pub"), "utf8").trim();
    fs.rmSync(other, { recursive: true, force: true });
    setSsh({ host: "10.89.0.2", hostKey: otherKey });
    const up = sshStack.pulumi(["up", "--yes"]);
    expect(up.status, up.output).not.toBe(0);
    expect(up.output).toMatch(/host key mismatch/);
    expect(up.output).not.toMatch(/ferry-(preflight|dump): /);
    // The server saw a client that left at the key exchange: no session was opened.
    expect(fs.readFileSync(path.join(sshDir, "sshd.log"), "utf8")).not.toMatch(
      /Accepted publickey/,
    );
  }, 300_000);

  // Two whole pulumi ups with real pods, side by side: a few minutes on a loaded machine.
  it("migrates both at the same time: the dump Job in the source cluster and the dump on the SSH host; each stack's rows read back equal its source's; no secret in any process's command line, another process's environment, or the SSH host's logs", async () => {
    setSsh({ host: "10.89.0.2", hostKey });
    const sshKey = secret("sshPrivateKey");
    // Every secret of both stacks and both sources; the private key is many lines, and one line of
    // its body stands for it.
    const watched = {
      sourcePassword: secret("sourcePassword"),
      sourceRootPassword: secret("sourceRootPassword"),
      sshSourcePassword: secret("sshSourcePassword"),
      destinationRootPassword: secret("destinationRootPassword"),
      objectStoreSecretKey: secret("objectStoreSecretKey"),
      sshPrivateKey: sshKey
        .split("\n")
        .filter((line) => !line.startsWith("-----"))
        .sort((a, b) => b.length - a.length)[0],
    };
    const watch = SecretWatch.start(watched);
    let ups: { status: number | null; output: string }[];
    let holders: SecretHolder[];
    const started = Date.now();
    try {
      ups = await Promise.all(
        [k8sStack, sshStack].map((stack) => stack.pulumiAsync(["up", "--yes"])),
      );
    } finally {
      holders = watch.stop();
    }
    const k8sOutput = expectMigratedBy(ups[0], k8sStack, clusterSource(), {
      deployments: "1 1",
      ledger: true,
    });
    const sshOutput = expectMigratedBy(ups[1], sshStack, sshHostSource);
    // Method auto on the SSH host: the preflight took the physical copy, the restore Job put it
    // on the data volume before the server started, and the import found it restored; the
    // source in a pod is copied logically.
    expect(sshStack.report().method).toMatch(
      /^physical: the source is MariaDB \d+\.\d+ like the destination, its binary log is on/,
    );
    expect(k8sStack.report().method).toBe("logical: migration.method is logical");
    const restoreLog = kubectl([
      "logs",
      "-n",
      sshStack.namespace,
      "-l",
      "app.kubernetes.io/component=restore",
      "--tail=-1",
    ]).stdout;
    expect(restoreLog).toMatch(/restored run \S+ in/);
    // The restore's keys (the run key, the reading user's, the root password) are files of its
    // pod: in none of the namespace's pods, Jobs or ConfigMaps, nor in the restore's log.
    const destinationObjects = kubectl([
      "get",
      "pods,jobs,configmaps",
      "-n",
      sshStack.namespace,
      "-o",
      "yaml",
    ]).stdout;
    expect(destinationObjects).toContain("ferry-restore-");
    for (const value of [
      ...Object.values(watched),
      sshStack.runKey(),
      ...sshStack.bucketUserKeys(),
    ])
      for (const text of [destinationObjects, restoreLog]) expect(text.includes(value)).toBe(false);
    expect(sshOutput).toMatch(/is a physical copy, restored into the destination's data directory/);
    // The restore Job's lines, from the destination cluster, appear in pulumi up as it runs.
    expect(sshOutput).toMatch(/ferry-restore: restoring run \S+ into \/var\/lib\/mysql/);
    expect(sshOutput).toMatch(/ferry-restore: restored run \S+ in/);
    console.log(`two migrations side by side: ${((Date.now() - started) / 1000).toFixed(0)}s`);
    firstReplicateLog = stepLog("replicate");
    // The dump Job's lines, from the source cluster, appear in pulumi up too.
    expect(k8sOutput).toMatch(/ferry-dump: done: \d+ tables/);
    expect(
      sourceKubectl(["get", "job", "-n", "ferry-source", "-o", "name"])
        .stdout.trim()
        .split("\n")
        .sort(),
    ).toEqual([
      expect.stringMatching(/^job\.batch\/ferry-dump-e2e-k8s-/),
      expect.stringMatching(/^job\.batch\/ferry-forget-e2e-k8s-/),
      expect.stringMatching(/^job\.batch\/ferry-preflight-e2e-k8s-/),
    ]);
    // The dump stored, its Secret (the source password, the bucket key, the run key) is gone
    // from the source cluster, removed by the Job after the dump.
    expectNoSourceCredentials();
    // Nothing else in the source cluster holds a secret: the Jobs, pods and ConfigMaps, their
    // containers' logs and the namespace's events name none of either stack's.
    const sourceSecrets = [
      ...Object.values(watched),
      k8sStack.runKey(),
      ...k8sStack.bucketUserKeys(),
    ];
    const inSource = (args: string[]) => sourceKubectl([...args, "-n", "ferry-source"]).stdout;
    const sourceObjects = inSource(["get", "pods,jobs,configmaps", "-o", "yaml"]);
    expect(sourceObjects).toContain("ferry-dump-e2e-k8s-");
    const sourceLogs = inSource(["get", "pods", "-o", "name"])
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((pod) => inSource(["logs", pod, "--all-containers"]));
    expect(sourceLogs.join("\n")).toContain("ferry-dump: ");
    const sourceEvents = inSource(["get", "events", "-o", "yaml"]);
    expect(sourceEvents).toContain("kind: Event");
    for (const text of [sourceObjects, ...sourceLogs, sourceEvents])
      for (const value of sourceSecrets) expect(text.includes(value)).toBe(false);
    expect(sshOutput).toMatch(/ferry-dump: done: \d+ tables/);
    const log = fs.readFileSync(path.join(sshDir, "sshd.log"), "utf8");
    expect(log).toMatch(/Accepted publickey for ferry-ssh from 10\.89\.0\.1/);
    // As in mode local: only the Pulumi programs (handed the config by the engine) and the object
    // store's server (whose root credential the admin key is) hold a secret, in their environment.
    expect(holders.filter((h) => h.where === "cmdline")).toEqual([]);
    expect(holders.filter((h) => !needsSecret(h))).toEqual([]);
    const hostLogs = [log, fs.readFileSync(path.join(sshDir, "mariadb.log"), "utf8")].join("\n");
    for (const [key, value] of Object.entries(watched))
      expect(hostLogs.includes(value), key).toBe(false);
  }, 900_000);

  it("physical from a pod: the copy Job reads the server's claim read only, on its node, as the files' owner; the copy is restored and verified; the server's files keep their owner and modes", async () => {
    const volume = path.join(repoRoot, ".ferry", "cluster-source", "volumes", "source-db");
    // Owner and mode of the claim's root, the data directory and every file in it.
    const ownership = () =>
      [volume, ...fs.readdirSync(path.join(volume, "data")).map((f) => path.join("data", f))]
        .map((f) => path.resolve(volume, f))
        // A file the server removes meanwhile (a temporary table's) is left out.
        .flatMap((f) => {
          const stat = fs.statSync(f, { throwIfNoEntry: false });
          return stat
            ? [`${path.relative(volume, f)} ${stat.uid}:${stat.gid} ${stat.mode.toString(8)}`]
            : [];
        })
        .sort();
    const before = ownership();
    expect(before).toContain(" 999:999 40700");
    const filesStack = new DevStack(
      "e2e-k8s-files",
      "ferry-e2e-k8s-files",
      clusterSourceConfig({
        // The dev source's claim (scripts/dev/devenv.sh).
        dataVolume: {
          claim: "source-db-data",
          subPath: "data",
          serverPodLabels: { app: "source-db" },
        },
      }),
      {
        existingStorage: true,
        migration: (migration) => Object.assign(migration, { method: "physical" }),
      },
    );
    try {
      const up = await filesStack.pulumiAsync(["up", "--yes"]);
      const output = expectMigratedBy(up, filesStack, clusterSource());
      expect(filesStack.report().method).toMatch(/^physical: migration\.method is physical/);
      expect(output).toMatch(/is a physical copy, restored into the destination's data directory/);
      expect(output).toMatch(/ferry-restore: restored run \S+ in/);
      const pods = JSON.parse(
        sourceKubectl([
          "get",
          "pods",
          "-n",
          "ferry-source",
          "-l",
          "app.kubernetes.io/component=dump",
          "-o",
          "json",
        ]).stdout,
      ).items.filter((pod: any) => pod.metadata.name.includes("e2e-k8s-files"));
      // The preflight's pod and the dump's: beside the server, its claim read only, as 999.
      expect(pods.length).toBeGreaterThanOrEqual(2);
      const server = JSON.parse(
        sourceKubectl(["get", "pods", "-n", "ferry-source", "-l", "app=source-db", "-o", "json"])
          .stdout,
      ).items[0];
      for (const pod of pods) {
        expect(pod.spec.nodeName).toBe(server.spec.nodeName);
        expect(pod.spec.securityContext).toMatchObject({ runAsUser: 999, runAsGroup: 999 });
        expect(pod.spec.volumes).toContainEqual({
          name: "data",
          persistentVolumeClaim: { claimName: "source-db-data", readOnly: true },
        });
        expect(pod.status.phase).toBe("Succeeded");
      }
      const dumpLog = sourceKubectl([
        "logs",
        "-n",
        "ferry-source",
        "-l",
        "app.kubernetes.io/component=dump",
        "--tail=-1",
        "--prefix",
      ]).stdout;
      expect(dumpLog).toMatch(
        /e2e-k8s-files.*copying the source server.s data files with mariadb-backup/,
      );
      // The server goes on writing (new binary logs may appear), but nothing it had changed.
      expect(ownership()).toEqual(expect.arrayContaining(before));
    } finally {
      filesStack.remove();
    }
  }, 900_000);

  it("lets the run's pods in the source cluster reach the source and the object store only (NetworkPolicy, enforced by the source's node)", () => {
    const policies = JSON.parse(
      sourceKubectl(["get", "networkpolicies", "-n", "ferry-source", "-o", "json"]).stdout,
    ).items;
    expect(policies.map((p: any) => p.metadata.name).sort()).toEqual([
      expect.stringMatching(/^ferry-dump-e2e-k8s-/),
      expect.stringMatching(/^ferry-forget-e2e-k8s-/),
    ]);
    const selected = (prefix: string) =>
      policies.find((p: any) => p.metadata.name.startsWith(prefix)).spec.podSelector.matchLabels;
    const asDump = new ProbePod("ferry-source", "probe-as-dump", selected("ferry-dump-"), "source");
    // The pods of the Job that removes the dump's credentials: the API server, nothing else.
    const asRemoval = new ProbePod(
      "ferry-source",
      "probe-as-forget",
      selected("ferry-forget-"),
      "source",
    );
    const bystander = new ProbePod("ferry-source", "probe-bystander", { app: "other" }, "source");
    try {
      const sourceDb = sourceKubectl([
        "get",
        "service",
        "source-db",
        "-n",
        "ferry-source",
        "-o",
        "jsonpath={.spec.clusterIP}",
      ]).stdout;
      const apiServer = sourceKubectl([
        "get",
        "service",
        "kubernetes",
        "-n",
        "default",
        "-o",
        "jsonpath={.spec.clusterIP}",
      ]).stdout;
      const [storeHost, storePort] = devObjectStore().endpoint.split(":");
      expect(asDump.connect(sourceDb, 3306)).toBe("connected");
      expect(asDump.connect(storeHost, Number(storePort))).toBe("connected");
      expect(asDump.connect(apiServer, 443)).toBe("timeout");
      expect(asRemoval.connect(apiServer, 443)).toBe("connected");
      expect(asRemoval.connect(sourceDb, 3306)).toBe("timeout");
      expect(asRemoval.connect(storeHost, Number(storePort))).toBe("timeout");
      // The policy selects the run's pods only: the namespace's other pods are left as they were.
      expect(bystander.connect(apiServer, 443)).toBe("connected");
    } finally {
      for (const pod of [asDump, asRemoval, bystander]) {
        sourceKubectl(["delete", "pod", "-n", pod.namespace, pod.name, "--wait=false"]);
      }
    }
  }, 300_000);

  it("pulumi up --refresh after the run: the dump's Secret, found gone, is made again; the dump Job runs again, keeps the stored dump, and the Secret is removed again; nothing is imported again", () => {
    // The import Job by its uid: a Job replaced under the same name is another object.
    const importJob = () =>
      kubectl([
        "get",
        "jobs",
        "-n",
        k8sStack.namespace,
        "-o",
        'jsonpath={range .items[*]}{.metadata.name} {.metadata.uid}{"\\n"}{end}',
      ])
        .stdout.split("\n")
        .filter((job) => job.startsWith("ferry-import-"));
    const importedBefore = importJob();
    expect(importedBefore).toHaveLength(1);
    const up = k8sStack.pulumi(["up", "--yes", "--refresh"]);
    expect(up.status, up.output).toBe(0);
    // The dump Job's log (its watch, unchanged, does not run again to show it in the up).
    const dumpJob = sourceKubectl(["get", "jobs", "-n", "ferry-source", "-o", "name"])
      .stdout.split("\n")
      .find((job) => job.startsWith("job.batch/ferry-dump-"));
    expect(dumpJob).toBeDefined();
    expect(sourceKubectl(["logs", "-n", "ferry-source", dumpJob!]).stdout).toMatch(
      /already has a complete dump of these databases from this source; keeping it/,
    );
    expectNoSourceCredentials();
    expect(importJob()).toEqual(importedBefore);
    for (const table of tables)
      expect(rows(destination(k8sStack.namespace), table), table).toBe(
        rows(clusterSource(), table),
      );
  }, 600_000);

  /** The logs of the live migration's step (replicate, cutover) in the destination cluster. */
  const stepLog = (component: string) =>
    kubectl([
      "logs",
      "-n",
      k8sStack.namespace,
      "-l",
      `app.kubernetes.io/component=${component}`,
      "--tail=-1",
    ]).stdout;
  /** The ledger's tokens on the destination, in order. */
  const ledgerOnDestination = () =>
    query(destination(k8sStack.namespace), "SELECT token FROM ledger.writes ORDER BY token")
      .split("\n")
      .filter(Boolean)
      .map(Number);
  /** When a step of the live tests happened, to read the writers' slow transactions against. */
  const mark = (what: string) => console.log(`${new Date().toISOString()} ${what}`);
  /** The first application's tokens on the destination (not the Service's application's). */
  const directLedgerOnDestination = () => ledgerOnDestination().filter((t) => t < serviceIds);
  /** Where the applications' Service sends its connections: its selector, ferry's slice. */
  const applicationService = () => ({
    selector: jsonpath("service", "ledger-db", k8sStack.namespace, "{.spec.selector}"),
    source: jsonpath(
      "endpointslice",
      "ledger-db-ferry-source",
      k8sStack.namespace,
      "{.endpoints[*].addresses[*]}:{.ports[0].port}",
    ),
  });

  it("live: the destination in the new cluster replicates the old cluster's server from the dump's position, over verified TLS, read-only to applications; the application's writes since the snapshot arrive", async () => {
    // Checked from the destination's side before the import, as the replica would log in.
    expect(stepLog("reach")).toMatch(
      /ferry-reach: the source at 10\.90\.0\.2:30306 answers the replication account ferry_replication over verified TLS from the destination's side \(server id 1, /,
    );
    expect(firstReplicateLog).toMatch(
      /ferry-replicate: the destination replicates from 10\.90\.0\.2:30306 from the dump's position/,
    );
    const target = destination(k8sStack.namespace);
    expect(queryRow(target, "SHOW SLAVE STATUS")).toMatchObject({
      Master_Host: "10.90.0.2",
      Master_Port: "30306",
      Master_User: "ferry_replication",
      Slave_IO_Running: "Yes",
      Slave_SQL_Running: "Yes",
      Master_SSL_Allowed: "Yes",
      Master_SSL_Verify_Server_Cert: "Yes",
    });
    expect(query(target, "SELECT @@GLOBAL.read_only")).toBe("1");
    // The report states what the replication step saw.
    expect(k8sStack.report().live).toMatch(
      /^replicating from 10\.90\.0\.2:30306: \d+ transactions behind at \S+Z( \(\d+ s by the replica's estimate\))?; cut over with ferry:migration\.cutover true$/,
    );
    // The writes acknowledged by now (after the dump, the import and the up --refresh) arrive.
    const acknowledged = writer!.acknowledgedSoFar();
    expect(acknowledged).toBeGreaterThan(0);
    await until(
      () => directLedgerOnDestination().length >= acknowledged,
      "the replicated writes",
      120,
    );
    // The applications' Service: no selector, ferry's slice sends it to the source.
    expect(applicationService()).toEqual({ selector: "", source: "10.90.0.2:30306" });
    // An application that uses it (its account made on the destination too, as a DBA does:
    // ferry moves databases, not accounts) writes to the source through it: the destination
    // refuses it, read-only.
    const account = spawnSync("mariadb", target, {
      encoding: "utf8",
      input: `CREATE USER IF NOT EXISTS 'writer'@'%' IDENTIFIED BY '${secret("ledgerWriterPassword")}' REQUIRE SSL;
      GRANT SELECT, INSERT, UPDATE ON ledger.* TO 'writer'@'%';`,
    });
    expect(account.status, account.stderr).toBe(0);
    const throughService = startWriter(
      {
        host: jsonpath("service", "ledger-db", k8sStack.namespace, "{.spec.clusterIP}"),
        port: 3306,
        user: "writer",
        password: secret("ledgerWriterPassword"),
      },
      ledgerTransaction,
      { firstId: serviceIds, pauseMs: 100 },
    );
    serviceWriter = throughService;
    mark("the application through ledger-db starts");
    await until(() => throughService.acknowledgedSoFar() > 5, "writes through ledger-db", 60);
    expect(throughService.refusedSoFar()).toBe(0);
  }, 300_000);

  it("live: the destination's pod deleted during the catch-up: its next pod starts read-only and replicates on from where the last stopped; the writes made meanwhile arrive, each once", async () => {
    mark("the destination's pod deleted");
    const before = databasePods(k8sStack.namespace, "{.items[*].metadata.uid}");
    const deleted = kubectl([
      "delete",
      "pod",
      "-n",
      k8sStack.namespace,
      "-l",
      "app.kubernetes.io/component=database",
      "--grace-period=0",
      "--force",
      "--wait=true",
    ]);
    expect(deleted.status, deleted.stderr).toBe(0);
    const target = destination(k8sStack.namespace);
    const answers = () =>
      spawnSync("mariadb", [...target, "-e", "SELECT 1"], { encoding: "utf8" }).status === 0;
    await until(answers, "the next database pod", 180);
    expect(databasePods(k8sStack.namespace, "{.items[*].metadata.uid}")).not.toBe(before);
    expect(query(target, "SELECT @@GLOBAL.read_only")).toBe("1");
    await until(
      () => {
        const status = queryRow(target, "SHOW SLAVE STATUS");
        return status.Slave_IO_Running === "Yes" && status.Slave_SQL_Running === "Yes";
      },
      "the replication to run again",
      60,
    );
    const acknowledged = writer!.acknowledgedSoFar();
    await until(() => directLedgerOnDestination().length >= acknowledged, "the writes since", 120);
    const tokens = ledgerOnDestination();
    expect(new Set(tokens).size).toBe(tokens.length);
    // Every up before the cutover checks the replica again: the step runs anew (on the running
    // replication) and the report states what it saw in this up.
    const checkedAt = (live: string | undefined) =>
      /^replicating from 10\.90\.0\.2:30306: \d+ transactions behind at (\S+Z)/.exec(
        live ?? "",
      )?.[1];
    const checkedBefore = checkedAt(k8sStack.report().live);
    expect(checkedBefore, k8sStack.report().live).toBeDefined();
    const up = k8sStack.pulumi(["up", "--yes"]);
    expect(up.status, up.output).toBe(0);
    const log = stepLog("replicate");
    expect(log).toMatch(
      /ferry-replicate: checking the replica for the pulumi up that began at \S+Z/,
    );
    expect(log).toMatch(
      /ferry-replicate: the destination already replicates from 10\.90\.0\.2:30306 \(replicating, /,
    );
    const checkedNow = checkedAt(k8sStack.report().live);
    expect(checkedNow, k8sStack.report().live).toBeDefined();
    expect(Date.parse(checkedNow!)).toBeGreaterThan(Date.parse(checkedBefore!));
  }, 600_000);

  it("live: a cutover that cannot make the source read-only in time (a table locked on it) fails and is rolled back: the source takes writes, the destination still replicates", async () => {
    // A session of the source holds a write lock on the ledger until it unlocks (it says when
    // it holds it).
    const options = clusterSource();
    // --unbuffered: its answer is written when it is made, not when the client ends.
    const held = spawn("mariadb", [...options, "--batch", "--skip-column-names", "--unbuffered"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let heldSays = "";
    held.stdout.on("data", (data) => (heldSays += String(data)));
    held.stderr.on("data", (data) => (heldSays += String(data)));
    const released = new Promise((resolve) => held.on("close", resolve));
    held.stdin.write("LOCK TABLES ledger.writes WRITE;\nSELECT 'locked';\n");
    try {
      await until(() => heldSays.includes("locked"), "the table lock");
      k8sStack.changeConfig((config) => (config["ferry:migration"].cutover = true));
      mark("the cutover with a table locked: pulumi up");
      const up = k8sStack.pulumi(["up", "--yes"]);
      mark("the cutover with a table locked: pulumi up ended");
      expect(up.status, up.output).not.toBe(0);
      expect(up.output).toMatch(/could not be made read-only within 10s/);
      expect(up.output).toMatch(/cutover failed, rolled back \(the source takes writes as before/);
    } finally {
      held.stdin.end("UNLOCK TABLES;\n");
      await released;
    }
    expect(heldSays).toBe("locked\n");
    expect(query(options, "SELECT @@GLOBAL.read_only")).toBe("0");
    const target = destination(k8sStack.namespace);
    expect(query(target, "SELECT @@GLOBAL.read_only")).toBe("1");
    expect(queryRow(target, "SHOW SLAVE STATUS")).toMatchObject({
      Slave_IO_Running: "Yes",
      Slave_SQL_Running: "Yes",
    });
    // The application's writes go on once the lock is gone; the Service still sends the other
    // application to the source, where its writes go on too.
    const before = writer!.acknowledgedSoFar();
    await until(() => writer!.acknowledgedSoFar() > before + 5, "the writes after the lock", 60);
    expect(applicationService()).toEqual({ selector: "", source: "10.90.0.2:30306" });
    const throughService = serviceWriter!.acknowledgedSoFar();
    await until(
      () => serviceWriter!.acknowledgedSoFar() > throughService + 5,
      "the writes through ledger-db after the lock",
      60,
    );
  }, 600_000);

  it("live: cutover by the config change and one pulumi up while the application writes: every acknowledged write on the destination once, the source read-only, the destination writable and replicating nothing, both sides compared at the switch", async () => {
    mark("the cutover: pulumi up");
    const cutoverUpAt = Date.now();
    const up = k8sStack.pulumi(["up", "--yes"]);
    mark("the cutover: pulumi up ended");
    expect(up.status, up.output).toBe(0);
    // The application is refused by the source from the switch on; then it stops.
    await until(() => writer!.refusedSoFar() > 0, "the source's refusal", 60);
    const direct = await writer!.stop();
    const { acknowledged } = direct;
    writer = undefined;
    // The application behind the Service goes on writing, now to the destination.
    const throughService = serviceWriter!.acknowledgedSoFar();
    await until(
      () => serviceWriter!.acknowledgedSoFar() > throughService + 5,
      "the writes through ledger-db after the cutover",
      60,
    );
    const viaService = await serviceWriter!.stop();
    serviceWriter = undefined;
    const log = stepLog("cutover");
    const switched =
      /the applications' Service ledger-db selects the destination's server: switched (\d+)ms after the source stopped taking writes/.exec(
        log,
      );
    expect(switched, log).not.toBeNull();
    expect(Number(switched![1])).toBeLessThan(5000);
    // The connections the applications still held to the source were closed (the dev source's
    // account may: CONNECTION ADMIN); reconnecting, they reach the destination.
    expect(log).toMatch(/closed \d+ session\(s\) the applications held on the source \(accounts: /);
    expect(log).not.toMatch(/could not be closed|could not be listed/);
    // What the application behind the Service saw of the cutover: the longest time between two
    // of its acknowledged writes since the cutover's up began (it wrote on meanwhile, from a
    // thread of its own). A Service left on the read-only source would leave it refused.
    const at = viaService.acknowledgedAt;
    const gaps = at.slice(1).map((t, i) => ({ from: at[i], ms: t - at[i] }));
    const duringCutover = gaps.filter((g) => g.from + g.ms >= cutoverUpAt);
    const applicationWindow = Math.max(...duringCutover.map((g) => g.ms));
    console.log(
      `the applications' Service switched ${switched![1]} ms after the source went read-only; its application's longest time between two acknowledged writes during the cutover's up: ${applicationWindow} ms (${duringCutover.length} writes acknowledged then; ${viaService.refused} refused in all, ${viaService.acknowledged.length} acknowledged)`,
    );
    expect(duringCutover.length).toBeGreaterThan(5);
    expect(applicationWindow).toBeLessThan(5000);
    // Each application's transactions whose client took 2 s or more: where the time went.
    for (const [who, run] of [
      ["direct", direct],
      ["through ledger-db", viaService],
    ] as const) {
      const slow = run.attempts.filter((a) => a.ms >= 2000);
      console.log(
        `${who}: ${run.attempts.length} transactions, ${slow.length} of 2 s or more: ${slow
          .map((a) => `${new Date(a.startedAt).toISOString()} ${a.ms} ms (exit ${a.status})`)
          .join(", ")}`,
      );
    }
    expect(applicationService()).toEqual({
      selector: jsonpath("service", "mysql", k8sStack.namespace, "{.spec.selector}"),
      source: ":30306",
    });
    const window = /no write was accepted anywhere for (\d+)ms/.exec(log);
    expect(window, log).not.toBeNull();
    console.log(
      `live cutover across clusters: window ${window![1]} ms, ${acknowledged.length} writes acknowledged`,
    );
    expect(Number(window![1])).toBeLessThan(5000);
    expect(k8sStack.report().live).toMatch(
      new RegExp(
        `^cut over from 10\\.90\\.0\\.2:30306 at \\S+Z \\(position 0-1-\\d+\\): no write accepted anywhere for ${window![1]} ms; both sides equal at the switch: 5 tables, \\d+ rows$`,
      ),
    );
    expect(log).toMatch(
      /verified at the cutover: all \d+ objects, 5 tables \(\d+ rows\), equal on both sides/,
    );
    // The ledger: each acknowledged transaction's insert once, and its update counted once,
    // both applications' (the Service's, before the cutover on the source and after it here).
    const target = destination(k8sStack.namespace);
    expect(ledgerOnDestination()).toEqual([...acknowledged, ...viaService.acknowledged]);
    expect(query(target, "SELECT n FROM ledger.counter WHERE id = 1")).toBe(
      String(acknowledged.length + viaService.acknowledged.length),
    );
    expect(query(clusterSource(), "SELECT @@GLOBAL.read_only")).toBe("1");
    expect(query(target, "SELECT @@GLOBAL.read_only")).toBe("0");
    expect(query(target, "SHOW SLAVE STATUS")).toBe("");
    query(target, "INSERT INTO ledger.writes (token) VALUES (-1)");
    expect(query(target, "SELECT state FROM ferry.runs")).toBe("cut over");
    // The rows of the sample databases are the source's, as before.
    for (const table of tables)
      expect(rows(target, table), table).toBe(rows(clusterSource(), table));
  }, 600_000);

  it("physical: a new run id onto the restored volume is refused at once by the restore, naming why and the way out; the server, its pod and its data stay as they were", () => {
    const ns = sshStack.namespace;
    const serverPod = () =>
      kubectl([
        "get",
        "pods",
        "-n",
        ns,
        "-l",
        "app.kubernetes.io/component=database",
        "-o",
        "jsonpath={range .items[*]}{.metadata.uid} {.status.phase}{end}",
      ]).stdout.trim();
    const podBefore = serverPod();
    expect(podBefore).toMatch(/ Running$/);
    const rowsBefore = tables.map((table) => rows(destination(ns), table));
    sshStack.setRunId("e2e-ssh-again");
    const started = Date.now();
    const up = sshStack.pulumi(["up", "--yes"]);
    const seconds = (Date.now() - started) / 1000;
    expect(up.status, up.output).not.toBe(0);
    expect(up.output).toMatch(
      /holds the restore of run \S+, not of run e2e-ssh-again: the restore never writes over a database\. Give the destination a new volume, or set ferry:migration\.runId back to/,
    );
    // At once, not after the server's deadline (the dump's and the import's timeouts).
    expect(seconds).toBeLessThan(300);
    expect(serverPod()).toBe(podBefore);
    expect(tables.map((table) => rows(destination(ns), table))).toEqual(rowsBefore);
  }, 600_000);

  it("pulumi destroy of one leaves the other migration, its data and the storage untouched", () => {
    const destroy = sshStack.pulumi(["destroy", "--yes"]);
    expect(destroy.status, destroy.output).toBe(0);
    for (const table of tables)
      expect(rows(destination(k8sStack.namespace), table), table).toBe(
        rows(clusterSource(), table),
      );
    expect(
      kubectl([
        "get",
        "deployments",
        "-n",
        k8sStack.namespace,
        "-o",
        "jsonpath={range .items[*]}{.status.readyReplicas}{' '}{end}",
      ]).stdout.trim(),
    ).toBe("1 1");
    expect(jsonpath("storageclass", "neuronsan", null, "{.metadata.name}")).toBe("neuronsan");
    // Its own data stays too: the destroyed stack's database answers from its kept volume.
    expect(sshStack.dataDirectory()).not.toBe("");
    const preview = k8sStack.pulumi(["preview", "--expect-no-changes"]);
    expect(preview.status, preview.output).toBe(0);
  }, 600_000);
});

/**
 * A MariaDB the user runs with plain manifests of their own (as their chart or operator would),
 * with an import user of the rights docs/real-clusters.md lists; its data in an emptyDir of the test.
 */
function deployUsersDatabase(namespace: string, importPassword: string): string[] {
  const rootPassword = `root-${Math.random().toString(36).slice(2)}`;
  const init = [
    "CREATE USER 'ferry_import'@'%' IDENTIFIED BY '" + importPassword + "';",
    ...["shop", "crm", "ferry"].map(
      (db) => `GRANT ALL PRIVILEGES ON \`${db}\`.* TO 'ferry_import'@'%';`,
    ),
    "GRANT SET USER ON *.* TO 'ferry_import'@'%';",
    // A database of the user's own that the migration must not touch.
    "CREATE DATABASE app_state; CREATE TABLE app_state.kept (id INT PRIMARY KEY); INSERT INTO app_state.kept VALUES (7);",
  ].join("\n");
  kubectl(["delete", "namespace", namespace, "--ignore-not-found", "--wait=true"]);
  expect(kubectl(["create", "namespace", namespace]).status).toBe(0);
  // The passwords go to the API server in files of a private directory, never on a command line.
  const files = fs.mkdtempSync(path.join(clientOptions, "users-db-"));
  fs.writeFileSync(path.join(files, "root-password"), rootPassword, { mode: 0o600 });
  fs.writeFileSync(path.join(files, "init.sql"), init, { mode: 0o600 });
  const secretYaml = spawnSync(
    kubectlBin,
    [
      "--kubeconfig",
      kubeconfig,
      "-n",
      namespace,
      "create",
      "secret",
      "generic",
      "users-db",
      `--from-file=root-password=${path.join(files, "root-password")}`,
      `--from-file=init.sql=${path.join(files, "init.sql")}`,
      // The user's server requires TLS, with a certificate the dev sources' CA signed.
      ...["ca.crt", "server.crt", "server.key"].map(
        (file) => `--from-file=${file}=${path.join(repoRoot, ".ferry", "dev-tls", file)}`,
      ),
      "--dry-run=client",
      "-o",
      "yaml",
    ],
    { encoding: "utf8" },
  );
  fs.rmSync(files, { recursive: true, force: true });
  expect(secretYaml.status, secretYaml.stderr).toBe(0);
  const applied = spawnSync(kubectlBin, ["--kubeconfig", kubeconfig, "apply", "-f", "-"], {
    input: secretYaml.stdout,
    encoding: "utf8",
  });
  expect(applied.status, applied.stderr).toBe(0);
  const dev = parse(fs.readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8"));
  const manifests = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: users-db, namespace: ${namespace} }
spec:
  replicas: 1
  selector: { matchLabels: { app: users-db } }
  template:
    metadata: { labels: { app: users-db } }
    spec:
      containers:
        - name: mariadb
          image: ${dev.config["ferry:destination"].mysqlImage}
          imagePullPolicy: Never
          args: [--log-bin=users-bin, --server-id=7, --character-set-server=utf8mb4,
            --ssl-ca=/var/run/users-db-tls/ca.crt, --ssl-cert=/var/run/users-db-tls/server.crt,
            --ssl-key=/var/run/users-db-tls/server.key, --require-secure-transport=ON]
          env: [{ name: MYSQL_ROOT_PASSWORD_FILE, value: /var/run/users-db/root-password }]
          ports: [{ containerPort: 3306 }]
          readinessProbe:
            exec: { command: [mariadb-admin, ping, -h, 127.0.0.1, --silent] }
            periodSeconds: 2
          volumeMounts:
            - { name: secrets, mountPath: /var/run/users-db, readOnly: true }
            - { name: secrets, mountPath: /docker-entrypoint-initdb.d, readOnly: true }
            - { name: data, mountPath: /var/lib/mysql }
            - { name: tls, mountPath: /var/run/users-db-tls, readOnly: true }
      volumes:
        - name: secrets
          secret: { secretName: users-db, items: [{ key: root-password, path: root-password }, { key: init.sql, path: init.sql }] }
        - name: tls
          secret: { secretName: users-db, defaultMode: 0444, items: [{ key: ca.crt, path: ca.crt }, { key: server.crt, path: server.crt }, { key: server.key, path: server.key }] }
        - { name: data, emptyDir: {} }
---
apiVersion: v1
kind: Service
metadata: { name: users-db, namespace: ${namespace} }
spec: { selector: { app: users-db }, ports: [{ port: 3306 }] }
`;
  kubectlApply(manifests);
  const rollout = kubectl([
    "-n",
    namespace,
    "rollout",
    "status",
    "deployment/users-db",
    "--timeout=180s",
  ]);
  expect(rollout.status, rollout.stderr).toBe(0);
  const address = jsonpath("service", "users-db", namespace, "{.spec.clusterIP}");
  return [`--defaults-extra-file=${passwordOptions(rootPassword)}`, "-h", address, "-uroot"];
}

/** The size of every binary log of a server, summed. */
function binaryLogBytes(connection: string[]): number {
  const logs = spawnSync(
    "mariadb",
    [...connection, "--batch", "--skip-column-names", "-e", "SHOW BINARY LOGS"],
    { encoding: "utf8" },
  );
  expect(logs.status, logs.stderr).toBe(0);
  return logs.stdout
    .trim()
    .split("\n")
    .reduce((sum, line) => sum + Number(line.split("\t")[1]), 0);
}

describe("the dev stack into a database the user already runs (destination.database.mode existing)", () => {
  const usersNamespace = "ferry-e2e-users-db";
  let stack: DevStack;
  let usersDatabase: string[];
  beforeAll(() => {
    const importPassword = `import-${Math.random().toString(36).slice(2)}`;
    usersDatabase = deployUsersDatabase(usersNamespace, importPassword);
    stack = new DevStack(
      "e2e-existing",
      "ferry-e2e-existing",
      {},
      {
        destination: (d) => {
          // What only a server ferry runs reads is refused in this mode: the dev stack's are removed.
          for (const key of ["mysqlImage", "storageSize", "cpu", "memory", "serviceName"])
            delete d[key];
          d.database = {
            mode: "existing",
            host: `users-db.${usersNamespace}.svc.cluster.local`,
            user: "ferry_import",
            // The user's server requires TLS with a certificate of the dev servers' CA.
            tls: { mode: "verify-identity", caCert: devServersCa() },
          };
        },
        secrets: {
          sourcePassword: secret("sourcePassword"),
          objectStoreSecretKey: secret("objectStoreSecretKey"),
          destinationPassword: importPassword,
        },
        existingStorage: true,
      },
    );
  }, 300_000);
  afterAll(() => {
    stack?.remove();
    kubectl(["delete", "namespace", usersNamespace, "--ignore-not-found", "--wait=true"]);
  }, 600_000);

  it("imports and verifies as its user, and pulumi destroy leaves the server and all its data", () => {
    const logBefore = binaryLogBytes(usersDatabase);
    expectMigrated(stack, hostSource, { target: usersDatabase, deployments: "1" });
    // The import kept the server's binary log (its replicas must see the rows): it grew with the
    // 25003 rows (0.9 MB here); sql_log_bin = 0 would leave it at the few KiB of ferry.runs.
    expect(binaryLogBytes(usersDatabase) - logBefore).toBeGreaterThan(200_000);
    const destroy = stack.pulumi(["destroy", "--yes"]);
    expect(destroy.status, destroy.output).toBe(0);
    expect(jsonpath("deployment", "users-db", usersNamespace, "{.status.readyReplicas}")).toBe("1");
    for (const table of tables)
      expect(rows(usersDatabase, table), table).toBe(rows(hostSource, table));
    expect(rows(usersDatabase, "app_state.kept")).toBe("7\n");
  }, 600_000);
});

/** What a fault during the import needs: a source whose import lasts some seconds. */
const bulkRows = 300_000;
function createBulkDatabase(): void {
  const created = spawnSync("mariadb", [...hostSource, "--default-character-set=utf8mb4"], {
    input: `DROP DATABASE IF EXISTS bulk; CREATE DATABASE bulk CHARACTER SET utf8mb4; USE bulk;
      CREATE TABLE bulk.events (id INT PRIMARY KEY, at DATETIME(6) NOT NULL, n BIGINT NOT NULL,
        body VARCHAR(200) NOT NULL, KEY (n)) ENGINE=InnoDB;
      INSERT INTO bulk.events SELECT seq, '2026-01-01' + INTERVAL seq SECOND, seq * 7919 % 100003,
        REPEAT(MD5(seq), 6) FROM seq_1_to_${bulkRows};`,
    encoding: "utf8",
  });
  expect(created.status, created.stderr).toBe(0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every process below `pid`, from each process's parent in /proc. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The parent is the second field after the command's closing parenthesis.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // The process ended while the list was read.
    }
  }
  const below: number[] = [];
  for (let frontier = [pid]; frontier.length > 0;) {
    const next = [...parents].filter(([, parent]) => frontier.includes(parent)).map(([p]) => p);
    below.push(...next);
    frontier = next;
  }
  return below;
}

/** Sends `signal` to `pid`; a process that no longer exists is left be. */
function signalUnlessGone(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\S+ \S+ Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/\(.*\)/, "x"));
  } catch {
    return false;
  }
}

/**
 * Faults of a real cluster during the import, each injected while a `pulumi up` runs, each with
 * the four checks: the cause is in the up's output, the run is recorded as imported only once it
 * is, every row arrives once, and the up (or the one named recovery) completes.
 */
describe("faults of a real cluster during the import (mode local, 300000 more rows)", () => {
  let stack: DevStack;
  const faultTables = [...tables, "bulk.events"];
  beforeAll(() => {
    createBulkDatabase();
    stack = new DevStack(
      "e2e-faults",
      "ferry-e2e-faults",
      { databases: ["shop", "crm", "bulk"] },
      {
        existingStorage: true,
        // Each fault is a new run into the same server: the runs after the first replace its rows.
        // Chunks of 1 MiB: the import downloads all along, so a fault lands mid-download.
        migration: (migration) => Object.assign(migration, { overwrite: true, chunkMiB: 1 }),
      },
    );
  }, 300_000);
  afterAll(() => {
    stack?.remove();
    spawnSync("mariadb", [...hostSource, "-e", "DROP DATABASE IF EXISTS bulk"]);
  }, 600_000);

  /**
   * Refuses the creation of a run's import pods (a ValidatingAdmissionPolicy
   * of the destination cluster; the Job controller retries until it is lifted), so what a test
   * needs in place before the import starts can be put there after everything the run restarts
   * before its import. Returned once the API server applies it; the function returned lifts it.
   */
  async function gateImportPods(runId: string): Promise<() => void> {
    const name = `ferry-e2e-gate-${stack.namespace}`;
    const lift = () => {
      kubectl(["delete", "validatingadmissionpolicybinding", name, "--ignore-not-found"]);
      kubectl(["delete", "validatingadmissionpolicy", name, "--ignore-not-found"]);
    };
    const job = `ferry-import-${runId}`;
    kubectlApply(
      stringify({
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingAdmissionPolicy",
        metadata: { name },
        spec: {
          failurePolicy: "Fail",
          matchConstraints: {
            resourceRules: [
              { apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] },
            ],
          },
          validations: [
            {
              expression: `!has(object.metadata.labels) || !('job-name' in object.metadata.labels) || object.metadata.labels['job-name'] != '${job}'`,
              message: `the e2e test holds the pods of Job ${job} back`,
            },
          ],
        },
      }) +
        "---\n" +
        stringify({
          apiVersion: "admissionregistration.k8s.io/v1",
          kind: "ValidatingAdmissionPolicyBinding",
          metadata: { name },
          // Every namespace: the stack's may not exist yet, and the Job's name is the run's alone.
          spec: { policyName: name, validationActions: ["Deny"] },
        }),
    );
    // The API server takes a policy up a moment after it is stored: asked with a pod it would refuse.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const probe = kubectl([
        "run",
        "gate-probe",
        "-n",
        "default",
        "--image=gate-probe",
        `--labels=job-name=${job}`,
        "--dry-run=server",
      ]);
      if (probe.status !== 0 && probe.stderr.includes("holds the pods")) return lift;
      if (Date.now() > deadline) {
        lift();
        throw new Error(`the admission gate for ${job} was never applied: ${probe.stderr}`);
      }
      await sleep(250);
    }
  }

  /**
   * pulumi up of a new run for a fault, held mid-import: a session of this machine's holds
   * bulk.events write-locked on the destination, so the import (which drops and recreates it)
   * waits there until `release`; returned once the server shows the import waiting. A new run
   * restarts the database (its certificate is the run's), which would end a session taken before
   * it, so the run's import pods are held back until the run's Job exists (the restart is behind
   * it), the session is taken on the server as it now is, and the pods are let through.
   * A fault then lands mid-import however fast the import would have been.
   */
  async function upHeldMidImport(fault: string) {
    const runId = newRunId(fault);
    const lift = await gateImportPods(runId);
    let session: ChildProcess | undefined;
    let up:
      { runId: string; running: Promise<{ status: number | null; output: string }> } | undefined;
    let ended: { status: number | null; output: string } | undefined;
    const endedEarly = (what: string) =>
      new Error(`pulumi up ended (${ended!.status}) before ${what}:\n${ended!.output}`);
    try {
      up = startRun(runId);
      void up.running.then((result) => (ended = result));
      const deadline = Date.now() + 300_000;
      while (kubectl(["get", "job", `ferry-import-${runId}`, "-n", stack.namespace]).status !== 0) {
        if (ended) throw endedEarly("its import Job was made");
        if (Date.now() > deadline) throw new Error(`the import Job of run ${runId} was never made`);
        await sleep(500);
      }
      session = await holdEventsTable();
    } catch (error) {
      // The up goes on without the hold; it ends before the next test, whose up it would lock out.
      lift();
      await up?.running;
      throw error;
    } finally {
      lift();
    }
    const current = session;
    const release = async () => {
      if (current.exitCode !== null || current.signalCode !== null) return;
      const closed = new Promise<void>((resolve) => current.once("close", () => resolve()));
      current.stdin!.end();
      // A session whose server was killed may never hear of it.
      const killer = setTimeout(() => current.kill("SIGKILL"), 5_000);
      await closed;
      clearTimeout(killer);
    };
    const deadline = Date.now() + 300_000;
    for (;;) {
      if (ended) {
        await release();
        throw endedEarly("its import waited");
      }
      if (Date.now() > deadline) {
        const processes = spawnSync(
          "mariadb",
          [...destination(stack.namespace), "--batch", "-e", "SHOW FULL PROCESSLIST"],
          { encoding: "utf8" },
        );
        const logs = importPods(runId).map(
          (pod) => `${pod}:\n${kubectl(["logs", pod, "-n", stack.namespace]).stdout}`,
        );
        await release();
        await up.running;
        throw new Error(
          `the import of run ${runId} never waited at bulk.events; the server's sessions:\n${processes.stdout}${processes.stderr}\nthe import's pods:\n${logs.join("\n")}`,
        );
      }
      const waiting = spawnSync(
        "mariadb",
        [
          ...destination(stack.namespace),
          "--batch",
          "--skip-column-names",
          "-e",
          // CREATE DATABASE waits for the schema's lock (into an empty server), DROP TABLE for the table's.
          "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for % metadata lock%'",
        ],
        { encoding: "utf8" },
      );
      if (Number(waiting.stdout.trim()) > 0) break;
      await sleep(500);
    }
    return { runId, running: up.running, pod: importPods(runId)[0], release };
  }

  /** A session of this machine's on the destination holding bulk.events write-locked, once it does. */
  async function holdEventsTable(): Promise<ChildProcess> {
    // A server just rolled out may not answer at its Service's address for a moment (its new
    // endpoint not yet programmed): it is asked again, up to two minutes.
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        return await tryHoldingEventsTable();
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(1000);
      }
    }
  }

  async function tryHoldingEventsTable(): Promise<ChildProcess> {
    const session = spawn(
      "mariadb",
      [...destination(stack.namespace), "--batch", "--skip-column-names", "--unbuffered"],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let errors = "";
    session.stderr.on("data", (d: Buffer) => (errors += d.toString()));
    await new Promise<void>((resolve, reject) => {
      session.stdout.on("data", (d: Buffer) => d.toString().includes("held") && resolve());
      session.once("close", (code) =>
        reject(new Error(`the session holding bulk.events ended (${code}): ${errors}`)),
      );
      session.stdin.write(
        "CREATE DATABASE IF NOT EXISTS bulk; CREATE TABLE IF NOT EXISTS bulk.events (id INT PRIMARY KEY);\n" +
          "LOCK TABLES bulk.events WRITE; SELECT 'held';\n",
      );
    });
    return session;
  }

  /** A new run id for a fault's run, named after it. */
  function newRunId(fault: string): string {
    return `faults-${fault}-${Date.now().toString(36)}`;
  }

  /** pulumi up of a run, started. */
  function startRun(runId: string) {
    stack.setRunId(runId);
    return { runId, running: stack.pulumiAsync(["up", "--yes"]) };
  }

  /** The run's import pods, by name. */
  function importPods(runId: string): string[] {
    const pods = kubectl([
      "get",
      "pods",
      "-n",
      stack.namespace,
      "-l",
      `job-name=ferry-import-${runId}`,
      "-o",
      "jsonpath={.items[*].metadata.name}",
    ]).stdout.trim();
    return pods ? pods.split(" ") : [];
  }

  /** pulumi up of a new run for a fault, once its import pod has started to import. */
  async function upUntilImporting(fault: string) {
    const { runId, running } = startRun(newRunId(fault));
    const pod = await importing(runId, running);
    return { runId, running, pod };
  }

  /**
   * The run's import pod once it has started to import, by its log; if the up it waits on ends
   * first, its output says why.
   */
  async function importing(
    runId: string,
    up: Promise<{ status: number | null; output: string }>,
  ): Promise<string> {
    let ended: { status: number | null; output: string } | undefined;
    void up.then((result) => (ended = result));
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline && !ended) {
      const pod = importPods(runId)[0];
      if (
        pod &&
        /ferry-import: importing run/.test(kubectl(["logs", pod, "-n", stack.namespace]).stdout)
      )
        return pod;
      await sleep(500);
    }
    throw new Error(
      ended
        ? `pulumi up ended (${ended.status}) before the import of run ${runId} started:\n${ended.output}`
        : `the import of run ${runId} did not start`,
    );
  }

  /** The checks every fault ends with. */
  function expectWhole(up: { status: number | null; output: string }, runId: string): void {
    expect(up.status, up.output).toBe(0);
    expect(stack.report().verification).toBe(
      `passed: 4 tables, ${25003 + bulkRows} rows match the dump`,
    );
    const target = destination(stack.namespace);
    for (const table of faultTables)
      expect(rows(target, table), table).toBe(rows(hostSource, table));
    const state = spawnSync(
      "mariadb",
      [
        ...target,
        "--batch",
        "--skip-column-names",
        "-e",
        `SELECT state FROM ferry.runs WHERE run_id = '${runId}'`,
      ],
      { encoding: "utf8" },
    );
    expect(state.stdout.trim()).toBe("imported");
  }

  it("the import pod deleted mid-import: the Job's next pod imports again, every row once", async () => {
    const { runId, running, pod, release } = await upHeldMidImport("pod");
    expect(kubectl(["delete", "pod", pod, "-n", stack.namespace, "--wait=false"]).status).toBe(0);
    await release();
    const up = await running;
    // The first pod said why it stopped; the next one started over.
    expect(up.output).toMatch(/ferry-import: .*stopped by a signal/);
    expect(up.output.match(/ferry-import: importing run/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
    expectWhole(up, runId);
  }, 600_000);

  it("the destination MySQL pod killed mid-import: the import's retry waits for the restarted server and resumes, every row once", async () => {
    const { runId, running, release } = await upHeldMidImport("mysql");
    const killed = kubectl([
      "delete",
      "pod",
      "-n",
      stack.namespace,
      "-l",
      "app.kubernetes.io/component=database",
      "--grace-period=0",
      "--force",
      "--wait=false",
    ]);
    expect(killed.status, killed.stderr).toBe(0);
    // The holding session went with the server.
    await release();
    const up = await running;
    expect(up.output).toMatch(
      /ferry-import: .*(Lost connection|gone away|rejected the import|connection refused)/i,
    );
    expect(up.output).toMatch(/ferry-import: (resuming the interrupted import|importing run)/);
    expectWhole(up, runId);
  }, 600_000);

  it("pulumi up SIGKILLed mid-import (the CLI and every plugin it started), then pulumi up again: the lock names pulumi cancel, after which the up adopts the finished import and completes, every row once", async () => {
    const runId = `faults-cli-${Date.now().toString(36)}`;
    stack.setRunId(runId);
    let cli = 0;
    const running = stack.pulumiAsync(["up", "--yes"], (pid) => (cli = pid));
    await importing(runId, running);
    // The CLI starts each plugin (language host, providers) in a process group of its own: the
    // whole tree is found first, then killed at once, as a lost machine or session would.
    const tree = descendants(cli);
    expect(tree.length).toBeGreaterThanOrEqual(2);
    for (const pid of [cli, ...tree]) process.kill(pid, "SIGKILL");
    const killed = await running;
    for (let waited = 0; waited < 50 && tree.some(alive); waited++) await sleep(100);
    expect(tree.filter(alive)).toEqual([]);
    expect(killed.status).toBeNull();
    // The import goes on in its pod without the CLI; the next up starts once it has finished.
    const finished = kubectl([
      "wait",
      "-n",
      stack.namespace,
      "--for=condition=complete",
      `job/ferry-import-${runId}`,
      "--timeout=300s",
    ]);
    expect(finished.status, finished.stderr).toBe(0);
    // The killed CLI left its lock: the engine's own error names the recovery.
    const locked = stack.pulumi(["up", "--yes"]);
    expect(locked.status).not.toBe(0);
    expect(locked.output).toMatch(/the stack is currently locked .* `pulumi cancel`/s);
    const cancel = stack.workspace.pulumi(["cancel", "--yes", "--stack", stack.stack]);
    expect(cancel.status, cancel.output).toBe(0);
    const started = Date.now();
    const again = stack.pulumi(["up", "--yes"]);
    // The Jobs it left pending are adopted as they are; the import's lines are shown, not waited
    // for (before, the log watch waited out its 10 minutes for an attempt that never came).
    expect(again.output).toMatch(/pending operations from previous deployment/);
    expect(again.output).toMatch(
      /ferry-watch: watch import: the import step of run .* finished before this pulumi up began/,
    );
    expect(again.output).toMatch(/ferry-import: imported run faults-cli-/);
    expect(Date.now() - started).toBeLessThan(300_000);
    expectWhole(again, runId);
  }, 900_000);

  /** Kills the process whose pid a local script keeps in FILE (under .ferry) and waits until it is gone. */
  async function killKept(file: string): Promise<void> {
    const pid = Number(fs.readFileSync(path.join(repoRoot, ".ferry", file), "utf8"));
    expect(alive(pid), file).toBe(true);
    process.kill(pid, "SIGKILL");
    for (let waited = 0; waited < 100 && alive(pid); waited++) await sleep(100);
    expect(alive(pid), file).toBe(false);
  }

  it("the object store down for 60 s during the import's download: the download waits it out and resumes where it broke off, every row once", async () => {
    const { runId, running } = await upUntilImporting("store");
    await killKept("devenv/minio.pid");
    await sleep(60_000);
    execFileSync("sh", ["scripts/dev/devenv.sh", "up"], { cwd: repoRoot, stdio: "inherit" });
    const up = await running;
    expect(up.output).toMatch(
      /ferry-import: the download of s3:\/\/\S+ broke off at byte \d+ \(.+\); resuming in \d+s/,
    );
    expectWhole(up, runId);
  }, 900_000);

  it("the pods' network to the object store dropped for 60 s during the import's download (iptables on the node's bridge): the stalled download is given up and resumed where it broke off, every row once", async () => {
    const { runId, running } = await upUntilImporting("network");
    // Every packet from the destination's pods to the store, dropped: no refusal, no reset, the
    // connection just goes silent, as when a network path fails.
    const rule = ["INPUT", "-i", "ferry0", "-p", "tcp", "--dport", "19000", "-j", "DROP"];
    execFileSync("iptables", ["-w", "-I", ...rule]);
    try {
      await sleep(60_000);
    } finally {
      execFileSync("iptables", ["-w", "-D", ...rule]);
    }
    const up = await running;
    // The silent connection is given up after 30 s without a byte, and resumed.
    expect(up.output).toMatch(
      /ferry-import: the download of s3:\/\/\S+ broke off at byte \d+ \(.*made no progress for 30s.*\); resuming/,
    );
    expectWhole(up, runId);
  }, 900_000);

  /** A setting of the run's import Job, as the cluster holds it. */
  function importSetting(runId: string, name: string): string {
    return jsonpath(
      "job",
      `ferry-import-${runId}`,
      stack.namespace,
      `{.spec.template.spec.containers[0].env[?(@.name=="${name}")].value}`,
    );
  }

  it("the bucket deleted by someone else mid-import: pulumi up fails saying the bucket is gone, not that the dump never completed; pulumi up --refresh makes a new bucket, dumps again and completes, every row once", async () => {
    const { runId, running } = await upUntilImporting("bucket");
    const bucket = importSetting(runId, "S3_BUCKET");
    expect(bucket).toMatch(/^ferry-/);
    devMc(["rb", "--force", `dev/${bucket}`]);
    const failed = await running;
    expect(failed.status, failed.output).not.toBe(0);
    expect(failed.output).toContain(`ferry-import: ERROR: `);
    expect(failed.output).toContain(`the bucket ${bucket} does not exist`);
    expect(failed.output).not.toMatch(/never completed/);
    expect(failed.output).not.toMatch(/ferry-import: imported run/);
    const again = stack.pulumi(["up", "--yes", "--refresh"]);
    expect(again.output).toMatch(/ferry-dump: done:/);
    expect(importSetting(runId, "S3_BUCKET")).not.toBe(bucket);
    expectWhole(again, runId);
  }, 900_000);

  it("the reading bucket user turned off by someone else mid-import: pulumi up fails at once naming the user; a new run id (new users) completes, every row once", async () => {
    const { runId, running } = await upUntilImporting("revoked");
    const user = importSetting(runId, "S3_ACCESS_KEY");
    expect(user).toMatch(/-read$/);
    devMc(["admin", "user", "disable", "dev", user]);
    const failed = await running;
    expect(failed.status, failed.output).not.toBe(0);
    expect(failed.output).toContain(`ferry-import: ERROR: `);
    expect(failed.output).toContain(`the object store refused bucket user ${user}`);
    expect(failed.output).not.toMatch(/ferry-import: imported run/);
    // Refused, not waited out: no download was retried against the refusal.
    expect(failed.output).not.toMatch(/ferry-import: the download of .* resuming in/);
    const next = `faults-revoked-next-${Date.now().toString(36)}`;
    stack.setRunId(next);
    const again = stack.pulumi(["up", "--yes"]);
    expectWhole(again, next);
  }, 900_000);

  // The import follows the dump from its start: its Job's deadline is dumpTimeoutMinutes and
  // importTimeoutMinutes together, here 2 minutes.
  it("the import's Job deadline passed (importTimeoutMinutes 1 with dumpTimeoutMinutes 1, the server away meanwhile): pulumi up fails naming ferry:migration.importTimeoutMinutes; with the timeouts back, pulumi up again completes, every row once", async () => {
    const runId = `faults-deadline-${Date.now().toString(36)}`;
    stack.setRunId(runId);
    stack.changeConfig((config) => {
      config["ferry:migration"].importTimeoutMinutes = 1;
      config["ferry:migration"].dumpTimeoutMinutes = 1;
    });
    const server = [
      "deployment",
      "-n",
      stack.namespace,
      "-l",
      "app.kubernetes.io/component=database",
    ];
    let failed: { status: number | null; output: string };
    try {
      const running = stack.pulumiAsync(["up", "--yes"]);
      await importing(runId, running);
      // The server gone for longer than the import may take: the import waits for it until its
      // Job's deadline stops it.
      expect(kubectl(["scale", ...server, "--replicas=0"]).status).toBe(0);
      failed = await running;
    } finally {
      expect(kubectl(["scale", ...server, "--replicas=1"]).status).toBe(0);
      stack.changeConfig((config) => {
        delete config["ferry:migration"].importTimeoutMinutes;
        delete config["ferry:migration"].dumpTimeoutMinutes;
      });
    }
    expect(failed.status, failed.output).not.toBe(0);
    expect(failed.output).toMatch(
      /ferry-import: ERROR: the import ran out of time: its Job's deadline, ferry:migration\.importTimeoutMinutes with ferry:migration\.dumpTimeoutMinutes \(2 minutes\), passed after [0-9ms]+\. Raise ferry:migration\.importTimeoutMinutes/,
    );
    expect(failed.output).not.toMatch(/ferry-import: imported run/);
    const again = stack.pulumi(["up", "--yes"]);
    expectWhole(again, runId);
  }, 900_000);

  it("pulumi destroy run while an import runs: refused by the stack's lock, naming it; the import goes on and its pulumi up completes, every row once", async () => {
    const { runId, running } = await upUntilImporting("destroy");
    const destroy = stack.pulumi(["destroy", "--yes"]);
    expect(destroy.status).not.toBe(0);
    expect(destroy.output).toMatch(/the stack is currently locked/);
    const up = await running;
    expectWhole(up, runId);
  }, 900_000);

  it("the source server killed mid-dump and started again: pulumi up fails naming the dump's lost connection, stores no manifest and imports nothing; the next pulumi up dumps again, every row once", async () => {
    const runId = `faults-source-${Date.now().toString(36)}`;
    stack.setRunId(runId);
    const running = stack.pulumiAsync(["up", "--yes"]);
    // Mid-dump: the dump tool's session is reading the large table (the preflight, as the same
    // user, reads information_schema.EVENTS: not that).
    const deadline = Date.now() + 240_000;
    for (;;) {
      const reading = spawnSync(
        "mariadb",
        [
          ...hostSource,
          "--batch",
          "--skip-column-names",
          "-e",
          "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'ferry_dump' AND INFO LIKE '%FROM `events`%'",
        ],
        { encoding: "utf8" },
      );
      if (Number(reading.stdout.trim()) > 0) break;
      if (Date.now() > deadline) throw new Error(`the dump of run ${runId} did not start`);
      await sleep(100);
    }
    await killKept("devenv/mariadb.pid");
    execFileSync("sh", ["scripts/dev/devenv.sh", "up"], { cwd: repoRoot, stdio: "inherit" });
    const failed = await running;
    expect(failed.status, failed.output).not.toBe(0);
    // The cause, whichever of the dump's sessions noticed first (it once blamed a privilege).
    expect(failed.output).toMatch(
      /ferry-dump: ERROR: the source server at 127\.0\.0\.1:13306 (stopped answering|restarted) during the dump .*run pulumi up again once the source is up/,
    );
    expect(failed.output).not.toMatch(/needs PROCESS|database is closed/);
    expect(failed.output).not.toMatch(/ferry-dump: done:/);
    // The import, started beside the dump, stops with it: nothing imported stays.
    expect(failed.output).not.toMatch(/ferry-import: imported run/);
    if (/ferry-import: importing run/.test(failed.output))
      expect(failed.output).toMatch(/The partial import was removed/);
    const again = stack.pulumi(["up", "--yes"]);
    expect(again.output).toMatch(/ferry-dump: done:/);
    expectWhole(again, runId);
  }, 900_000);

  /** The processes of a pod on the destination's node, found by its cgroup: its sandbox's and its containers'. */
  function podProcesses(pod: string): { sandbox: number; containers: number[] } {
    const uid = jsonpath("pod", pod, stack.namespace, "{.metadata.uid}");
    const found = { sandbox: 0, containers: [] as number[] };
    for (const pid of fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
      let cgroup: string, command: string;
      try {
        cgroup = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8");
        command = fs.readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0")[0];
      } catch {
        continue; // a process that ended while the list was read
      }
      if (!cgroup.includes(`/pod${uid}/`)) continue;
      if (command === "/pause") found.sandbox = Number(pid);
      else found.containers.push(Number(pid));
    }
    expect(found.sandbox, `the sandbox process of pod ${pod}`).not.toBe(0);
    expect(found.containers.length, `the processes of pod ${pod}`).toBeGreaterThan(0);
    return found;
  }

  /** How the run's import Job ended: its succeeded and failed pods. */
  function importJobEnds(runId: string): string {
    return jsonpath(
      "job",
      `ferry-import-${runId}`,
      stack.namespace,
      "{.status.succeeded} {.status.failed}",
    );
  }

  /** A pod's phase and its container's restarts. */
  function podEnd(pod: string): string {
    return jsonpath(
      "pod",
      pod,
      stack.namespace,
      "{.status.phase} {.status.containerStatuses[0].restartCount}",
    );
  }

  /** The kubelet's "Killing" events for a pod: it stopped the pod's containers itself. */
  function stoppedByKubelet(pod: string): string {
    return kubectl([
      "get",
      "events",
      "-n",
      stack.namespace,
      "--field-selector",
      `involvedObject.name=${pod},reason=Killing`,
      "-o",
      "name",
    ]).stdout.trim();
  }

  /**
   * A pod ended by its node, not by a failing import: the kubelet says it stopped it, the import
   * says it was stopped by that signal and nothing else went wrong, and the Job's next pod
   * finished the import.
   */
  function expectEndedByTheNode(pod: string, runId: string): void {
    const log = kubectl(["logs", pod, "-n", stack.namespace]).stdout;
    const why = `pod ${pod}: ${kubectl(["get", "pod", pod, "-n", stack.namespace, "-o", "jsonpath={.status}"]).stdout}\n${log.slice(-4000)}`;
    expect(podEnd(pod), why).toBe("Failed 0");
    expect(stoppedByKubelet(pod), `the kubelet did not say it stopped ${pod}: ${why}`).not.toBe("");
    const errors = log.split("\n").filter((line) => line.includes("ferry-import: ERROR"));
    expect(errors.length, why).toBeGreaterThan(0);
    for (const line of errors)
      expect(line, why).toMatch(/the import was stopped by a signal before it finished/);
    expect(importJobEnds(runId), why).toBe("1 1");
  }

  it("kubelet and containerd killed mid-import and started again: the import goes on in its pod or, if the node ends that pod, in the Job's next one; every row once", async () => {
    const { runId, running, pod, release } = await upHeldMidImport("node");
    await killKept("cluster/node/kubelet.pid");
    await killKept("cluster/node/containerd.pid");
    // The node's containers run on under their shims; cluster.sh up starts what is not running.
    execFileSync("sh", ["scripts/dev/cluster.sh", "up"], { cwd: repoRoot, stdio: "inherit" });
    // The import goes on once the node is whole again, its DNS answering (the steps after the
    // import resolve the database's Service name).
    const dns = kubectl([
      "wait",
      "-n",
      "kube-system",
      "--for=condition=Ready",
      "pod",
      "-l",
      "k8s-app=kube-dns",
      "--timeout=180s",
    ]);
    expect(dns.status, dns.stderr).toBe(0);
    // ...and the database's Service answering again before the held import goes on.
    for (let tries = 0; tries < 120; tries++) {
      const answer = spawnSync("mariadb", [...destination(stack.namespace), "-e", "SELECT 1"]);
      if (answer.status === 0) break;
      await sleep(1000);
    }
    await release();
    const up = await running;
    expectWhole(up, runId);
    const ended = podEnd(pod);
    if (ended === "Succeeded 0") {
      // The pod that was importing when its node's agents died finished the import, and the Job
      // needed no other (pulumi up repeats a step's latest line in its status lines, so the
      // output's count of them says nothing).
      expect(importJobEnds(runId)).toBe("1 ");
      return;
    }
    const log = kubectl(["logs", pod, "-n", stack.namespace]).stdout;
    if (/ferry-import: ERROR: .*Can't connect to server on 'mysql'/.test(log)) {
      // The node's pod network came back after the import went on (seen once in CI: its next
      // session to the Service did not get through). The import says so and leaves the rest to
      // the Job's next pod, which imported every row (expectWhole above).
      expect(podEnd(pod)).toBe("Failed 0");
      expect(importJobEnds(runId)).toBe("1 1");
      return;
    }
    // A kubelet that comes back to a sandbox its runtime does not report ready (a containerd under
    // load slow to recover its shims: the next test makes it so) stops the pod, and a Never pod is
    // not restarted in place. The node's doing, and ferry's answer is the Job's next pod.
    expectEndedByTheNode(pod, runId);
  }, 900_000);

  it("the importing pod's sandbox lost while kubelet and containerd are down: the kubelet stops the pod on its return, the import says so and rolls back, and the Job's next pod imports every row once", async () => {
    const { runId, running, pod, release } = await upHeldMidImport("sandbox");
    const processes = podProcesses(pod);
    // The import held still, so it is still importing when the kubelet comes back to judge its pod;
    // the kubelet's SIGTERM waits for it until it goes on.
    for (const pid of processes.containers) process.kill(pid, "SIGSTOP");
    try {
      await killKept("cluster/node/kubelet.pid");
      await killKept("cluster/node/containerd.pid");
      process.kill(processes.sandbox, "SIGKILL");
      execFileSync("sh", ["scripts/dev/cluster.sh", "up"], { cwd: repoRoot, stdio: "inherit" });
      const deadline = Date.now() + 120_000;
      while (stoppedByKubelet(pod) === "") {
        if (Date.now() > deadline) throw new Error(`the kubelet did not stop pod ${pod}`);
        await sleep(1000);
      }
    } finally {
      // The kubelet may be ending these processes right now: one gone between a check and the
      // signal is what this test waits for, not a failure (seen in CI: kill ESRCH here).
      for (const pid of processes.containers) signalUnlessGone(pid, "SIGCONT");
      await release();
    }
    const up = await running;
    expectWhole(up, runId);
    expectEndedByTheNode(pod, runId);
  }, 900_000);
});
