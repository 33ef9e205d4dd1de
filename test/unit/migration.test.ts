import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type * as MigrationModule from "../../components/migration";
import { rootPasswordRefusal } from "../../components/rootPasswordKept";
import { drawRunKeyScript } from "../../components/runKey";
import {
  certificateObjects,
  certificatesRoleRules,
  renewalWindow,
} from "../../components/specs/certificates";
import { jobAwaitTimeouts } from "../../components/specs/timeouts";
import { testCertificates } from "../support/certificates";
import { imageFlavour, quantityBytes } from "../../components/values";
import { shellQuote } from "../../components/specs/dataPlane";
import { dockerConfigData } from "../../components/specs/registry";
import * as networkPolicy from "../../components/specs/networkPolicy";
import type * as RunReportModule from "../../components/runReport";
import {
  configFrom,
  countByType,
  installMocks,
  isSecretInput,
  revealSecret,
  named,
  ofType,
  rawConfig,
  recordOptions,
  registered,
  resetRegistered,
  sampleLiveRecord,
  sampleManifest,
  sampleHostKey,
  sampleNow,
  sampleTlsPublic,
  sampleRunKey,
  secretsWithout,
  secretValues,
  settle,
  startSshServer,
} from "./harness";

let migrationModule: typeof MigrationModule;
let reportModule: typeof RunReportModule;

beforeAll(async () => {
  const sshServer = await startSshServer();
  installMocks();
  // Imported after the mocks: a static import would be hoisted above them.
  migrationModule = await import("../../components/migration");
  reportModule = await import("../../components/runReport");
  return () => void sshServer.close();
});

beforeEach(() => resetRegistered());

async function run(
  mode: "kubernetes" | "ssh" | "local",
  change?: (raw: any) => void,
  secrets: Record<string, string> = secretValues,
) {
  const raw = structuredClone(rawConfig(mode)) as any;
  change?.(raw);
  const migration = new migrationModule.Migration(
    `m-${mode}-${Math.random().toString(36).slice(2, 7)}`,
    { config: configFrom(raw, secrets), now: sampleNow },
    { transformations: [recordOptions] },
  );
  const report = await settle(migration.report);
  return { migration, report };
}

const destinationTypes = [
  "kubernetes:helm.sh/v3:Release",
  "kubernetes:storage.k8s.io/v1:StorageClass",
  "kubernetes:storage.k8s.io/v1:StorageClassPatch",
  "kubernetes:core/v1:Namespace",
  "kubernetes:core/v1:PersistentVolumeClaim",
  "kubernetes:apps/v1:Deployment",
  "kubernetes:core/v1:Service",
];

function providerOf(type: string, nameSuffix: string): string {
  const provider = registered.find((r) => r.type === type && r.name.endsWith(nameSuffix));
  if (!provider) throw new Error(`no provider ${type} *${nameSuffix}`);
  return `urn:pulumi:test::ferry::ferry:components:Migration$${type}::${provider.name}`;
}

/** A CA certificate as source.tls.caCert takes it. */
const sampleSourceCa = testCertificates(["source.example"]).caCertificate;

describe("the whole graph", () => {
  it("declares exactly these resources in kubernetes mode", async () => {
    await run("kubernetes");
    expect(countByType()).toEqual({
      "ferry:components:Migration": 1,
      "pulumi:providers:kubernetes": 2,
      "pulumi:providers:minio": 1,
      "ferry:components:ObjectStore": 1,
      "minio:index/s3Bucket:S3Bucket": 1,
      "minio:index/ilmPolicy:IlmPolicy": 1,
      // One bucket user a role: dump, read, cleanup.
      "minio:index/iamUser:IamUser": 3,
      "minio:index/iamPolicy:IamPolicy": 3,
      "minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment": 3,
      "ferry:components:SourceDump": 1,
      // The source's keys, the root password, the Jobs' keys (none of the server's TLS).
      "kubernetes:core/v1:Secret": 3,
      // The dump's and the destination's scripts; the certificates' public ConfigMap, read.
      "kubernetes:core/v1:ConfigMap": 3,
      // The preflight, the dump, the removal of the dump's credentials, the certificates, the
      // import, the verification, the cleanup.
      "kubernetes:batch/v1:Job": 7,
      "ferry:components:StorageStack": 1,
      "kubernetes:helm.sh/v3:Release": 3,
      "kubernetes:storage.k8s.io/v1:StorageClass": 1,
      "kubernetes:storage.k8s.io/v1:StorageClassPatch": 2,
      "ferry:components:DestinationDatabase": 1,
      "kubernetes:core/v1:Namespace": 1,
      "kubernetes:core/v1:PersistentVolumeClaim": 2,
      "kubernetes:apps/v1:Deployment": 2,
      "kubernetes:core/v1:Service": 1,
      "ferry:components:NetworkPolicies": 1,
      // Default deny, the database's ingress, the Jobs' egress; the dump's egress in the source.
      // The certificates Job's egress to the API server (ServerCertificates), and the source
      // cluster's Job's that removes the dump's credentials (SourceCredentialsRemoval).
      "kubernetes:networking.k8s.io/v1:NetworkPolicy": 6,
      "ferry:components:ServerCertificates": 1,
      "ferry:components:SourceCredentialsRemoval": 1,
      // Those two Jobs' accounts, each with its Role.
      "kubernetes:core/v1:ServiceAccount": 2,
      "kubernetes:rbac.authorization.k8s.io/v1:Role": 2,
      "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": 2,
      // Each cluster's API server's endpoints, read.
      "kubernetes:discovery.k8s.io/v1:EndpointSlice": 2,
      "ferry:components:DestinationJobs": 1,
      "ferry:components:ImportJob": 1,
      "ferry:components:Verification": 1,
      "ferry:components:Cleanup": 1,
      "ferry:components:RunReport": 1,
      "ferry:components:RunKey": 1,
      "ferry:components:BucketRevocation": 1,
      // The dump's and the import's Job each have their log watched.
      "ferry:components:StepLog": 2,
      // The server ferry runs keeps its first root password.
      "ferry:components:RootPasswordKept": 1,
      "command:local:Command": 6,
    });
  });

  it.each(["ssh", "local"] as const)(
    "declares a command instead of a source Job in %s mode",
    async (mode) => {
      await run(mode);
      const counts = countByType();
      expect(counts["pulumi:providers:kubernetes"]).toBe(1);
      // The certificates, the import, the verification, the cleanup.
      expect(counts["kubernetes:batch/v1:Job"]).toBe(4);
      expect(counts["kubernetes:core/v1:Secret"]).toBe(2);
      // The Jobs' scripts; the certificates' public ConfigMap, read.
      expect(counts["kubernetes:core/v1:ConfigMap"]).toBe(2);
      // The preflight and the dump, over SSH or here.
      expect(counts["command:remote:Command"] ?? 0).toBe(mode === "ssh" ? 2 : 0);
      // The run key's, the report's, the revocation's, the import's log, and the preflight's and
      // the dump's in local mode; the root password's check.
      expect(counts["command:local:Command"]).toBe(mode === "local" ? 7 : 5);
    },
  );

  it("gives every resource a unique URN", async () => {
    await run("kubernetes");
    const names = registered.map((r) => `${r.type}::${r.name}`);
    expect(new Set(names).size).toBe(names.length);
  });

  it("puts source objects in the source cluster and everything else in the destination", async () => {
    await run("kubernetes");
    const source = providerOf("pulumi:providers:kubernetes", "-source");
    const destination = providerOf("pulumi:providers:kubernetes", "-destination");
    const objectStore = providerOf("pulumi:providers:minio", "-objectstore");
    for (const r of registered.filter((r) => r.type.startsWith("kubernetes:"))) {
      const expected = r.name.includes("-dump-") ? source : destination;
      expect(r.provider?.startsWith(`${expected}::`), `${r.type} ${r.name}`).toBe(true);
    }
    for (const r of registered.filter((r) => r.type.startsWith("minio:"))) {
      expect(r.provider?.startsWith(`${objectStore}::`), `${r.type} ${r.name}`).toBe(true);
    }
    expect(destinationTypes.every((t) => ofType(t).length > 0)).toBe(true);
  });

  it("orders the steps: dump after the bucket, import beside the dump once its preflight passed (following it) and after the database, verify after both, then cleanup, report, revocation", async () => {
    await run("local");
    const dependsOnNames = (suffix: string) =>
      ((named(suffix).opts?.dependsOn as pulumi.Resource[]) ?? []).map(
        (d) => (d as any).__name as string,
      );
    expect(dependsOnNames("-dump")).toEqual([
      expect.stringMatching(/-store$/),
      expect.stringMatching(/-root-password-kept$/),
    ]);
    // The import starts beside the dump and follows it chunk by chunk (FOLLOW_DUMP): it waits for
    // the dump's preflight, not its end; the verification waits for both.
    expect(dependsOnNames("-import")).toEqual([
      expect.stringMatching(/-dump-local-preflight$/),
      expect.stringMatching(/-database$/),
      expect.stringMatching(/-jobs$/),
    ]);
    expect(dependsOnNames("-verification")).toEqual([
      expect.stringMatching(/-import$/),
      expect.stringMatching(/-dump$/),
    ]);
    expect(dependsOnNames("-cleanup")).toEqual([expect.stringMatching(/-verification$/)]);
    // The import's log is watched from the import's start; the report waits for the watch too.
    expect(dependsOnNames("-import-log")).toEqual(dependsOnNames("-import"));
    expect(dependsOnNames("-report")).toEqual([
      expect.stringMatching(/-verification$/),
      expect.stringMatching(/-import-log$/),
      expect.stringMatching(/-cleanup$/),
    ]);
    expect(dependsOnNames("-database")).toEqual([
      expect.stringMatching(/-storage$/),
      expect.stringMatching(/-root-password-kept$/),
    ]);
    // The namespace's NetworkPolicies are in place before a Job's Secret, ConfigMap or pod.
    expect(dependsOnNames("-jobs")).toEqual([expect.stringMatching(/-network$/)]);
    expect(dependsOnNames("-revocation")).toEqual([expect.stringMatching(/-report$/)]);
  });

  it("ends with a report of what the dump recorded and the verification found", async () => {
    const { report } = await run("local");
    expect(report).toMatchObject({
      runId: "run-1",
      sourceMode: "local",
      databases: ["shop", "crm"],
      bucket: "ferry-abc123",
      storageClass: "neuronsan",
      storage:
        "installed by this stack: Helm releases in storage-system, class neuronsan made the default",
      destination: { namespace: "ferry", service: "mysql", dataVolumeClaim: "mysql-data" },
      dump: {
        tables: 2,
        rows: 7,
        sqlBytes: 4599,
        storedBytes: 1470,
        streams: 2,
        seconds: 3,
      },
      verification: "passed: 2 tables, 7 rows match the dump",
      dumpObjects: "removed: 2 objects under s3://ferry-abc123/runs/run-1/",
      dataKeptOnDestroy: true,
    });
  });

  it("reports only what the bucket holds: no verification result means nothing was verified", () => {
    const report = reportModule.summarize(
      configFrom(rawConfig("local")),
      { manifest: sampleManifest, verification: null, live: null, dumpObjectsPresent: 2 },
      {
        bucket: "b",
        storageClass: "c",
        storage: "installed by this stack",
        destination: { mode: "managed", namespace: "n", service: "s", dataVolumeClaim: "p" },
        decision: { method: "logical", reason: "migration.method is logical" },
      },
    );
    expect(report.method).toBe("logical: migration.method is logical");
    expect(report.verification).toBe(
      "NOT RECORDED: no verification result in the bucket, so nothing was verified",
    );
    expect(report.dumpObjects).toBe("still stored: 2 of 2 objects under s3://b/runs/run-1/");
  });

  it("states live mode's record as the bucket holds it: none, replicating with or without a known lag, cut over with the sides equal, differing, not compared, or its details lost", () => {
    const replicating = sampleLiveRecord("replicating");
    const cut = sampleLiveRecord("cut over");
    const line = (live: any) => reportModule.liveLine(live);
    expect(line(null)).toBe(
      "NOT RECORDED: no record of the replication in the bucket, so it is not known to run",
    );
    expect(
      line({
        ...replicating,
        replication: { ...replicating.replication, behind: -1, secondsBehind: -1 },
      }),
    ).toBe(
      "replicating from 10.90.0.2:30306: an unknown number of transactions behind at 2026-11-24T15:23:00Z; cut over with ferry:migration.cutover true",
    );
    expect(line({ ...replicating, replication: null })).toBe(
      "replicating from 10.90.0.2:30306; not checked yet",
    );
    expect(line({ ...cut, cutover: { ...cut.cutover!, mismatched: 2 } })).toBe(
      "cut over from 10.90.0.2:30306 at 2026-11-24T15:30:00Z (position 0-1-57): no write accepted anywhere for 412 ms; 2 of 4 objects DIFFER between the sides at the switch (the cutover Job's log names them)",
    );
    expect(line({ ...cut, cutover: { ...cut.cutover!, compared: false, position: "" } })).toBe(
      "cut over from 10.90.0.2:30306 at 2026-11-24T15:30:00Z (position none): no write accepted anywhere for 412 ms; NOT compared at the switch",
    );
    expect(line({ ...cut, cutover: { ...cut.cutover!, windowMs: -1 } })).toBe(
      "cut over from 10.90.0.2:30306; its details were not recorded (the cutover Job's log has them)",
    );
    expect(line({ ...cut, cutover: null })).toBe(
      "cut over from 10.90.0.2:30306; its details were not recorded (the cutover Job's log has them)",
    );
  });

  it("skips cleanup and says so when verification is off", async () => {
    const { report } = await run(
      "local",
      (raw) => (raw.verification = { enabled: false, readWriteTest: false }),
    );
    expect(ofType("ferry:components:Cleanup")).toHaveLength(0);
    // The certificates' and the import's.
    expect(ofType("kubernetes:batch/v1:Job").map((j) => j.name)).toEqual([
      expect.stringMatching(/-database-tls-job$/),
      expect.stringMatching(/-import-job$/),
    ]);
    expect(report.verification).toBe("not run (ferry:verification.enabled is false)");
    expect(report.dumpObjects).toBe(
      "still stored: 2 of 2 objects under s3://ferry-abc123/runs/run-1/",
    );
  });
});

