import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { engineWorkspace, repoRoot, type EngineWorkspace } from "./workspace";

/**
 * ferry's configuration checks as the real Pulumi engine runs them: the CLI and language host built
 * by scripts/build/toolchain.sh, a file backend in a temporary directory, nothing from the network.
 */

let workspace: EngineWorkspace;

function pulumi(args: string[], input?: string) {
  return workspace.pulumi(args, input);
}

/** A stack file made from the dev stack with one change, its secrets set through the CLI. */
function stackFile(
  name: string,
  change: (config: Record<string, any>) => void,
  secrets: Record<string, string>,
): string {
  const dev = parse(fs.readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8"));
  change(dev.config);
  const file = path.join(workspace.work, `Pulumi.${name}.yaml`);
  fs.writeFileSync(file, stringify(dev));
  for (const [key, value] of Object.entries(secrets)) {
    const set = pulumi(
      ["config", "set", "--secret", "--stack", "enginetest", "--config-file", file, key],
      value,
    );
    expect(set.status, set.output).toBe(0);
  }
  return file;
}

const allSecrets = {
  sourcePassword: "engine-test-source",
  destinationRootPassword: "engine-test-root",
  objectStoreSecretKey: "engine-test-store",
};

beforeAll(() => {
  workspace = engineWorkspace("engine");
  const init = pulumi(["stack", "init", "enginetest"]);
  expect(init.status, init.output).toBe(0);
});

afterAll(() => {
  if (workspace) fs.rmSync(workspace.work, { recursive: true, force: true });
});

describe("the real engine", () => {
  it("runs on a Pulumi CLI no older than the one ferry pins", () => {
    const version = pulumi(["version"]).output.trim();
    expect(version).toMatch(/^v3\.[0-9]+\.[0-9]+$/);
    expect(Number(version.split(".")[1])).toBeGreaterThanOrEqual(259);
  });

  it("fails preview on a bad value, naming the key and the fix, before any resource", () => {
    const file = stackFile(
      "bad-databases",
      (config) => (config["ferry:source"].databases = []),
      allSecrets,
    );
    const preview = pulumi(["preview", "--stack", "enginetest", "--config-file", file]);
    expect(preview.status).not.toBe(0);
    expect(preview.output).toContain("ferry:source.databases: must list at least one database");
    expect(preview.output).not.toMatch(/kubernetes:|minio:|command:/);
  });

  it("lists every problem at once", () => {
    const file = stackFile(
      "two-problems",
      (config) => {
        config["ferry:migration"].compression = "xz";
        config["ferry:destination"].storageSize = "lots";
      },
      allSecrets,
    );
    const preview = pulumi(["preview", "--stack", "enginetest", "--config-file", file]);
    expect(preview.status).not.toBe(0);
    expect(preview.output).toContain(
      "ferry:destination.storageSize: must be a Kubernetes quantity such as 500m, 1Gi or 20Gi",
    );
    expect(preview.output).toContain("ferry:migration.compression: must be gzip or zstd");
  });

  it("refuses a password kept in plain text", () => {
    const file = stackFile(
      "plain-password",
      (config) => (config["ferry:sourcePassword"] = "not-encrypted"),
      {
        destinationRootPassword: "x",
        objectStoreSecretKey: "y",
      },
    );
    const preview = pulumi(["preview", "--stack", "enginetest", "--config-file", file]);
    expect(preview.status).not.toBe(0);
    expect(preview.output).toContain(
      "configuration key 'sourcePassword' must be encrypted as it's secret",
    );
  });

  it("names a missing secret", () => {
    const file = stackFile("no-password", () => undefined, {
      destinationRootPassword: "x",
      objectStoreSecretKey: "y",
    });
    const preview = pulumi(["preview", "--stack", "enginetest", "--config-file", file]);
    expect(preview.status).not.toBe(0);
    expect(preview.output).toContain("missing configuration value 'sourcePassword'");
  });

  it("previews the whole graph of the dev stack with the providers ferry builds", () => {
    const file = stackFile("whole-graph", () => undefined, allSecrets);
    const preview = pulumi(["preview", "--stack", "enginetest", "--config-file", file, "--json"]);
    expect(preview.status, preview.output).toBe(0);
    const steps = JSON.parse(preview.output.slice(0, preview.output.lastIndexOf("}") + 1))
      .steps as {
      op: string;
      urn: string;
    }[];
    const counts: Record<string, number> = {};
    // What the certificates Job needs of the cluster is read, and only once the namespace exists:
    // a first preview reads nothing (the cluster here is unreachable).
    const readTypes = [
      "kubernetes:discovery.k8s.io/v1:EndpointSlice",
      "kubernetes:core/v1:ConfigMap::ferry-database-tls-public",
    ];
    for (const step of steps) {
      const type = step.urn.split("::")[2].split("$").pop()!;
      const read = readTypes.some((t) => `${type}::${step.urn.split("::")[3]}`.startsWith(t));
      expect(step.op, step.urn).toBe(read ? "read" : "create");
      counts[type] = (counts[type] ?? 0) + 1;
    }
    expect(counts).toEqual({
      "pulumi:pulumi:Stack": 1,
      "ferry:components:Migration": 1,
      "pulumi:providers:kubernetes": 1,
      "pulumi:providers:minio": 1,
      "ferry:components:ObjectStore": 1,
      "minio:index/s3Bucket:S3Bucket": 1,
      "minio:index/ilmPolicy:IlmPolicy": 1,
      // One bucket user a role: dump, read, cleanup.
      "minio:index/iamUser:IamUser": 3,
      "minio:index/iamPolicy:IamPolicy": 3,
      "minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment": 3,
      "ferry:components:SourceDump": 1,
      "ferry:components:RunKey": 1,
      "ferry:components:BucketRevocation": 1,
      "ferry:components:StepLog": 1,
      "ferry:components:RootPasswordKept": 1,
      // The run key's, the preflight's, the dump's, the import's log, the report's, the
      // revocation's, the root password's check.
      "command:local:Command": 7,
      "ferry:components:StorageStack": 1,
      "kubernetes:helm.sh/v3:Release": 3,
      "kubernetes:storage.k8s.io/v1:StorageClass": 1,
      "kubernetes:storage.k8s.io/v1:StorageClassPatch": 1,
      "ferry:components:DestinationDatabase": 1,
      "kubernetes:core/v1:Namespace": 1,
      "kubernetes:core/v1:PersistentVolumeClaim": 2,
      // The database's password, the Jobs' keys (the server's TLS is made in the cluster).
      "kubernetes:core/v1:Secret": 2,
      // The Jobs' scripts; the certificates' public ConfigMap, read once the Job has run.
      "kubernetes:core/v1:ConfigMap": 2,
      "ferry:components:ServerCertificates": 1,
      "kubernetes:core/v1:ServiceAccount": 1,
      "kubernetes:rbac.authorization.k8s.io/v1:Role": 1,
      "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": 1,
      "kubernetes:discovery.k8s.io/v1:EndpointSlice": 1,
      "kubernetes:apps/v1:Deployment": 2,
      "kubernetes:core/v1:Service": 1,
      "ferry:components:NetworkPolicies": 1,
      // The namespace's three, and the certificates Job's egress to the API server.
      "kubernetes:networking.k8s.io/v1:NetworkPolicy": 4,
      "ferry:components:DestinationJobs": 1,
      "ferry:components:ImportJob": 1,
      "ferry:components:Verification": 1,
      "ferry:components:Cleanup": 1,
      "ferry:components:RunReport": 1,
      // The certificates, the import, the verification, the cleanup.
      "kubernetes:batch/v1:Job": 4,
    });
  });
});
