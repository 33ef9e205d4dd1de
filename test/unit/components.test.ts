import * as pulumi from "@pulumi/pulumi";
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type * as DataPlane from "../../components/specs/dataPlane";
import type * as Jobs from "../../components/specs/jobs";
import type * as BucketAccessModule from "../../components/specs/bucketAccess";
import type * as ObjectStoreModule from "../../components/objectStore";
import type * as StorageModule from "../../components/storageStack";
import { installMocks, registered, resetRegistered, settle } from "./harness";

let dataPlane: typeof DataPlane;
let jobs: typeof Jobs;
let bucketAccess: typeof BucketAccessModule;
let objectStore: typeof ObjectStoreModule;
let storage: typeof StorageModule;

beforeAll(async () => {
  installMocks();
  dataPlane = await import("../../components/specs/dataPlane");
  jobs = await import("../../components/specs/jobs");
  bucketAccess = await import("../../components/specs/bucketAccess");
  objectStore = await import("../../components/objectStore");
  storage = await import("../../components/storageStack");
});

beforeEach(() => resetRegistered());

describe("ObjectStore", () => {
  it("makes one user a role, off at rest, each key a secret, each name unique to project, stack and bucket", async () => {
    const store = new objectStore.ObjectStore("os", {
      bucketPrefix: "ferry-",
      expiryDays: 3,
      project: "ferry",
      stack: "dev",
      runId: "r1",
      forceDestroy: true,
      admin: {
        url: "http://127.0.0.1:9",
        tls: { insecure: false },
        accessKey: "admin",
        secretKey: pulumi.secret("admin-secret"),
      },
    });
    for (const role of ["dump", "read", "cleanup"] as const) {
      const { accessKey, secretKey } = store.credentials[role];
      expect(await pulumi.isSecret(secretKey)).toBe(true);
      expect(await settle(secretKey)).toBe("generated-user-secret");
      expect(await pulumi.isSecret(accessKey)).toBe(false);
      expect(await settle(accessKey)).toBe(
        bucketAccess.bucketUserName("ferry", "dev", "ferry-abc123", "r1", role),
      );
    }
    // Made on (MinIO attaches no policy to a user that is off), each is turned off once its
    // policy is attached, and then on only while a step that uses it runs (BucketUserSwitch).
    const users = registered.filter((r) => r.type === "minio:index/iamUser:IamUser");
    expect(users).toHaveLength(3);
    for (const user of users) expect(user.inputs.disableUser).toBeUndefined();
  });
});

describe("storage helpers", () => {
  it("nests a dotted values path", () => {
    expect(storage.valuesAt("license.key", "k")).toEqual({ license: { key: "k" } });
  });

  it("treats a chart without repo as a local path and merges extra values deeply", () => {
    const args = storage.releaseArgs(
      { chart: "charts/neuronsan", values: { license: { tier: "gold" }, replicas: 1 } },
      "storage",
      { license: { key: "k" } },
    );
    expect(args.repositoryOpts).toBeUndefined();
    expect(args.chart).toBe("charts/neuronsan");
    expect(args.values).toEqual({ license: { tier: "gold", key: "k" }, replicas: 1 });
    expect(args.atomic).toBe(true);
  });
});