describe("storage", () => {
  it("installs CRDs, system and CSI in that order, from config, with the license as a secret value", async () => {
    await run("local");
    const releases = ofType("kubernetes:helm.sh/v3:Release");
    expect(releases.map((r) => r.inputs.chart)).toEqual([
      "neuronsan-crds",
      "neuronsan",
      "neuronsan-csi",
    ]);
    for (const r of releases) {
      expect(r.inputs.version).toBe("1.2.0");
      expect(r.inputs.repositoryOpts).toEqual({ repo: "https://charts.example.com" });
      expect(r.inputs.namespace).toBe("storage-system");
    }
    expect(revealSecret(releases[1].inputs.values)).toEqual({
      replicas: 3,
      license: { key: secretValues.storageLicenseKey },
    });
    expect(isSecretInput(releases[0].inputs.values)).toBe(false);
    const deps = (suffix: string) =>
      ((named(suffix).opts?.dependsOn as any[]) ?? []).map((d) => d.__name);
    expect(deps("-storage-system")).toEqual([expect.stringMatching(/-storage-crds$/)]);
    expect(deps("-storage-csi")).toEqual([expect.stringMatching(/-storage-system$/)]);
  });

  it("installs nothing with storage.install false: reads the class, puts the data on it, and reports what it is", async () => {
    const secrets = secretsWithout("storageLicenseKey");
    const { report } = await run(
      "local",
      (raw) => (raw.storage = { install: false, storageClass: { name: "vendor-fast" } }),
      secrets,
    );
    const made = registered.filter((r) => r.readId === undefined).map((r) => r.type);
    for (const type of [
      "kubernetes:helm.sh/v3:Release",
      "kubernetes:storage.k8s.io/v1:StorageClass",
      "kubernetes:storage.k8s.io/v1:StorageClassPatch",
    ])
      expect(made).not.toContain(type);
    const read = registered.filter((r) => r.readId !== undefined);
    expect(read.map((r) => [r.type, r.readId])).toEqual([
      ["kubernetes:storage.k8s.io/v1:StorageClass", "vendor-fast"],
      // The API server's endpoints and the certificates' public ConfigMap (ServerCertificates).
      ["kubernetes:discovery.k8s.io/v1:EndpointSlice", "default/kubernetes"],
      ["kubernetes:core/v1:ConfigMap", "ferry/mysql-ca"],
    ]);
    const claim = ofType("kubernetes:core/v1:PersistentVolumeClaim").find((c) =>
      c.name.endsWith("-database-data"),
    );
    expect(claim?.inputs.spec.storageClassName).toBe("vendor-fast");
    expect(report.storageClass).toBe("vendor-fast");
    expect(report.storage).toBe(
      "existing class vendor-fast, not installed by ferry: provisioner csi.vendor.example.com, binding WaitForFirstConsumer, reclaim Delete",
    );
  });

  it("makes the new class the default by a forced, retained patch and steps the old default down first", async () => {
    await run("local");
    const patch = named("-storage-default");
    expect(patch.inputs.metadata).toEqual({
      name: "neuronsan",
      annotations: {
        "storageclass.kubernetes.io/is-default-class": "true",
        "pulumi.com/patchForce": "true",
      },
    });
    expect(patch.opts?.retainOnDelete).toBe(true);
    const stepDown = named("-storage-previous-default");
    expect(stepDown.inputs.metadata.name).toBe("standard");
    expect(
      stepDown.inputs.metadata.annotations["storageclass.kubernetes.io/is-default-class"],
    ).toBe("false");
    expect(stepDown.opts?.retainOnDelete).toBe(true);
    expect((patch.opts?.dependsOn as any[]).map((d) => d.__name)).toContain(stepDown.name);
    const storageClass = ofType("kubernetes:storage.k8s.io/v1:StorageClass")[0];
    expect(storageClass.inputs).toMatchObject({
      provisioner: "csi.neuronsan.io",
      reclaimPolicy: "Retain",
    });
  });

  it("does not patch anything when makeDefault is off", async () => {
    await run("local", (raw) => (raw.storage.makeDefault = false));
    expect(ofType("kubernetes:storage.k8s.io/v1:StorageClassPatch")).toHaveLength(0);
  });

  it("refuses to step down the new class itself", () => {
    const raw = structuredClone(rawConfig("local")) as any;
    raw.storage.previousDefaultClass = "neuronsan";
    expect(
      () =>
        new migrationModule.Migration("bad-storage", { config: configFrom(raw), now: sampleNow }),
    ).toThrow(
      'ferry:storage.previousDefaultClass: names the new class "neuronsan" itself; set it to the class that is the default today, or leave it out',
    );
  });
});

describe("the destination database", () => {
  it("puts its data on a retained PVC of the new class", async () => {
    await run("local");
    const pvc = named("-database-data");
    expect(pvc.inputs.spec).toEqual({
      storageClassName: "neuronsan",
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "10Gi" } },
    });
    // No beta storage-class annotation; the claim is not awaited, since a kept one is adopted Bound.
    expect(pvc.inputs.metadata.annotations).toEqual({ "pulumi.com/skipAwait": "true" });
    expect(pvc.opts?.retainOnDelete).toBe(true);
    expect(named("-database-namespace").opts?.retainOnDelete).toBe(true);
    // The storage the volume lives on stays too: its releases and its class.
    for (const suffix of ["-storage-crds", "-storage-system", "-storage-csi", "-storage-class"])
      expect(named(suffix).opts?.retainOnDelete, suffix).toBe(true);
  });

  it("lets the data go on destroy only when retainData is false", async () => {
    await run("local", (raw) => (raw.migration.retainData = false));
    expect(named("-database-data").opts?.retainOnDelete).toBe(false);
    expect(named("-database-namespace").opts?.retainOnDelete).toBe(false);
    for (const suffix of ["-storage-crds", "-storage-system", "-storage-csi", "-storage-class"])
      expect(named(suffix).opts?.retainOnDelete, suffix).toBe(false);
  });

  it("holds the root password to the one the server was created with, by a digest kept as a secret, before the dump and the database", async () => {
    await run("local");
    const check = named("-root-password-kept-check");
    expect(check.inputs).toEqual(
      expect.objectContaining({
        create: 'printf "%s" "$KEPT_DIGEST"',
        triggers: ["ferry", "mysql", "neuronsan"],
        addPreviousOutputInEnv: true,
      }),
    );
    // Its update, run as the provider runs it: the same digest passes, another is refused.
    const update = (previous: string) =>
      spawnSync("sh", ["-c", check.inputs.update], {
        encoding: "utf8",
        env: { KEPT_DIGEST: "d1", KEPT_REFUSAL: "refused: why", PULUMI_COMMAND_STDOUT: previous },
      });
    expect([update("d1").status, update("d1").stdout, update("d1").stderr]).toEqual([0, "d1", ""]);
    expect([update("d0").status, update("d0").stdout, update("d0").stderr]).toEqual([
      1,
      "",
      "refused: why\n",
    ]);
    expect(update("").status).toBe(1);
    // The environment is a secret: it holds the digest.
    const environment = revealSecret(check.inputs.environment);
    expect(environment.KEPT_DIGEST).toMatch(/^[0-9a-f]{64}$/);
    expect(environment.KEPT_REFUSAL).toBe(rootPasswordRefusal);
    expect(environment.KEPT_REFUSAL).toContain(
      "pulumi config set --secret destinationRootPassword",
    );
    // Neither the password nor its bare sha256 is in the state.
    const text = JSON.stringify(check.inputs);
    expect(text).not.toContain(secretValues.destinationRootPassword);
    expect(text).not.toContain(
      createHash("sha256").update(secretValues.destinationRootPassword).digest("hex"),
    );
    expect(check.opts?.additionalSecretOutputs).toEqual(["stdout"]);
  });

  it("runs the configured image with its password from a Secret file and a readiness probe", async () => {
    await run("local");
    const deployment = named("-database-server");
    const container = deployment.inputs.spec.template.spec.containers[0];
    expect(container.image).toBe("mariadb:10.11");
    expect(container.env).toEqual([
      { name: "MYSQL_ROOT_PASSWORD_FILE", value: "/var/run/ferry/secrets/root-password" },
    ]);
    expect(container.readinessProbe.exec.command.join(" ")).toContain("ping");
    // Room for a BLOB written as hex, and stored functions accepted as dumped with a binary log.
    expect(container.args).toEqual([
      "--max-allowed-packet=1073741824",
      "--log-bin-trust-function-creators=1",
      // TLS with the run's certificate, required of every TCP session.
      "--ssl-ca=/var/run/ferry/tls/ca.crt",
      "--ssl-cert=/var/run/ferry/tls/tls.crt",
      "--ssl-key=/var/run/ferry/tls/tls.key",
      "--require-secure-transport=ON",
    ]);
    expect(deployment.inputs.spec.strategy).toEqual({ type: "Recreate" });
    expect(JSON.stringify(deployment.inputs)).not.toContain(secretValues.destinationRootPassword);
  });
});

describe("TLS to the database ferry runs", () => {
  it("has a Job make and keep the certificate in the namespace, and restarts the server when it changes", async () => {
    const { migration } = await run("local");
    // No key of the server's TLS passes through the program: no Secret of it is declared.
    expect(ofType("kubernetes:core/v1:Secret").map((r) => r.name)).not.toContainEqual(
      expect.stringMatching(/tls/),
    );
    const job = named("-database-tls-job");
    const pod = job.inputs.spec.template.spec;
    expect(job.inputs.metadata.name).toBe(`ferry-certificates-${renewalWindow(sampleNow, 365)}`);
    expect(pod.automountServiceAccountToken).toBe(true);
    // The account the Role is bound to (the mocks name it after the resource).
    expect(pod.serviceAccountName).toMatch(/-database-tls-account-generated$/);
    expect(named("-database-tls-binding").inputs.subjects).toEqual([
      { kind: "ServiceAccount", name: pod.serviceAccountName, namespace: "ferry" },
    ]);
    expect(named("-database-tls-job").opts?.deleteBeforeReplace).toBe(true);
    expect(pod.containers[0].command).toEqual(["ferry-dataplane", "certificates"]);
    expect(pod.containers[0].env).toEqual(
      expect.arrayContaining([
        {
          name: "CERT_NAMES",
          value: "mysql mysql.ferry mysql.ferry.svc mysql.ferry.svc.cluster.local",
        },
        { name: "CERT_KEY_TYPE", value: "ecdsa-p256" },
        { name: "CERT_VALIDITY_DAYS", value: "365" },
        { name: "CERT_SERVER_SECRET", value: "mysql-server-tls" },
      ]),
    );
    // Its account may touch its three objects only; it reaches the API server's endpoints only.
    expect(named("-database-tls-role").inputs.rules).toEqual(
      certificatesRoleRules(certificateObjects("mysql")),
    );
    expect(named("-database-tls-egress").inputs.spec.egress).toEqual([
      { to: [{ ipBlock: { cidr: "10.88.0.1/32" } }], ports: [{ protocol: "TCP", port: 6443 }] },
    ]);
    // The public ConfigMap is read after the Job; the server mounts the Job's Secret and restarts
    // when the certificate's fingerprint changes.
    const read = registered.find(
      (r) => r.type === "kubernetes:core/v1:ConfigMap" && r.readId !== undefined,
    )!;
    expect(read.readId).toBe("ferry/mysql-ca");
    const template = named("-database-server").inputs.spec.template;
    expect(template.spec.volumes).toContainEqual({
      name: "tls",
      secret: { secretName: "mysql-server-tls", defaultMode: 0o440 },
    });
    expect(template.metadata.annotations["ferry.dev/tls-certificate-sha256"]).toBe(
      sampleTlsPublic["server.crt.sha256"],
    );
    // What applications trust, as a stack output: the CA, not a secret.
    expect(await settle(migration.databaseCaCertificate)).toBe(sampleTlsPublic["ca.crt"]);
    expect(await pulumi.isSecret(migration.databaseCaCertificate)).toBe(false);
  });

  it("takes the certificate's key type and lifetime from destination.tls", async () => {
    await run("local", (raw) => (raw.destination.tls = { keyType: "ed25519", validityDays: 30 }));
    const job = named("-database-tls-job");
    expect(job.inputs.metadata.name).toBe(`ferry-certificates-${renewalWindow(sampleNow, 30)}`);
    expect(job.inputs.spec.template.spec.containers[0].env).toEqual(
      expect.arrayContaining([
        { name: "CERT_KEY_TYPE", value: "ed25519" },
        { name: "CERT_VALIDITY_DAYS", value: "30" },
      ]),
    );
  });

  it("has the import and verification verify it: the CA only, never the server's key", async () => {
    await run("kubernetes");
    for (const suffix of ["-import-job", "-verification-job"]) {
      const pod = named(suffix).inputs.spec.template.spec;
      const env = pod.containers[0].env as { name: string; value: string }[];
      expect(env, suffix).toContainEqual({ name: "DEST_TLS", value: "verify-identity" });
      expect(env, suffix).toContainEqual({
        name: "DEST_TLS_CA_FILE",
        value: "/var/run/ferry/secrets/ca.crt",
      });
      const projected = JSON.stringify(pod.volumes);
      expect(projected, suffix).toContain('"key":"ca.crt"');
      expect(projected, suffix).not.toContain("tls.key");
    }
  });

  it("gives the dump the source's TLS mode and CA, and an existing server's to the Jobs", async () => {
    const ca = testCertificates(["db"]).caCertificate;
    const existingSecrets = {
      ...secretsWithout("destinationRootPassword"),
      destinationPassword: "their-pw-T1",
    };
    await run(
      "kubernetes",
      (raw) => {
        raw.source.tls = { mode: "verify-ca", caCert: ca };
        raw.destination.database = {
          mode: "existing",
          host: "mariadb.apps.svc",
          user: "ferry",
          tls: { mode: "verify-identity", caCert: ca },
        };
      },
      existingSecrets,
    );
    const dumpEnv = named("-dump-job").inputs.spec.template.spec.containers[0].env;
    expect(dumpEnv).toContainEqual({ name: "SOURCE_TLS", value: "verify-ca" });
    expect(dumpEnv).toContainEqual({
      name: "SOURCE_TLS_CA_FILE",
      value: "/var/run/ferry/secrets/ca.crt",
    });
    expect(revealSecret(named("-dump-credentials").inputs.stringData)).toMatchObject({
      "ca.crt": ca,
    });
    const importEnv = named("-import-job").inputs.spec.template.spec.containers[0].env;
    expect(importEnv).toContainEqual({ name: "DEST_TLS", value: "verify-identity" });
    expect(revealSecret(named("-database-credentials").inputs.stringData)).toMatchObject({
      "ca.crt": ca,
    });
  });
});

describe("jobs", () => {
  it("names each Job from the run id, with timeouts and failure messages from the logs", async () => {
    await run("kubernetes");
    // The steps' Jobs; the certificates' and the dump credentials' removal run the program
    // itself, and have tests of their own.
    const jobs = ofType("kubernetes:batch/v1:Job").filter(
      (j) => !/-(tls|forget)-job$/.test(j.name),
    );
    expect(jobs.map((j) => j.inputs.metadata.name).sort()).toEqual([
      "ferry-cleanup-run-1",
      "ferry-dump-run-1",
      "ferry-import-run-1",
      "ferry-preflight-run-1",
      "ferry-verify-run-1",
    ]);
    for (const job of jobs) {
      const container = job.inputs.spec.template.spec.containers[0];
      expect(container.terminationMessagePolicy).toBe("FallbackToLogsOnError");
      expect(container.command).toEqual([
        "/bin/sh",
        expect.stringMatching(/^\/opt\/ferry\/[a-z]+\.sh$/),
      ]);
      expect(container.args).toBeUndefined();
      expect(job.opts?.deleteBeforeReplace).toBe(true);
    }
    // Pulumi waits two minutes past each Job's deadline, so that the Job's own failure (its
    // deadline passed, named by the step) ends the wait rather than a bare timeout.
    // The import follows the dump from its start: its deadline is the dump's and its own.
    const deadlines = [
      ["-import-job", 60 + 120, "importTimeoutMinutes"],
      ["-dump-job", 60, "dumpTimeoutMinutes"],
      ["-verification-job", 60, "verifyTimeoutMinutes"],
    ] as const;
    for (const [job, minutes, key] of deadlines) {
      const { spec } = named(job).inputs;
      expect(spec.activeDeadlineSeconds).toBe(minutes * 60);
      expect(named(job).opts?.customTimeouts).toEqual({
        create: `${minutes + 2}m`,
        update: `${minutes + 2}m`,
      });
      expect(spec.template.spec.containers[0].env).toContainEqual({
        name: "STEP_DEADLINE_KEY",
        value: `ferry:migration.${key}`,
      });
    }
    expect(named("-import-job").inputs.spec.template.spec.containers[0].env).toContainEqual({
      name: "STEP_DEADLINE_WITH",
      value: "ferry:migration.dumpTimeoutMinutes",
    });
  });

  it("passes secrets as mounted files, never as values", async () => {
    await run("kubernetes");
    for (const job of ofType("kubernetes:batch/v1:Job")) {
      const text = JSON.stringify(job.inputs);
      for (const secret of Object.values(secretValues)) expect(text).not.toContain(secret);
      expect(text).not.toContain("generated-user-secret");
      const env = job.inputs.spec.template.spec.containers[0].env as {
        name: string;
        value: string;
      }[];
      for (const variable of env.filter((e) => e.name.endsWith("_FILE"))) {
        expect(variable.value).toMatch(/^\/var\/run\/ferry\/secrets\//);
      }
    }
    const importEnv = named("-import-job").inputs.spec.template.spec.containers[0].env;
    expect(importEnv).toEqual(
      expect.arrayContaining([
        { name: "DEST_HOST", value: "mysql" },
        { name: "RUN_ID", value: "run-1" },
        { name: "OVERWRITE", value: "false" },
        { name: "STRIP_DEFINERS", value: "false" },
        { name: "WRITE_BINLOG", value: "false" },
        // It follows the dump, which states itself within seconds of its start.
        { name: "FOLLOW_DUMP", value: "true" },
        { name: "FOLLOW_WAIT_SECONDS", value: String(10 * 60) },
        // The destination records which stack a run id belongs to.
        { name: "FERRY_STACK", value: `${pulumi.getProject()}/${pulumi.getStack()}` },
        { name: "S3_BUCKET", value: "ferry-abc123" },
        { name: "DEST_PASSWORD_FILE", value: "/var/run/ferry/secrets/root-password" },
        { name: "S3_SECRET_KEY_FILE", value: "/var/run/ferry/secrets/s3-secret-key" },
      ]),
    );
  });

  it("waits for the dump to begin 10 minutes at most, or the dump's own timeout if shorter", async () => {
    const followWait = () =>
      (
        named("-import-job").inputs.spec.template.spec.containers[0].env as {
          name: string;
          value: string;
        }[]
      ).find((e) => e.name === "FOLLOW_WAIT_SECONDS")?.value;
    await run("kubernetes", (raw) => (raw.migration.dumpTimeoutMinutes = 3));
    expect(followWait()).toBe(String(3 * 60));
    resetRegistered();
    await run("kubernetes", (raw) => (raw.migration.dumpTimeoutMinutes = 240));
    expect(followWait()).toBe(String(10 * 60));
  });

  it("replaces the Jobs when the run id changes", async () => {
    await run("kubernetes", (raw) => (raw.migration.runId = "run-2"));
    expect(
      ofType("kubernetes:batch/v1:Job")
        .map((j) => j.inputs.metadata.name)
        .sort(),
    ).toEqual([
      // Not the run's: the certificates outlive it.
      `ferry-certificates-${renewalWindow(sampleNow, 365)}`,
      "ferry-cleanup-run-2",
      "ferry-dump-run-2",
      "ferry-forget-run-2",
      "ferry-import-run-2",
      "ferry-preflight-run-2",
      "ferry-verify-run-2",
    ]);
  });

  it("names every object within Kubernetes' limits, with the longest Service name and run id the config takes", async () => {
    await run("kubernetes", (raw) => {
      raw.destination.serviceName = `s${"x".repeat(62)}`;
      raw.migration.runId = `r${"1".repeat(39)}`;
    });
    const kubernetes = registered.filter(
      (r) => r.type.startsWith("kubernetes:") && r.readId === undefined,
    );
    expect(kubernetes.length).toBeGreaterThan(20);
    for (const object of kubernetes) {
      const name = object.inputs.metadata?.name;
      if (typeof name !== "string") continue;
      // A Job's name becomes a label of its pods, a Service's a DNS label: 63 at most.
      const limit = /:(Job|Service)$/.test(object.type) ? 63 : 253;
      expect(name.length, `${object.type} ${name}`).toBeLessThanOrEqual(limit);
    }
  });

  it("passes overwrite and keepDump through", async () => {
    await run("local", (raw) => Object.assign(raw.migration, { overwrite: true, keepDump: true }));
    const env = (suffix: string) => named(suffix).inputs.spec.template.spec.containers[0].env;
    expect(env("-import-job")).toContainEqual({ name: "OVERWRITE", value: "true" });
    expect(env("-cleanup-job")).toContainEqual({ name: "KEEP_DUMP", value: "true" });
  });

  it("gives the dump its chunk size", async () => {
    await run("kubernetes", (raw) => (raw.migration.chunkMiB = 4));
    expect(named("-dump-job").inputs.spec.template.spec.containers[0].env).toContainEqual({
      name: "CHUNK_MIB",
      value: "4",
    });
  });
});

describe("secrets", () => {
  it("keeps Secret data and the data plane's key secret", async () => {
    const { migration } = await run("kubernetes");
    const secrets = ofType("kubernetes:core/v1:Secret");
    expect(secrets).toHaveLength(3);
    for (const secret of secrets)
      expect(isSecretInput(secret.inputs.stringData), secret.name).toBe(true);
    // The root password lives in one Secret, the database's; the Jobs' Secret holds the bucket key.
    expect(revealSecret(named("-database-credentials").inputs.stringData)).toEqual({
      "root-password": secretValues.destinationRootPassword,
    });
    expect(revealSecret(named("-jobs-bucket-key").inputs.stringData)).toEqual({
      "s3-secret-key": "generated-user-secret",
      "s3-cleanup-secret-key": "generated-user-secret",
      "run-key": sampleRunKey,
    });
    const importVolumes = named("-import-job").inputs.spec.template.spec.volumes;
    expect(importVolumes[1].projected.sources.map((s: any) => s.secret.items[0].key)).toEqual([
      "root-password",
      // The CA of the server's certificate, from its TLS Secret: never the server's key.
      "ca.crt",
      "s3-secret-key",
      "run-key",
    ]);
    expect(await pulumi.isSecret(migration.report)).toBe(false);
  });

  it("feeds the ssh and local dumps their secrets on stdin, never on the command line", async () => {
    await run("ssh");
    const ssh = ofType("command:remote:Command")[0];
    expect(ssh.inputs.create).toBe("sh -s");
    // Set in the step's shell, never exported: no child inherits it (lib.sh moves it into a file).
    expect(revealSecret(ssh.inputs.stdin)).toContain(
      `\nSOURCE_PASSWORD='${secretValues.sourcePassword}'\n`,
    );
    expect(revealSecret(ssh.inputs.stdin)).not.toContain("export SOURCE_PASSWORD");
    expect(revealSecret(ssh.inputs.connection).privateKey).toBe(secretValues.sshPrivateKey);
    expect(revealSecret(ssh.inputs.connection).hostKey).toBe(sampleHostKey);
    expect(ssh.inputs.triggers).toEqual(["run-1"]);
    resetRegistered();
    await run("local");
    const local = ofType("command:local:Command").find((c) => c.name.endsWith("-dump-local"))!;
    expect(local.inputs.create).toBe("sh -s");
    expect(local.inputs.environment).toBeUndefined();
    expect(revealSecret(local.inputs.stdin)).toContain("S3_SECRET_KEY='generated-user-secret'");
  });
});

describe("an existing destination database", () => {
  const existingSecrets = {
    ...secretsWithout("destinationRootPassword"),
    destinationPassword: "their-pw-E5",
  };
  const existing = (raw: any) =>
    (raw.destination.database = { mode: "existing", host: "mariadb.apps.svc", user: "ferry" });

  it("declares nothing of the server: no database Deployment, Service or data volume", async () => {
    const { report } = await run("local", existing, existingSecrets);
    const counts = countByType();
    expect(counts["ferry:components:DestinationDatabase"] ?? 0).toBe(0);
    expect(counts["ferry:components:ExistingDatabase"]).toBe(1);
    // Its root password is its owner's: nothing holds it.
    expect(counts["ferry:components:RootPasswordKept"] ?? 0).toBe(0);
    // What remains is the read/write test's Deployment and volume, on the new class.
    expect(counts["kubernetes:apps/v1:Deployment"]).toBe(1);
    expect(counts["kubernetes:core/v1:PersistentVolumeClaim"]).toBe(1);
    expect(counts["kubernetes:core/v1:Service"] ?? 0).toBe(0);
    expect(ofType("kubernetes:core/v1:Namespace")[0].opts?.retainOnDelete ?? false).toBe(false);
    expect(report.destination).toEqual({
      mode: "existing",
      server: "mariadb.apps.svc:3306",
      user: "ferry",
      jobsNamespace: "ferry",
    });
    expect(report.dataKeptOnDestroy).toBe(true);
  });

  it("logs the import and verification in as its user, with its password from a Secret", async () => {
    await run("local", existing, existingSecrets);
    const secret = named("-database-credentials");
    expect(revealSecret(secret.inputs.stringData)).toEqual({ password: "their-pw-E5" });
    for (const step of ["-import-job", "-verification-job"]) {
      const pod = named(step).inputs.spec.template.spec;
      const env = Object.fromEntries(
        pod.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]),
      );
      expect([env.DEST_HOST, env.DEST_PORT, env.DEST_USER]).toEqual([
        "mariadb.apps.svc",
        "3306",
        "ferry",
      ]);
      const keys = pod.volumes[1].projected.sources.map((s: any) => s.secret.items[0].key);
      expect(keys).toContain("password");
      expect(keys).not.toContain("root-password");
    }
  });
});