describe("data-plane helpers", () => {
  it("quotes any value so sh reads it back unchanged", () => {
    for (const value of ["plain", "it's", "a b", '"$HOME" `id` \\ ; | & *', "new\nline", ""]) {
      const echoed = execFileSync("sh", [
        "-c",
        `printf %s ${dataPlane.shellQuote(value)}`,
      ]).toString();
      expect(echoed).toBe(value);
    }
  });

  it("builds a stdin program that sh parses, its settings exported and its secrets set but never exported", async () => {
    const program = await settle(
      dataPlane.stdinProgram("cleanup.sh", { RUN_ID: "run-1", S3_SECRET_KEY: "it's $ecret" }),
    );
    expect(program).toBe(
      dataPlane.stdinProgramText("cleanup.sh", { RUN_ID: "run-1", S3_SECRET_KEY: "it's $ecret" }),
    );
    execFileSync("sh", ["-n"], { input: program });
    const head = program.split("\n").slice(0, 4).join("\n");
    const env = execFileSync("sh", ["-c", `${head}\nenv`], { env: {} })
      .toString()
      .split("\n");
    expect(env).toContain("RUN_ID=run-1");
    expect(env.filter((line) => line.startsWith("S3_SECRET_KEY"))).toEqual([]);
    const shell = execFileSync("sh", [
      "-c",
      `${head}\nprintf '%s|%s' "$S3_SECRET_KEY" "$FERRY_STDIN_FILE_VALUES"`,
    ]);
    expect(shell.toString()).toBe(`it's $ecret|${dataPlane.stdinFileValues.join(" ")}`);
  });

  it.each(["HUP", "INT", "TERM"] as const)(
    "removes the step's private directory of secrets on %s, passing the signal to the program",
    async (signal) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-signal-"));
      const bin = path.join(dir, "bin");
      const tmp = path.join(dir, "tmp");
      fs.mkdirSync(bin);
      fs.mkdirSync(tmp);
      // A stand-in for ferry-dataplane that says where its secret file is, then waits.
      fs.writeFileSync(
        path.join(bin, "ferry-dataplane"),
        '#!/bin/sh\nprintf "%s\\n" "$RUN_KEY_FILE"\nexec sleep 30\n',
        { mode: 0o755 },
      );
      const program = dataPlane.stdinProgramText("cleanup.sh", { RUN_ID: "run-1", RUN_KEY: "k" });
      const step = spawn("sh", ["-s"], {
        env: { PATH: `${bin}:${process.env.PATH ?? ""}`, TMPDIR: tmp },
      });
      const ended = new Promise<number | null>((resolve) => step.on("close", resolve));
      step.stdin.end(program);
      const secretFile = await new Promise<string>((resolve) =>
        step.stdout.once("data", (d: Buffer) => resolve(d.toString().trim())),
      );
      expect(fs.readFileSync(secretFile, "utf8")).toBe("k");
      step.kill(`SIG${signal}`);
      await ended;
      expect(fs.readdirSync(tmp)).toEqual([]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  );

  it("ships lib.sh with every script a pod runs", () => {
    expect(Object.keys(dataPlane.scriptsConfigMapData(["import.sh", "verify.sh"])).sort()).toEqual([
      "import.sh",
      "lib.sh",
      "verify.sh",
    ]);
  });

  it("builds a locked-down Job that reads its secrets from files", () => {
    const job = jobs.dataPlaneJob({
      name: "ferry-import-run-1",
      namespace: "ferry",
      image: "tools:1",
      imagePullPolicy: "IfNotPresent",
      imagePullSecrets: [],
      script: "import.sh",
      scriptsConfigMap: "scripts",
      env: { RUN_ID: "run-1" },
      secretFiles: {
        DEST_PASSWORD_FILE: { secretName: "database", key: "root-password" },
        S3_SECRET_KEY_FILE: { secretName: "bucket", key: "s3-secret-key" },
      },
      timeoutMinutes: 30,
      timeoutKey: "ferry:migration.importTimeoutMinutes",
      backoffLimit: 1,
      labels: { a: "b" },
    }) as any;
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(job.spec.activeDeadlineSeconds).toBe(1800);
    expect(job.metadata.annotations).toEqual({ "pulumi.com/replaceUnready": "true" });
    expect(pod.containers[0].env).toEqual([
      { name: "RUN_ID", value: "run-1" },
      { name: "DEST_PASSWORD_FILE", value: "/var/run/ferry/secrets/root-password" },
      { name: "S3_SECRET_KEY_FILE", value: "/var/run/ferry/secrets/s3-secret-key" },
      // The deadline a step stopped by it names, with the setting that makes it.
      { name: "STEP_DEADLINE_SECONDS", value: "1800" },
      { name: "STEP_DEADLINE_KEY", value: "ferry:migration.importTimeoutMinutes" },
      { name: "TMPDIR", value: "/tmp" },
      { name: "HOME", value: "/tmp" },
    ]);
    // The restricted Pod Security Standard, field by field.
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.containers[0].securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    // One projected volume: each step sees only the keys it reads, from whichever Secret holds them.
    expect(pod.volumes[1]).toEqual({
      name: "secrets",
      projected: {
        defaultMode: 0o440,
        sources: [
          {
            secret: { name: "database", items: [{ key: "root-password", path: "root-password" }] },
          },
          { secret: { name: "bucket", items: [{ key: "s3-secret-key", path: "s3-secret-key" }] } },
        ],
      },
    });
  });
});

describe("object store URLs", () => {
  const store = {
    endpoint: "10.0.0.1:9000",
    useTls: true,
    insecureSkipVerify: false,
    accessKey: "admin",
    region: "us-east-1",
    bucketPrefix: "ferry-",
    expiryDays: 7,
  };
  const base = {
    host: "db",
    port: 3306,
    user: "u",
    databases: ["shop"],
    tls: { mode: "verify-identity" as const },
  };

  it("gives each side its own setting first, then the nearest default", () => {
    expect(bucketAccess.objectStoreUrls(store, { ...base, mode: "local" })).toEqual({
      operator: "https://10.0.0.1:9000",
      cluster: "https://10.0.0.1:9000",
      source: "https://10.0.0.1:9000",
    });
    const inCluster = { ...store, clusterEndpoint: "http://minio.storage:9000" };
    const kubernetes = {
      ...base,
      mode: "kubernetes" as const,
      kubernetes: {
        namespace: "default",
        toolsImage: "t",
        imagePullPolicy: "Never" as const,
        dnsPods: { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } },
      },
    };
    expect(bucketAccess.objectStoreUrls(inCluster, kubernetes).source).toBe(
      "http://minio.storage:9000",
    );
    expect(
      bucketAccess.objectStoreUrls(inCluster, {
        ...kubernetes,
        kubernetes: { ...kubernetes.kubernetes, objectStoreEndpoint: "http://minio.old:9000" },
      }).source,
    ).toBe("http://minio.old:9000");
    const ssh = {
      ...base,
      mode: "ssh" as const,
      ssh: {
        host: "h",
        port: 22,
        user: "u",
        insecureIgnoreHostKey: false,
        privateKey: pulumi.secret("k"),
      },
    };
    expect(bucketAccess.objectStoreUrls(inCluster, ssh).source).toBe("https://10.0.0.1:9000");
  });

  it("names bucket users apart for two projects with one stack name, and a run's apart from the next's, in the characters MinIO accepts", () => {
    const name = bucketAccess.bucketUserName;
    expect(name("ferry", "Prod_EU.1", "ferry-abc", "r1", "dump")).toMatch(
      /^ferry-prod-eu-1-[0-9a-f]{10}-dump$/,
    );
    const names = new Set([
      name("ferry", "prod", "ferry-abc", "r1", "dump"),
      name("other", "prod", "ferry-abc", "r1", "dump"),
      name("ferry", "prod", "ferry-xyz", "r1", "dump"),
      name("ferry", "prod", "ferry-abc", "r2", "dump"),
      name("ferry", "prod", "ferry-abc", "r1", "read"),
      // Parts that run together do not make the same name.
      name("ferry-p", "rod", "ferry-abc", "r1", "dump"),
    ]);
    expect(names.size).toBe(6);
  });
});