/** The DNS egress rule of a cluster with the default dnsPods: kube-system's kube-dns pods, port 53. */
const kubeDnsEgress = {
  to: [
    {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
      podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
    },
  ],
  ports: [
    { protocol: "UDP", port: 53 },
    { protocol: "TCP", port: 53 },
  ],
};

describe("live mode", () => {
  const live = (raw: Record<string, any>) => {
    raw.migration.mode = "live";
    raw.migration.live = { sourceHost: "10.90.0.2", sourcePort: 30306, replicationUser: "repl" };
    raw.source.tls = { mode: "verify-identity", caCert: sampleSourceCa };
  };
  const liveSecrets = { ...secretValues, sourceReplicationPassword: "repl-pw-R5" };
  /** Live mode with the cutover asked for. */
  const liveCutOver = (raw: Record<string, any>) => {
    live(raw);
    raw.migration.cutover = true;
  };

  it("makes the server it runs a replica-to-be: its own server id, relay logs under a fixed name, the source's CA mounted, read-only whenever it starts until the cutover", async () => {
    await run("local", live, liveSecrets);
    const server = named("-database-server").inputs.spec.template.spec;
    const args = server.containers[0].args as string[];
    expect(args).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^--server-id=\d+$/),
        "--relay-log=ferry-relay-bin",
        "--init-file=/var/run/ferry/replica/init.sql",
      ]),
    );
    const serverId = Number(args.find((a) => a.startsWith("--server-id="))!.split("=")[1]);
    expect(serverId).toBeGreaterThan(1);
    const replica = named("-database-replica");
    expect(replica.inputs.data).toEqual({
      "source-ca.crt": sampleSourceCa,
      "init.sql":
        "SET GLOBAL read_only = ON;\n" +
        "SET GLOBAL read_only = (SELECT COUNT(*) FROM ferry.runs WHERE state = 'replicating') > 0 OR (SELECT COUNT(*) FROM ferry.runs WHERE state = 'cut over') = 0;\n",
    });
    // Mounted whole, not by subPath: a changed init file reaches the pod without a restart.
    expect(server.volumes).toContainEqual({
      name: "replica",
      configMap: { name: `${replica.name}-generated` },
    });
    expect(server.containers[0].volumeMounts).toContainEqual({
      name: "replica",
      mountPath: "/var/run/ferry/replica",
      readOnly: true,
    });
  });

  it("with the cutover asked for, changes nothing of the server: its ConfigMap's data (a change would be a new ConfigMap, and a restart mid-cutover) and its pod as they were", async () => {
    // The pod's spec, but for the generated names, which each run of the harness draws anew.
    const podSpec = () =>
      JSON.stringify(named("-database-server").inputs.spec.template.spec).replace(
        /m-local-[a-z0-9]+-/g,
        "",
      );
    await run("local", live, liveSecrets);
    const before = podSpec();
    const dataBefore = named("-database-replica").inputs.data;
    registered.length = 0;
    await run("local", liveCutOver, liveSecrets);
    expect(named("-database-replica").inputs.data).toEqual(dataBefore);
    expect(podSpec()).toBe(before);
  });

  it("replicates once the import is verified: a Job with the source's address and account, its password and CA as files; the report waits for it", async () => {
    const { report } = await run("local", live, liveSecrets);
    const job = named("-replication-job");
    expect(job.inputs.metadata.name).toBe("ferry-replicate-run-1");
    const container = job.inputs.spec.template.spec.containers[0];
    expect(container.command).toEqual(["/bin/sh", "/opt/ferry/replicate.sh"]);
    expect(container.env).toEqual(
      expect.arrayContaining([
        { name: "REPL_HOST", value: "10.90.0.2" },
        { name: "REPL_PORT", value: "30306" },
        { name: "REPL_USER", value: "repl" },
        { name: "REPL_CA_FILE", value: "/var/run/ferry/replica/source-ca.crt" },
        { name: "REPL_TLS", value: "verify-identity" },
        { name: "REPL_CHECK_SECONDS", value: "30" },
        // This up's time: a Job's pod never changes, so the Job is replaced and runs again on
        // every up before the cutover.
        { name: "REPL_CHECK_REQUESTED_AT", value: sampleNow.toISOString() },
        { name: "REPL_PASSWORD_FILE", value: "/var/run/ferry/secrets/replication-password" },
        { name: "SOURCE_TLS_CA_FILE", value: "/var/run/ferry/secrets/source-ca.crt" },
        {
          name: "DEST_PASSWORD_FILE",
          value: expect.stringMatching(/^\/var\/run\/ferry\/secrets\//),
        },
      ]),
    );
    expect(JSON.stringify(job.inputs)).not.toContain("repl-pw-R5");
    expect(revealSecret(named("-replication-source-credentials").inputs.stringData)).toEqual({
      "replication-password": "repl-pw-R5",
      "source-ca.crt": sampleSourceCa,
    });
    const after = (suffix: string) =>
      ((named(suffix).opts?.dependsOn as any[]) ?? []).map((d) => d.__name);
    expect(after("-replication")).toEqual([expect.stringMatching(/-verification$/)]);
    expect(after("-report")).toContainEqual(expect.stringMatching(/-replication$/));
    // The report states what the step recorded in the bucket, read again when the stage changes
    // and, while it replicates, on every up (the step ran again in it).
    expect(named("-report-read").inputs.triggers).toEqual([
      "run-1",
      "replicating",
      sampleNow.toISOString(),
    ]);
    expect(report.live).toBe(
      "replicating from 10.90.0.2:30306: 3 transactions behind at 2026-11-24T15:23:00Z (1 s by the replica's estimate); cut over with ferry:migration.cutover true",
    );
    // The database's pods and live mode's Jobs reach the source, by its address.
    expect(named("-replication-source-egress").inputs.spec).toEqual({
      podSelector: {
        matchExpressions: [
          { key: "app.kubernetes.io/part-of", operator: "In", values: ["ferry"] },
          {
            key: "app.kubernetes.io/component",
            operator: "In",
            values: ["database", "reach", "replicate", "cutover"],
          },
        ],
      },
      policyTypes: ["Egress"],
      egress: [
        { to: [{ ipBlock: { cidr: "10.90.0.2/32" } }], ports: [{ protocol: "TCP", port: 30306 }] },
      ],
    });
  });

  it("checks the way to the source from the destination beside the dump, and the import waits for it: a Job as the replication account, its password and CA as files, nothing of the run (no database password, bucket key or run key)", async () => {
    await run("local", live, liveSecrets);
    const job = named("-replication-source-job");
    expect(job.inputs.metadata.name).toBe("ferry-reach-run-1");
    const container = job.inputs.spec.template.spec.containers[0];
    expect(container.command).toEqual(["/bin/sh", "/opt/ferry/reach.sh"]);
    const env = Object.fromEntries(
      (container.env as { name: string; value: string }[]).map((e) => [e.name, e.value]),
    );
    expect(env).toEqual({
      RUN_ID: "run-1",
      REPL_HOST: "10.90.0.2",
      REPL_PORT: "30306",
      REPL_USER: "repl",
      REPL_CA_FILE: "/var/run/ferry/replica/source-ca.crt",
      REPL_TLS: "verify-identity",
      REPL_PASSWORD_FILE: "/var/run/ferry/secrets/replication-password",
      SOURCE_TLS_CA_FILE: "/var/run/ferry/secrets/source-ca.crt",
      // Every Job's own.
      HOME: "/tmp",
      TMPDIR: "/tmp",
      STEP_DEADLINE_SECONDS: "300",
    });
    expect(JSON.stringify(job.inputs)).not.toContain("repl-pw-R5");
    const after = (suffix: string) =>
      ((named(suffix).opts?.dependsOn as any[]) ?? []).map((d) => d.__name);
    // Beside the dump: it waits for the namespace's Jobs' shared parts, not for the dump.
    expect(after("-replication-source")).toEqual([expect.stringMatching(/-jobs$/)]);
    expect(after("-import")).toContainEqual(expect.stringMatching(/-replication-source$/));
    // No hooks: it turns no bucket user on.
    expect(named("-replication-source-job").opts?.hooks).toBeUndefined();
  });

  it("with migration.cutover, moves the writes once the destination replicates: a Job with the source's address, its account for read_only, its password and CA as files; the report waits for it", async () => {
    const { report } = await run("local", liveCutOver, liveSecrets);
    const job = named("-cutover-job");
    expect(job.inputs.metadata.name).toBe("ferry-cutover-run-1");
    expect(job.inputs.spec.backoffLimit).toBe(0);
    const container = job.inputs.spec.template.spec.containers[0];
    expect(container.command).toEqual(["/bin/sh", "/opt/ferry/cutover.sh"]);
    expect(container.env).toEqual(
      expect.arrayContaining([
        { name: "SOURCE_HOST", value: "10.90.0.2" },
        { name: "SOURCE_PORT", value: "30306" },
        { name: "SOURCE_USER", value: "dumper" },
        { name: "SOURCE_TLS", value: "verify-identity" },
        { name: "SOURCE_PASSWORD_FILE", value: "/var/run/ferry/secrets/source-password" },
        { name: "SOURCE_TLS_CA_FILE", value: "/var/run/ferry/secrets/source-ca.crt" },
      ]),
    );
    expect(JSON.stringify(job.inputs)).not.toContain(secretValues.sourcePassword);
    // Once the cutover is asked for, the replication step is not run again by every up.
    const replicationEnv = named("-replication-job").inputs.spec.template.spec.containers[0]
      .env as { name: string }[];
    expect(replicationEnv.map((e) => e.name)).not.toContain("REPL_CHECK_REQUESTED_AT");
    const after = (suffix: string) =>
      ((named(suffix).opts?.dependsOn as any[]) ?? []).map((d) => d.__name);
    expect(after("-cutover")).toEqual([expect.stringMatching(/-replication$/)]);
    expect(after("-report")).toContainEqual(expect.stringMatching(/-cutover$/));
    // The cutover's up reads the report again: it states the cutover, not the replication before.
    expect(named("-report-read").inputs.triggers).toEqual(["run-1", "cut over"]);
    expect(report.live).toBe(
      "cut over from 10.90.0.2:30306 at 2026-11-24T15:30:00Z (position 0-1-57): no write accepted anywhere for 412 ms; both sides equal at the switch: 2 tables, 9 rows",
    );
  });

  describe("the applications' Service (migration.live.applicationService)", () => {
    const withService = (cutover: boolean) => (raw: Record<string, any>) => {
      live(raw);
      raw.migration.live.applicationService = { name: "ledger-db" };
      raw.migration.cutover = cutover;
    };
    const serverSelector = () =>
      ofType("kubernetes:core/v1:Service").find((s) => s.inputs.metadata.name === "mysql")!.inputs
        .spec.selector;
    const after = (suffix: string) =>
      ((named(suffix).opts?.dependsOn as any[]) ?? []).map((d) => d.__name);

    it("until the cutover sends the applications to the source once the destination replicates: no selector, ferry's slice listing sourceHost:sourcePort; kept on destroy; the server's certificate names it", async () => {
      await run("local", withService(false), liveSecrets);
      const service = named("-application-service-service");
      expect(service.inputs).toEqual({
        apiVersion: "v1",
        kind: "Service",
        metadata: {
          name: "ledger-db",
          namespace: "ferry",
          labels: {
            "app.kubernetes.io/part-of": "ferry",
            "app.kubernetes.io/component": "application-service",
          },
          annotations: { "pulumi.com/patchForce": "true" },
        },
        spec: { ports: [{ name: "mysql", protocol: "TCP", port: 3306, targetPort: 3306 }] },
      });
      const slice = named("-application-service-slice");
      expect(slice.inputs).toEqual({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name: "ledger-db-ferry-source",
          namespace: "ferry",
          labels: {
            "app.kubernetes.io/part-of": "ferry",
            "app.kubernetes.io/component": "application-service",
            "kubernetes.io/service-name": "ledger-db",
            "endpointslice.kubernetes.io/managed-by": "ferry",
          },
          annotations: { "pulumi.com/patchForce": "true" },
        },
        addressType: "IPv4",
        endpoints: [{ addresses: ["10.90.0.2"], conditions: { ready: true } }],
        ports: [{ name: "mysql", protocol: "TCP", port: 30306 }],
      });
      for (const kept of [service, slice]) expect(kept.opts?.retainOnDelete).toBe(true);
      // Stated after the replication step, which refuses a run cut over: a config back to no
      // cutover never sends it back to the read-only source.
      expect(after("-application-service")).toEqual([expect.stringMatching(/-replication$/)]);
      const certificateNames = named(
        "-database-tls-job",
      ).inputs.spec.template.spec.containers[0].env.find(
        (e: { name: string }) => e.name === "CERT_NAMES",
      ).value;
      expect(certificateNames.split(" ")).toEqual([
        "mysql",
        "mysql.ferry",
        "mysql.ferry.svc",
        "mysql.ferry.svc.cluster.local",
        "ledger-db",
        "ledger-db.ferry",
        "ledger-db.ferry.svc",
        "ledger-db.ferry.svc.cluster.local",
      ]);
      expect(registered.filter((r) => /cutover/.test(r.name))).toEqual([]);
    });

    it("with the cutover, is switched by the cutover Job (an account that may patch it only) and stated after it: the server's selector, ferry's slice empty", async () => {
      await run("local", withService(true), liveSecrets);
      const pod = named("-cutover-job").inputs.spec.template.spec;
      expect(pod.automountServiceAccountToken).toBe(true);
      expect(pod.serviceAccountName).toBe(`${named("-cutover-api-account").name}-generated`);
      const env = Object.fromEntries(
        (pod.containers[0].env as { name: string; value: string }[]).map((e) => [e.name, e.value]),
      );
      expect(env.APPLICATION_SERVICE).toBe("ledger-db");
      expect(env.APPLICATION_SERVICE_SLICE).toBe("ledger-db-ferry-source");
      // Once the Service selects the destination, the connections held to the source are closed.
      expect(env.CLOSE_SOURCE_SESSIONS).toBe("true");
      // The selector is the server's own Service's: the pods it selects are the server's.
      expect(serverSelector()).toEqual({
        "app.kubernetes.io/part-of": "ferry",
        "app.kubernetes.io/component": "database",
      });
      expect(JSON.parse(env.APPLICATION_SERVICE_SELECTOR)).toEqual(serverSelector());
      expect(named("-cutover-api-role").inputs.rules).toEqual([
        {
          apiGroups: [""],
          resources: ["services"],
          resourceNames: ["ledger-db"],
          verbs: ["patch"],
        },
        {
          apiGroups: ["discovery.k8s.io"],
          resources: ["endpointslices"],
          resourceNames: ["ledger-db-ferry-source"],
          verbs: ["patch"],
        },
      ]);
      // Its pods, and no other, reach the API server.
      expect(named("-cutover-api-egress").inputs.spec.podSelector).toEqual({
        matchLabels: { ...named("-cutover-job").inputs.spec.template.metadata.labels },
      });
      expect(after("-cutover-job")).toEqual([
        expect.stringMatching(/-cutover-api-binding$/),
        expect.stringMatching(/-cutover-api-egress$/),
      ]);
      // Stated once the Job switched it: a cutover rolled back leaves it on the source.
      expect(after("-application-service")).toEqual([expect.stringMatching(/-cutover$/)]);
      expect(named("-application-service-service").inputs.spec).toEqual({
        selector: serverSelector(),
        ports: [{ name: "mysql", protocol: "TCP", port: 3306, targetPort: 3306 }],
      });
      expect(named("-application-service-slice").inputs.endpoints).toBeUndefined();
      expect(named("-application-service-slice").inputs.ports).toEqual([
        { name: "mysql", protocol: "TCP", port: 30306 },
      ]);
    });

    it("lists an IPv6 source as an IPv6 slice's address", async () => {
      await run(
        "local",
        (raw) => {
          withService(false)(raw);
          raw.migration.live.sourceHost = "fd00::2";
        },
        liveSecrets,
      );
      expect(named("-application-service-slice").inputs).toMatchObject({
        addressType: "IPv6",
        endpoints: [{ addresses: ["fd00::2"], conditions: { ready: true } }],
      });
    });

    it("without it, gives the cutover Job no token and no Service to switch", async () => {
      await run("local", liveCutOver, liveSecrets);
      const pod = named("-cutover-job").inputs.spec.template.spec;
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.serviceAccountName).toBeUndefined();
      expect(JSON.stringify(pod)).not.toContain("APPLICATION_SERVICE");
      // Without the Service, a closed connection would reconnect to the source: none is closed.
      expect(JSON.stringify(pod)).not.toContain("CLOSE_SOURCE_SESSIONS");
      expect(registered.filter((r) => /application-service|cutover-api/.test(r.name))).toEqual([]);
    });
  });

  it("has the preflight check the source for the replica: the destination's server id, the copy's longest time", async () => {
    await run("local", live, liveSecrets);
    const preflight = revealSecret(named("-dump-local-preflight").inputs.stdin) as string;
    const serverId = (
      named("-database-server").inputs.spec.template.spec.containers[0].args as string[]
    )
      .find((a) => a.startsWith("--server-id="))!
      .split("=")[1];
    expect(preflight).toContain("LIVE='true'");
    expect(preflight).toContain(`LIVE_DEST_SERVER_ID='${serverId}'`);
    // The dump's, import's and verification's timeouts: 60 + 120 + 60 minutes.
    expect(preflight).toContain("LIVE_COPY_SECONDS='14400'");
    // Without the applications' Service the cutover closes no session: nothing asked of that.
    expect(preflight).not.toContain("LIVE_CLOSES_SESSIONS");
    resetRegistered();
    await run(
      "local",
      (raw) => {
        live(raw);
        raw.migration.live.applicationService = { name: "ledger-db" };
      },
      liveSecrets,
    );
    expect(revealSecret(named("-dump-local-preflight").inputs.stdin)).toContain(
      "LIVE_CLOSES_SESSIONS='true'",
    );
  });

  it("adds nothing in snapshot mode", async () => {
    await run("local");
    expect(registered.filter((r) => /replication|replica|cutover/.test(r.name))).toEqual([]);
    const args = named("-database-server").inputs.spec.template.spec.containers[0].args;
    expect(args.join(" ")).not.toMatch(/server-id|read-only|relay-log/);
    expect(revealSecret(named("-dump-local-preflight").inputs.stdin)).not.toContain("LIVE");
  });
});

describe("the physical method", () => {
  const physical = (raw: Record<string, any>) => (raw.migration.method = "physical");
  const resourceName = (r: pulumi.Resource) => (r as unknown as { __name: string }).__name;

  it.each(["local", "ssh"] as const)(
    "in %s mode: the preflight asks it, the dump, the restore and the import take the method the preflight decided",
    async (mode) => {
      await run(mode, physical);
      const preflight = revealSecret(named(`-dump-${mode}-preflight`).inputs.stdin) as string;
      expect(preflight).toContain("METHOD='physical'");
      // The mock preflight took physical; the dump's program carries its decision.
      expect(revealSecret(named(`-dump-${mode}`).inputs.stdin)).toContain("METHOD='physical'");
      const importEnv = named("-import-job").inputs.spec.template.spec.containers[0].env;
      expect(importEnv).toContainEqual({ name: "METHOD", value: "physical" });
    },
  );

  it("restores before the server starts: a Job on the data volume, beside the dump, as the server's user, its secrets as files, its way to the store in place first; the server's Deployment after it", async () => {
    await run("local", physical);
    const job = named("-database-restore-job");
    expect(job.inputs.metadata.name).toBe("ferry-restore-run-1");
    const pod = job.inputs.spec.template.spec;
    const server = named("-database-server");
    expect(pod.securityContext).toEqual(server.inputs.spec.template.spec.securityContext);
    const restore = pod.containers[0];
    expect(restore.image).toBe("ferry/tools:1");
    expect(restore.command).toEqual(["/bin/sh", "/opt/ferry/restore.sh"]);
    const env = Object.fromEntries(
      (restore.env as { name: string; value: string }[]).map((e) => [e.name, e.value]),
    );
    expect(env).toMatchObject({
      METHOD: "physical",
      RUN_ID: "run-1",
      DATA_DIR: "/var/lib/mysql",
      DEST_USER: "root",
      DEST_ACCOUNT_HOST: "%",
      DEST_PASSWORD_FILE: "/var/run/ferry/secrets/root-password",
      S3_SECRET_KEY_FILE: "/var/run/ferry/secrets/s3-secret-key",
      RUN_KEY_FILE: "/var/run/ferry/secrets/run-key",
      S3_BUCKET: "ferry-abc123",
      FOLLOW_DUMP: "true",
      FOLLOW_WAIT_SECONDS: "3600",
      MANIFEST_WAIT_SECONDS: "3600",
      // A quarter of destination.memory (1Gi by default).
      PREPARE_MEMORY_MIB: "256",
      STEP_DEADLINE_SECONDS: String((60 + 120) * 60),
    });
    // No secret as a value: the bucket's and the run's keys and the password are files only.
    for (const value of Object.values(env)) {
      expect(value).not.toMatch(/generated-user-secret|pw|[0-9a-f]{64}/);
    }
    // The server's own data directory, as the server mounts it.
    const serverMount = server.inputs.spec.template.spec.containers[0].volumeMounts.find(
      (m: any) => m.name === "data",
    );
    expect(restore.volumeMounts).toContainEqual(serverMount);
    const serverClaim = server.inputs.spec.template.spec.volumes.find(
      (v: any) => v.name === "data",
    );
    expect(pod.volumes).toContainEqual(serverClaim);
    const secrets = pod.volumes.find((v: any) => v.name === "secrets").projected;
    expect(secrets.sources.map((s: any) => s.secret.items.map((i: any) => i.key))).toEqual([
      ["root-password"],
      ["s3-secret-key"],
      ["run-key"],
    ]);
    const restoreSecret = named("-database-restore");
    expect(isSecretInput(restoreSecret.inputs.stringData)).toBe(true);
    expect(revealSecret(restoreSecret.inputs.stringData)).toEqual({
      "s3-secret-key": "generated-user-secret",
      "run-key": sampleRunKey,
    });
    // The Job's pods reach the store (and DNS) by a policy made before it; the server's pod
    // starts after the Job, and has no restore of its own.
    const egress = named("-database-restore-egress");
    expect(egress.inputs.spec.podSelector).toEqual({
      matchLabels: {
        "app.kubernetes.io/part-of": "ferry",
        "app.kubernetes.io/component": "restore",
      },
    });
    expect(job.inputs.spec.template.metadata.labels).toMatchObject(
      egress.inputs.spec.podSelector.matchLabels,
    );
    expect(egress.inputs.spec.egress[1]).toEqual({ ports: [{ protocol: "TCP", port: 9000 }] });
    const dependsOn = (r: { opts?: pulumi.CustomResourceOptions }) =>
      ((r.opts?.dependsOn as pulumi.Resource[]) ?? []).map(resourceName);
    expect(dependsOn(job)).toContain(egress.name);
    expect(dependsOn(server)).toContain(job.name);
    expect(server.inputs.spec.template.spec.initContainers).toBeUndefined();
    expect(job.opts?.customTimeouts).toEqual(jobAwaitTimeouts(60 + 120));
    expect(job.opts?.hooks).toBeDefined();
    expect(job.opts?.deleteBeforeReplace).toBe(true);
  });

  it("shows the restore's lines in pulumi up: the Job posts them, this machine watches them with the reading user once the preflight has decided the method", async () => {
    await run("ssh", physical);
    expect(
      named("-database-restore-job").inputs.spec.template.spec.containers[0].env,
    ).toContainEqual({ name: "FERRY_BEACON", value: "true" });
    const watch = named("-restore-log-watch");
    expect(watch.inputs.logging).toBe("stderr");
    const program = revealSecret(watch.inputs.stdin) as string;
    expect(program).toContain("WATCH_STEP='restore'; export WATCH_STEP");
    expect(program).toContain("WATCH_START_SECONDS='600'; export WATCH_START_SECONDS");
    expect(program).toMatch(/S3_ACCESS_KEY='ferry-test-[0-9a-f]{10}-read'; export/);
    const component = registered.find((r) => r.name.endsWith("-restore-log"))!;
    expect(((component.opts?.dependsOn as pulumi.Resource[]) ?? []).map(resourceName)).toContain(
      named("-dump-ssh-preflight").name,
    );
  });

  it("in kubernetes mode: the preflight and the dump Jobs read the server's claim read only, on its pod's node, as the files' owner; the graph is built for physical and the restore takes it", async () => {
    const dataVolume = {
      claim: "data-mariadb-0",
      subPath: "mysql",
      serverPodLabels: { app: "mariadb", role: "primary" },
      user: 1001,
    };
    await run("kubernetes", (raw) => {
      raw.migration.method = "physical";
      raw.source.kubernetes.dataVolume = dataVolume;
    });
    for (const job of ["-dump-preflight", "-dump-job"]) {
      const pod = named(job).inputs.spec.template.spec;
      expect(pod.securityContext).toEqual({
        runAsNonRoot: true,
        runAsUser: 1001,
        runAsGroup: 1001,
        fsGroup: 1001,
        fsGroupChangePolicy: "OnRootMismatch",
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(pod.affinity).toEqual({
        podAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            {
              labelSelector: { matchLabels: { app: "mariadb", role: "primary" } },
              topologyKey: "kubernetes.io/hostname",
            },
          ],
        },
      });
      expect(pod.volumes).toContainEqual({
        name: "data",
        persistentVolumeClaim: { claimName: "data-mariadb-0", readOnly: true },
      });
      expect(pod.containers[0].volumeMounts).toContainEqual({
        name: "data",
        mountPath: "/var/lib/mysql",
        subPath: "mysql",
        readOnly: true,
      });
      expect(pod.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
    }
    expect(named("-dump-preflight").inputs.spec.template.spec.containers[0].env).toContainEqual({
      name: "METHOD",
      value: "physical",
    });
    expect(named("-dump-job").inputs.spec.template.spec.containers[0].env).toContainEqual({
      name: "METHOD",
      value: "physical",
    });
    expect(
      named("-database-restore-job").inputs.spec.template.spec.containers[0].env,
    ).toContainEqual({ name: "METHOD", value: "physical" });
    expect(named("-import-job").inputs.spec.template.spec.containers[0].env).toContainEqual({
      name: "METHOD",
      value: "physical",
    });
    // Only the steps that read the files get them: the credentials' removal does not.
    const forget = named("-forget-job").inputs.spec.template.spec;
    expect(forget.affinity).toBeUndefined();
    expect(JSON.stringify(forget)).not.toContain("data-mariadb-0");
    // A group of its own, when the files have one.
    resetRegistered();
    await run("kubernetes", (raw) => {
      raw.migration.method = "physical";
      raw.source.kubernetes.dataVolume = { ...dataVolume, group: 2002 };
    });
    expect(named("-dump-job").inputs.spec.template.spec.securityContext).toMatchObject({
      runAsUser: 1001,
      runAsGroup: 2002,
      fsGroup: 2002,
    });
  });

  it("in kubernetes mode with a data volume but the logical method, the Jobs do not touch the server's claim", async () => {
    await run("kubernetes", (raw) => {
      raw.source.kubernetes.dataVolume = { claim: "data-mariadb-0", serverPodLabels: { a: "b" } };
    });
    for (const job of ["-dump-preflight", "-dump-job"]) {
      const pod = named(job).inputs.spec.template.spec;
      expect(pod.affinity).toBeUndefined();
      expect(pod.securityContext.runAsUser).toBe(65532);
      expect(JSON.stringify(pod.volumes)).not.toContain("data-mariadb-0");
    }
  });

  it("auto builds the same graph where the configuration allows a physical copy, and asks the preflight to choose", async () => {
    await run("local", (raw) => (raw.migration.method = "auto"));
    expect(revealSecret(named("-dump-local-preflight").inputs.stdin)).toContain("METHOD='auto'");
    expect(
      named("-database-restore-job").inputs.spec.template.spec.containers[0].env,
    ).toContainEqual({ name: "METHOD", value: "physical" });
  });

  it("adds nothing for the logical method, nor for auto where the source is in a pod", async () => {
    for (const [mode, method] of [
      ["local", "logical"],
      ["kubernetes", "auto"],
    ] as const) {
      resetRegistered();
      await run(mode, (raw) => (raw.migration.method = method));
      expect(named("-database-server").inputs.spec.template.spec.initContainers).toBeUndefined();
      expect(registered.filter((r) => /restore/.test(r.name))).toEqual([]);
      const importEnv = named("-import-job").inputs.spec.template.spec.containers[0].env;
      expect(importEnv).toContainEqual({ name: "METHOD", value: "logical" });
    }
    expect(named("-dump-job").inputs.spec.template.spec.containers[0].env).toContainEqual({
      name: "METHOD",
      value: "logical",
    });
  });
});

describe("Pod Security", () => {
  it("denies the namespace's traffic but what is named: the Jobs to the database and the store, allowFrom to the database", async () => {
    await run("kubernetes", (raw) => {
      raw.destination.allowFrom = [
        { namespace: "shop", podLabels: { app: "storefront" } },
        { namespace: "reporting" },
      ];
      // A cluster whose DNS pods are not kube-system's kube-dns names them.
      raw.destination.dnsPods = { namespace: "dns-system", podLabels: { app: "resolver" } };
    });
    const policies: Record<string, any> = Object.fromEntries(
      ofType("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        .filter((p) => p.inputs.metadata.namespace === "ferry")
        .map((p) => [p.inputs.metadata.name, p.inputs]),
    );
    expect(Object.keys(policies).sort()).toEqual([
      // The certificates Job's, to the API server (ServerCertificates).
      "ferry-certificates-egress",
      "ferry-database-ingress",
      "ferry-default-deny",
      "ferry-jobs-egress",
    ]);
    for (const policy of Object.values(policies)) expect(policy.metadata.namespace).toBe("ferry");
    // Port 53 of the cluster's DNS pods only, not of any address.
    const dns = {
      to: [
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "dns-system" } },
          podSelector: { matchLabels: { app: "resolver" } },
        },
      ],
      ports: [
        { protocol: "UDP", port: 53 },
        { protocol: "TCP", port: 53 },
      ],
    };
    expect(policies["ferry-default-deny"].spec).toEqual({
      podSelector: {},
      policyTypes: ["Ingress", "Egress"],
      egress: [dns],
    });
    const jobPods = {
      matchLabels: { "app.kubernetes.io/part-of": "ferry" },
      matchExpressions: [
        {
          key: "app.kubernetes.io/component",
          operator: "In",
          // replicate and cutover: live mode's steps (Jobs of their own run, when there are any).
          values: ["import", "verify", "cleanup", "replicate", "cutover"],
        },
      ],
    };
    const databasePods = {
      matchLabels: {
        "app.kubernetes.io/part-of": "ferry",
        "app.kubernetes.io/component": "database",
      },
    };
    expect(policies["ferry-database-ingress"].spec).toEqual({
      podSelector: databasePods,
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [
            { podSelector: jobPods },
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "shop" } },
              podSelector: { matchLabels: { app: "storefront" } },
            },
            { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "reporting" } } },
          ],
          ports: [{ protocol: "TCP", port: 3306 }],
        },
      ],
    });
    // The store as the destination's pods reach it: minio.storage:9000 in the sample config.
    expect(policies["ferry-jobs-egress"].spec).toEqual({
      podSelector: jobPods,
      policyTypes: ["Egress"],
      egress: [
        { to: [{ podSelector: databasePods }], ports: [{ protocol: "TCP", port: 3306 }] },
        { ports: [{ protocol: "TCP", port: 9000 }] },
      ],
    });
    // The selectors match what the pods carry.
    const deployment = ofType("kubernetes:apps/v1:Deployment").find(
      (d) => d.inputs.metadata.labels["app.kubernetes.io/component"] === "database",
    )!;
    expect(deployment.inputs.spec.template.metadata.labels).toMatchObject(databasePods.matchLabels);
    const destinationJobs = ofType("kubernetes:batch/v1:Job").filter(
      (j) => j.inputs.metadata.namespace === "ferry" && !j.name.endsWith("-tls-job"),
    );
    expect(destinationJobs).toHaveLength(3);
    // The certificates Job reaches the API server only: not the database, not the store.
    const certificatesPod = named("-database-tls-job").inputs.spec.template.metadata.labels;
    expect(certificatesPod).toMatchObject(
      policies["ferry-certificates-egress"].spec.podSelector.matchLabels,
    );
    expect(jobPods.matchExpressions[0].values).not.toContain(
      certificatesPod["app.kubernetes.io/component"],
    );
    for (const job of destinationJobs) {
      const labels = job.inputs.spec.template.metadata.labels;
      expect(labels["app.kubernetes.io/part-of"]).toBe("ferry");
      expect(jobPods.matchExpressions[0].values).toContain(labels["app.kubernetes.io/component"]);
    }
  });

  it("lets a run's dump and preflight pods in the source cluster reach the source's namespace and the store only, and no other pod there", async () => {
    await run("kubernetes");
    // The removal of the dump's credentials has a policy of its own (a test below).
    const sourcePolicies = ofType("kubernetes:networking.k8s.io/v1:NetworkPolicy").filter(
      (p) => p.inputs.metadata.namespace !== "ferry" && !p.name.endsWith("-forget-egress"),
    );
    expect(sourcePolicies).toHaveLength(1);
    const [egress] = sourcePolicies;
    const runPods = {
      "app.kubernetes.io/part-of": "ferry",
      "app.kubernetes.io/component": "dump",
      "ferry.dev/run-id": expect.any(String),
    };
    expect(egress.inputs.metadata).toMatchObject({
      name: `ferry-dump-${egress.inputs.spec.podSelector.matchLabels["ferry.dev/run-id"]}`,
      namespace: "legacy",
    });
    // The sample source is mysql.legacy.svc: the Service's namespace, any port; the store by port.
    expect(egress.inputs.spec).toEqual({
      podSelector: { matchLabels: runPods },
      policyTypes: ["Egress"],
      egress: [
        // The default: kube-system's kube-dns pods.
        kubeDnsEgress,
        {
          to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "legacy" } } }],
        },
        { ports: [{ protocol: "TCP", port: 9000 }] },
      ],
    });
    // Both of the run's source Jobs that reach the source carry the labels it selects.
    const sourceJobs = ofType("kubernetes:batch/v1:Job").filter(
      (j) => j.inputs.metadata.namespace === "legacy" && !j.name.endsWith("-forget-job"),
    );
    expect(sourceJobs.map((j) => j.inputs.metadata.name).sort()).toEqual([
      expect.stringMatching(/^ferry-dump-/),
      expect.stringMatching(/^ferry-preflight-/),
    ]);
    for (const job of sourceJobs) {
      expect(job.inputs.spec.template.metadata.labels).toMatchObject(
        egress.inputs.spec.podSelector.matchLabels,
      );
    }
  });

  it("removes the dump's credentials from the source cluster once the dump is stored: a Job after the dump, as an account that may delete that one Secret, its pods reaching the API server only", async () => {
    await run("kubernetes");
    const dumpSecret = named("-dump-credentials");
    // The mocks name an object without a name as the engine would: after its resource.
    const generated = (r: { name: string }) => `${r.name}-generated`;
    const secretName = generated(dumpSecret);
    expect(Object.keys(revealSecret(dumpSecret.inputs.stringData))).toContain("run-key");
    const job = named("-forget-job");
    expect(job.inputs.metadata).toMatchObject({
      name: "ferry-forget-run-1",
      namespace: "legacy",
      // A failed Job is replaced on the next up, not awaited again; its log is its message.
      annotations: { "pulumi.com/replaceUnready": "true" },
    });
    const pod = job.inputs.spec.template.spec;
    const account = named("-forget-account");
    expect(pod.serviceAccountName).toBe(generated(account));
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(account.inputs.automountServiceAccountToken).toBe(false);
    expect(pod.containers).toHaveLength(1);
    expect(pod.containers[0].command).toEqual(["ferry-dataplane", "forget"]);
    expect(pod.containers[0].terminationMessagePolicy).toBe("FallbackToLogsOnError");
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.containers[0].env).toEqual([
      { name: "FERRY_STEP", value: "ferry-forget" },
      { name: "FORGET_SECRET", value: secretName },
    ]);
    // It holds no secret: no volume at all, its token excepted.
    expect(pod.volumes).toBeUndefined();
    expect(JSON.stringify(job.inputs)).not.toContain(secretValues.sourcePassword);
    // After the dump Job (and its account's binding and its policy).
    expect((job.opts?.dependsOn as any[]).map((d) => d.__name)).toEqual([
      expect.stringMatching(/-dump-job$/),
      expect.stringMatching(/-forget-binding$/),
      expect.stringMatching(/-forget-egress$/),
    ]);
    expect(job.opts?.deleteBeforeReplace).toBe(true);
    // Its account may delete that Secret, by name, and nothing else.
    expect(named("-forget-role").inputs.rules).toEqual([
      { apiGroups: [""], resources: ["secrets"], resourceNames: [secretName], verbs: ["delete"] },
    ]);
    expect(named("-forget-binding").inputs).toMatchObject({
      metadata: { namespace: "legacy" },
      roleRef: { kind: "Role", name: generated(named("-forget-role")) },
      subjects: [{ kind: "ServiceAccount", name: generated(account), namespace: "legacy" }],
    });
    // Its pods reach the source cluster's API server's endpoints, nothing else (not DNS: the
    // API server is reached by the address the kubelet gives).
    expect(named("-forget-egress").inputs).toEqual({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: {
        name: "ferry-forget-run-1",
        namespace: "legacy",
        labels: expect.objectContaining({ "app.kubernetes.io/component": "forget" }),
      },
      spec: {
        podSelector: { matchLabels: job.inputs.spec.template.metadata.labels },
        policyTypes: ["Egress"],
        egress: [
          { to: [{ ipBlock: { cidr: "10.88.0.1/32" } }], ports: [{ protocol: "TCP", port: 6443 }] },
        ],
      },
    });
    // The dump's own policy does not select it, nor it the dump's pods.
    expect(job.inputs.spec.template.metadata.labels["app.kubernetes.io/component"]).toBe("forget");
  });

  it("names the source's Service namespace only for a Service's name; any other host is allowed by its port", () => {
    expect(networkPolicy.serviceNamespace("mysql.legacy.svc")).toBe("legacy");
    expect(networkPolicy.serviceNamespace("MySQL.Legacy.svc.cluster.local")).toBe("legacy");
    expect(networkPolicy.serviceNamespace("mysql.legacy.svc.corp.example")).toBe("legacy");
    for (const host of [
      "10.0.0.5",
      "db.example.com",
      "mysql.legacy",
      "mysql.legacy.svcx",
      "a.b.c.svc",
      "mysql",
      "-x.legacy.svc",
    ]) {
      expect(networkPolicy.serviceNamespace(host), host).toBeUndefined();
    }
    const spec = networkPolicy.dumpEgressSpec({
      runId: "r1",
      source: { host: "10.0.0.5", port: 3307 },
      objectStorePort: 443,
      dnsServers: { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } },
    });
    expect(spec.egress).toEqual([
      kubeDnsEgress,
      { ports: [{ protocol: "TCP", port: 3307 }] },
      { ports: [{ protocol: "TCP", port: 443 }] },
    ]);
  });

  it("lets the Jobs reach an existing server by its port, and leaves that server's ingress to its owner", async () => {
    await run(
      "local",
      (raw) =>
        (raw.destination.database = {
          mode: "existing",
          host: "mariadb.apps.svc",
          port: 3307,
          user: "importer",
        }),
      { ...secretsWithout("destinationRootPassword"), destinationPassword: "p" },
    );
    const policies = ofType("kubernetes:networking.k8s.io/v1:NetworkPolicy");
    expect(policies.map((p) => p.inputs.metadata.name).sort()).toEqual([
      "ferry-default-deny",
      "ferry-jobs-egress",
    ]);
    const egress = policies.find((p) => p.inputs.metadata.name === "ferry-jobs-egress")!;
    expect(egress.inputs.spec.egress[0]).toEqual({ ports: [{ protocol: "TCP", port: 3307 }] });
  });

  it("runs every pod ferry makes under the restricted standard, in namespaces that enforce it", async () => {
    await run("kubernetes");
    const pods = [
      ...ofType("kubernetes:batch/v1:Job").map((job) => job.inputs.spec.template.spec),
      ...ofType("kubernetes:apps/v1:Deployment").map((d) => d.inputs.spec.template.spec),
    ];
    expect(pods).toHaveLength(9);
    for (const pod of pods) {
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: expect.any(Number),
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      // Only the certificates Job and the dump credentials' removal talk to the API server, each
      // as its own account.
      expect(pod.automountServiceAccountToken).toBe(pod.serviceAccountName !== undefined);
      for (const container of pod.containers) {
        expect(container.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        });
      }
    }
    for (const namespace of ofType("kubernetes:core/v1:Namespace")) {
      expect(namespace.inputs.metadata.labels).toMatchObject({
        "pod-security.kubernetes.io/enforce": "restricted",
      });
    }
  });
});

describe("the preflight", () => {
  it("runs where the dump runs, before it, and before anything is installed", async () => {
    for (const mode of ["kubernetes", "ssh", "local"] as const) {
      resetRegistered();
      await run(mode);
      const suffix = {
        kubernetes: "-dump-preflight",
        ssh: "-dump-ssh-preflight",
        local: "-dump-local-preflight",
      }[mode];
      const preflight = named(suffix);
      const dump = named({ kubernetes: "-dump-job", ssh: "-dump-ssh", local: "-dump-local" }[mode]);
      expect((dump.opts?.dependsOn as pulumi.Resource[]).map((d) => (d as any).__name)).toEqual([
        preflight.name,
      ]);
      if (mode === "kubernetes") {
        // The dump's watch starts with the dump: after a refusal there is nothing to wait for.
        const watchAfter = (named("-dump-log").opts?.dependsOn as pulumi.Resource[]).map(
          (d) => (d as any).__name,
        );
        expect(watchAfter).toEqual([preflight.name]);
      }
      // The storage (and so the database ferry runs on it) waits for the preflight.
      const storageAfter = (named("-storage").opts?.dependsOn as pulumi.Resource[]).map(
        (d) => (d as any).__name,
      );
      expect(storageAfter).toEqual([preflight.name]);
    }
  });

  it("checks against the server ferry runs: its image's flavour and its volume", async () => {
    await run(
      "kubernetes",
      (raw) => (raw.destination.mysqlImage = "registry.example.com/db/mariadb:10.11.6-jammy"),
    );
    const env = Object.fromEntries(
      named("-dump-preflight").inputs.spec.template.spec.containers[0].env.map(
        (e: { name: string; value: string }) => [e.name, e.value],
      ),
    );
    expect(env).toMatchObject({
      DEST_FLAVOUR: "mariadb 10.11",
      DEST_STORAGE_BYTES: String(10 * 2 ** 30),
      STRIP_DEFINERS: "false",
      DATABASES: JSON.stringify(["shop", "crm"]),
    });
    expect(env.SOURCE_PASSWORD_FILE).toBe("/var/run/ferry/secrets/source-password");
    expect(env.S3_SECRET_KEY_FILE).toBeUndefined();
    expect(imageFlavour("mysql:8.4")).toBe("mysql 8.4");
    expect(imageFlavour("mariadb@sha256:abc")).toBe("");
    expect(imageFlavour("percona:8.0")).toBe("");
    expect(quantityBytes("1Gi")).toBe(2 ** 30);
    expect(quantityBytes("500M")).toBe(5e8);
  });
});

describe("the Jobs' log lines in pulumi up", () => {
  it("are posted by the import and the kubernetes dump, and watched with the reading user from this machine", async () => {
    await run("kubernetes");
    for (const job of ["-import-job", "-dump-job"]) {
      const env = named(job).inputs.spec.template.spec.containers[0].env;
      expect(env).toContainEqual({ name: "FERRY_BEACON", value: "true" });
    }
    for (const [watch, step] of [
      ["-import-log-watch", "import"],
      ["-dump-log-watch", "dump"],
    ]) {
      const command = named(watch);
      expect(command.inputs.create).toBe("sh -s");
      expect(command.inputs.logging).toBe("stderr");
      const program = revealSecret(command.inputs.stdin) as string;
      expect(program).toContain(`WATCH_STEP='${step}'; export WATCH_STEP`);
      // The import may take 120 minutes; its first line comes within 10 or not at all.
      expect(program).toContain("WATCH_START_SECONDS='600'; export WATCH_START_SECONDS");
      expect(program).toMatch(/S3_ACCESS_KEY='ferry-test-[0-9a-f]{10}-read'; export/);
      expect(program).toContain(`RUN_KEY='${sampleRunKey}'`);
      expect(program).toContain("run_dataplane watch");
    }
  });
});

describe("images from a registry that needs credentials", () => {
  const dockerConfig = JSON.stringify({ auths: { "registry.example.com": { auth: "dTpw" } } });

  it("gives every pod ferry runs a pull Secret of its namespace, made from registryCredentials", async () => {
    await run("kubernetes", undefined, { ...secretValues, registryCredentials: dockerConfig });
    const secrets = ofType("kubernetes:core/v1:Secret").filter(
      (s) => s.inputs.type === "kubernetes.io/dockerconfigjson",
    );
    // The destination's namespace and the source's.
    expect(secrets.map((s) => s.inputs.metadata.namespace).sort()).toEqual(["ferry", "legacy"]);
    expect(revealSecret(secrets[0].inputs.stringData)).toEqual({
      ".dockerconfigjson": dockerConfig,
    });
    const pods = [
      ...ofType("kubernetes:batch/v1:Job").map((job) => job.inputs.spec.template.spec),
      ...ofType("kubernetes:apps/v1:Deployment").map((d) => d.inputs.spec.template.spec),
    ];
    expect(pods).toHaveLength(9);
    for (const pod of pods) expect(pod.imagePullSecrets).toHaveLength(1);
  });

  it("adds none without them, and refuses credentials that are not a Docker config", async () => {
    await run("kubernetes");
    for (const job of ofType("kubernetes:batch/v1:Job"))
      expect(job.inputs.spec.template.spec.imagePullSecrets).toBeUndefined();
    // A wrong paste fails the preview, naming the key (the Secret's data is built from it).
    for (const wrong of ["user:password", "{}", '{"auths": {}}']) {
      expect(() => dockerConfigData(wrong)).toThrow(
        'ferry:registryCredentials: must be a Docker config.json with at least one registry under "auths"',
      );
    }
  });
});

describe("the commands", () => {
  // The real provider would put a command's previous stdout (the dump's manifest, the run key) into
  // the environment of its update and delete: too large for one environment string, and a secret.
  it.each(["kubernetes", "ssh", "local"] as const)(
    "never get their previous output in their environment (%s mode)",
    async (mode) => {
      await run(mode);
      const commands = [...ofType("command:local:Command"), ...ofType("command:remote:Command")];
      expect(commands.length).toBeGreaterThanOrEqual(3);
      // But the root password's check, whose update compares its create's output: a digest.
      for (const c of commands)
        expect([c.name, c.inputs.addPreviousOutputInEnv]).toEqual([
          c.name,
          c.name.endsWith("-root-password-kept-check"),
        ]);
    },
  );
});

describe("the run key", () => {
  it("is drawn once per run id by a command that logs nothing, and kept as a secret", async () => {
    await run("kubernetes");
    const draw = named("-run-key-draw");
    expect(draw.type).toBe("command:local:Command");
    expect(draw.inputs).toEqual({
      create: drawRunKeyScript,
      triggers: expect.anything(),
      logging: "none",
      addPreviousOutputInEnv: false,
    });
    // The run id and the dump's identity (a digest: the next test says what it covers).
    expect(revealSecret(draw.inputs.triggers)).toEqual([
      "run-1",
      expect.stringMatching(/^[0-9a-f]{64}$/),
    ]);
    expect(draw.opts?.additionalSecretOutputs).toEqual(["stdout"]);
    // The script itself, run here: 64 hex digits and nothing else, different every time.
    const drawn = [1, 2].map(() => spawnSync("sh", ["-c", drawRunKeyScript]).stdout.toString());
    for (const key of drawn) expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(drawn[0]).not.toBe(drawn[1]);
  });

  it("is drawn again whenever the dump would run again (another bucket, source, password or dump setting), so two dumps of one run id never share a key and an older one cannot be replayed", async () => {
    const triggersOf = async (
      mode: "kubernetes" | "ssh" | "local",
      change?: (raw: any) => void,
      secrets = secretValues,
    ) => {
      resetRegistered();
      await run(mode, change, secrets);
      const triggers = revealSecret(named("-run-key-draw").inputs.triggers);
      expect(triggers[0]).toBe("run-1");
      return JSON.stringify(triggers);
    };
    for (const mode of ["kubernetes", "ssh", "local"] as const) {
      const unchanged = await triggersOf(mode);
      expect(await triggersOf(mode)).toBe(unchanged);
      // What changes nothing the dump does keeps the key (and the dump already stored).
      expect(await triggersOf(mode, (raw) => (raw.migration.importTimeoutMinutes = 200))).toBe(
        unchanged,
      );
      const changes: [string, (raw: any) => void][] = [
        ["another bucket", (raw) => (raw.objectStore.bucketPrefix = "other-")],
        ["another source host", (raw) => (raw.source.host = "db2.example.internal")],
        ["other databases", (raw) => (raw.source.databases = ["shop"])],
        ["another parallelism", (raw) => (raw.migration.parallelism = 3)],
        ["another compression", (raw) => (raw.migration.compression = "gzip")],
        ["another chunk size", (raw) => (raw.migration.chunkMiB = 8)],
      ];
      for (const [what, change] of changes)
        expect(await triggersOf(mode, change), `${mode}: ${what}`).not.toBe(unchanged);
      expect(
        await triggersOf(mode, undefined, { ...secretValues, sourcePassword: "another" }),
        `${mode}: another source password`,
      ).not.toBe(unchanged);
    }
    // What the triggers hold of the password is a digest, and secret.
    resetRegistered();
    await run("local");
    const triggers = named("-run-key-draw").inputs.triggers;
    expect(isSecretInput(triggers)).toBe(true);
    expect(JSON.stringify(revealSecret(triggers))).not.toContain(secretValues.sourcePassword);
  });

  it("reaches every step that touches the bucket, always as a secret", async () => {
    await run("kubernetes");
    expect(revealSecret(named("-dump-credentials").inputs.stringData)["run-key"]).toBe(
      sampleRunKey,
    );
    const dumpEnv = named("-dump-job").inputs.spec.template.spec.containers[0].env;
    expect(dumpEnv).toContainEqual({
      name: "RUN_KEY_FILE",
      value: "/var/run/ferry/secrets/run-key",
    });
    for (const job of ["-import-job", "-verification-job", "-cleanup-job"]) {
      const sources = named(job).inputs.spec.template.spec.volumes[1].projected.sources;
      expect(
        sources.map((s: any) => s.secret.items[0].key),
        job,
      ).toContain("run-key");
    }
    const report = named("-report-read");
    expect(isSecretInput(report.inputs.stdin)).toBe(true);
    expect(revealSecret(report.inputs.stdin)).toContain(`\nRUN_KEY='${sampleRunKey}'\n`);
    expect(revealSecret(report.inputs.stdin)).not.toContain("export RUN_KEY");
    resetRegistered();
    await run("local");
    const local = named("-dump-local");
    expect(revealSecret(local.inputs.stdin)).toContain(`\nRUN_KEY='${sampleRunKey}'\n`);
    expect(revealSecret(local.inputs.stdin)).not.toContain("export RUN_KEY");
    expect(local.inputs.logging).toBe("stderr");
  });
});

describe("the object store", () => {
  it("gives each step the bucket user of its role, confined to the bucket's runs/, and expires runs", async () => {
    await run("kubernetes");
    expect(named("-store-bucket").inputs).toMatchObject({ bucketPrefix: "ferry-", acl: "private" });
    expect(named("-store-expiry").inputs.rules).toEqual([
      { id: "expire-runs", status: "Enabled", filter: "runs/", expiration: "7d" },
    ]);
    const userOf = (role: string) => named(`-store-${role}-user`).inputs.name as string;
    for (const role of ["dump", "read", "cleanup"]) {
      expect(userOf(role)).toMatch(new RegExp(`^ferry-test-[0-9a-f]{10}-${role}$`));
      const policy = JSON.parse(named(`-store-${role}-policy`).inputs.policy as string);
      const resources = policy.Statement.flatMap((s: { Resource: string[] }) => s.Resource);
      for (const resource of resources)
        expect(resource).toMatch(/^arn:aws:s3:::ferry-abc123($|\/runs\/)/);
      // Deleted before its policy: a turned-off user's policy cannot be detached, only freed.
      const userDeps = (named(`-store-${role}-user`).opts?.dependsOn as pulumi.Resource[]) ?? [];
      expect(userDeps.map((d) => (d as any).__name)).toEqual([
        expect.stringMatching(new RegExp(`-store-${role}-policy$`)),
      ]);
      expect(named(`-store-${role}-attachment`).inputs).toEqual({
        userName: userOf(role),
        policyName: `${userOf(role)}-p1`,
      });
    }
    // Which step holds which user: the dump writes, the import and verification read, only the
    // cleanup deletes.
    const accessKey = (job: string) =>
      named(job).inputs.spec.template.spec.containers[0].env.find(
        (e: { name: string }) => e.name === "S3_ACCESS_KEY",
      ).value;
    expect(accessKey("-dump-job")).toBe(userOf("dump"));
    expect(accessKey("-import-job")).toBe(userOf("read"));
    expect(accessKey("-verification-job")).toBe(userOf("read"));
    expect(accessKey("-cleanup-job")).toBe(userOf("cleanup"));
    const keyFiles = (job: string) =>
      named(job).inputs.spec.template.spec.volumes[1].projected.sources.map(
        (s: any) => s.secret.items[0].key,
      );
    expect(keyFiles("-import-job")).not.toContain("s3-cleanup-secret-key");
    expect(keyFiles("-cleanup-job")).toEqual(["s3-cleanup-secret-key", "run-key"]);
    expect(revealSecret(named("-report-read").inputs.stdin)).toContain(
      `S3_ACCESS_KEY='${userOf("read")}'`,
    );
    // Once the run is reported, its three users are turned off with the admin's credentials.
    const revoke = named("-revocation-revoke");
    expect(revoke.inputs.create).toBe("sh -s");
    expect(revoke.inputs.triggers).toEqual(["run-1"]);
    const revokeProgram = revealSecret(revoke.inputs.stdin);
    expect(revokeProgram).toContain(
      `USERS='${JSON.stringify(["dump", "read", "cleanup"].map(userOf))}'`,
    );
    expect(revokeProgram).toContain(`\nS3_SECRET_KEY='${secretValues.objectStoreSecretKey}'\n`);
    expect(revokeProgram).not.toContain("export S3_SECRET_KEY");
    expect(revokeProgram).toContain("run_dataplane revoke");
  });
});

describe("the bucket users, on only while a step that uses them runs", () => {
  it("binds the hooks of its role to each step in every mode, and to nothing else", async () => {
    for (const mode of ["kubernetes", "ssh", "local"] as const) {
      resetRegistered();
      await run(mode);
      const dump = { kubernetes: "-dump-job", ssh: "-dump-ssh", local: "-dump-local" }[mode];
      const steps: Record<string, string> = {
        [dump]: "dump",
        "-import-job": "read",
        "-import-log-watch": "read",
        "-verification-job": "read",
        "-cleanup-job": "cleanup",
        "-report-read": "read",
        ...(mode === "kubernetes" ? { "-dump-log-watch": "read" } : {}),
      };
      const hookNames = (r: { opts?: pulumi.CustomResourceOptions }) => {
        const hooks = r.opts?.hooks;
        const names = (list?: (pulumi.ResourceHook | pulumi.ResourceHookFunction)[]) =>
          (list ?? []).map((h) => (h as pulumi.ResourceHook).name);
        return {
          before: names(hooks?.beforeCreate),
          after: names(hooks?.afterCreate),
          beforeUpdate: names(hooks?.beforeUpdate),
          afterUpdate: names(hooks?.afterUpdate),
          failed: (hooks?.onError ?? []).map((h) => h.name),
        };
      };
      for (const [suffix, role] of Object.entries(steps)) {
        expect(hookNames(named(suffix)), `${mode} ${suffix}`).toEqual({
          before: [expect.stringMatching(new RegExp(`-store-users-${role}-step-starts$`))],
          after: [expect.stringMatching(new RegExp(`-store-users-${role}-step-succeeded$`))],
          beforeUpdate: [expect.stringMatching(new RegExp(`-store-users-${role}-step-starts$`))],
          afterUpdate: [expect.stringMatching(new RegExp(`-store-users-${role}-step-succeeded$`))],
          failed: [expect.stringMatching(new RegExp(`-store-users-${role}-step-failed$`))],
        });
      }
      // Each user is made on (MinIO attaches no policy to a user that is off): turned off once its
      // policy is attached.
      for (const role of ["dump", "read", "cleanup"]) {
        expect(hookNames(named(`-store-${role}-attachment`)), `${mode} ${role}`).toEqual({
          before: [],
          after: [expect.stringMatching(new RegExp(`-store-users-${role}-attached$`))],
          beforeUpdate: [],
          afterUpdate: [],
          failed: [],
        });
      }
      const withHooks = registered.filter((r) => r.opts?.hooks).map((r) => r.name);
      expect(withHooks.sort(), mode).toEqual(
        [
          ...Object.keys(steps),
          "-store-dump-attachment",
          "-store-read-attachment",
          "-store-cleanup-attachment",
        ]
          .map((suffix) => named(suffix).name)
          .sort(),
      );
    }
  });
});

describe("TLS to the object store", () => {
  it("has every client check the store's certificate against its CA: the provider, the Jobs, the commands", async () => {
    const ca = testCertificates(["minio.example.internal"]).caCertificate;
    for (const mode of ["kubernetes", "ssh"] as const) {
      resetRegistered();
      await run(mode, (raw) => {
        raw.objectStore.useTls = true;
        raw.objectStore.caCert = ca;
        if (mode === "ssh")
          raw.source.ssh.objectStoreEndpoint = "https://minio.example.internal:9000";
      });
      const provider = registered.find((r) => r.type === "pulumi:providers:minio")!;
      expect(provider.inputs).toMatchObject({ minioSsl: "true", minioInsecure: "false" });
      expect(fs.readFileSync(provider.inputs.minioCacertFile, "utf8")).toBe(ca);
      const jobs = ofType("kubernetes:batch/v1:Job");
      const programs = registered
        .filter((r) => r.type.startsWith("command:") && r.inputs.stdin !== undefined)
        .map((r) => revealSecret(r.inputs.stdin) as string)
        .filter((program) => program.includes("S3_ENDPOINT="));
      // kubernetes: preflight and dump in the source cluster, import, verify, cleanup; then the
      // report, the revocation and the watches from this machine. ssh: the dump on the host.
      expect(jobs.length + programs.length).toBeGreaterThanOrEqual(mode === "kubernetes" ? 7 : 6);
      for (const job of jobs) {
        const env = job.inputs.spec.template.spec.containers[0].env;
        if (!env.some((e: { name: string }) => e.name === "S3_ENDPOINT")) continue;
        expect(env, job.name).toContainEqual({ name: "S3_CA_CERT", value: ca });
        expect(env, job.name).toContainEqual({ name: "S3_INSECURE", value: "false" });
        expect(env.find((e: { name: string }) => e.name === "S3_ENDPOINT").value).toMatch(
          /^https:/,
        );
      }
      for (const program of programs) {
        expect(program).toContain(`S3_CA_CERT=${shellQuote(ca)}; export S3_CA_CERT`);
        expect(program).toMatch(/S3_ENDPOINT='https:/);
      }
    }
  });

  it("tells the clients nothing of a CA when none is configured", async () => {
    await run("kubernetes");
    expect(registered.find((r) => r.type === "pulumi:providers:minio")!.inputs).not.toHaveProperty(
      "minioCacertFile",
    );
    for (const job of ofType("kubernetes:batch/v1:Job")) {
      const names = job.inputs.spec.template.spec.containers[0].env.map((e: any) => e.name);
      expect(names).not.toContain("S3_CA_CERT");
    }
  });
});

describe("the run record", () => {
  it("refuses a record of another shape with the fields that are wrong", () => {
    const record = { manifest: { ...sampleManifest, format: "ferry-dump/2" }, verification: null };
    expect(() => reportModule.parseRunRecord(JSON.stringify(record))).toThrow(
      /the run report does not have the expected shape \(manifest\.format: .*; dumpObjectsPresent: /,
    );
    expect(() => reportModule.parseRunRecord("not json")).toThrow(
      "ferry: the run report is not valid JSON",
    );
  });
});
