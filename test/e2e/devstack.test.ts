import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { engineWorkspace, repoRoot, type EngineWorkspace } from "../engine/workspace";

/**
 * The dev stack end to end on the real engine, the providers ferry builds and a real Kubernetes
 * API server (scripts/cluster.sh). The node is simulated by kwok: the dump runs for real against
 * the local MariaDB and lands in the local MinIO, the Jobs' pods only pretend to run, and the
 * report must say that nothing was verified.
 */

const secretsDir = path.join(repoRoot, ".ferry", "dev-secrets");
const kubeconfig = path.join(repoRoot, ".ferry", "kubeconfig");
const namespace = "ferry-e2e";
let workspace: EngineWorkspace;
let stackFile: string;
let kubectlBin: string;
let startedHere = false;

function pulumi(args: string[], input?: string) {
  return workspace.pulumi([...args, "--stack", "e2e"], input);
}

function kubectl(args: string[]) {
  return spawnSync(kubectlBin, ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8" });
}

function setRunId(runId: string): void {
  const stack = parse(fs.readFileSync(stackFile, "utf8"));
  stack.config["ferry:migration"].runId = runId;
  fs.writeFileSync(stackFile, stringify(stack));
}

function previewSteps(): { op: string; type: string }[] {
  const preview = pulumi(["preview", "--json", "--config-file", stackFile]);
  expect(preview.status, preview.output).toBe(0);
  const json = JSON.parse(preview.output.slice(0, preview.output.lastIndexOf("}") + 1));
  return (json.steps as { op: string; urn: string }[]).map((s) => ({
    op: s.op,
    type: s.urn.split("::")[2].split("$").pop()!,
  }));
}

beforeAll(() => {
  const bin = process.env.FERRY_PULUMI_BIN;
  if (!bin) throw new Error("FERRY_PULUMI_BIN is not set: run the tests with npm test");
  // Leave a cluster the developer started alone; stop the one this test starts.
  const status = execFileSync("sh", ["scripts/cluster.sh", "status"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  startedHere = !status.includes("kube-apiserver: running");
  execFileSync("sh", ["scripts/cluster.sh", "up"], { cwd: repoRoot, stdio: "inherit" });
  execFileSync("sh", ["scripts/devenv.sh", "up"], { cwd: repoRoot, stdio: "inherit" });
  kubectlBin = path.join(
    execFileSync("sh", ["scripts/cluster-tools.sh"], { cwd: repoRoot, encoding: "utf8" }).trim(),
    "kubectl",
  );
  kubectl(["delete", "namespace", namespace, "--ignore-not-found", "--wait=true"]);

  workspace = engineWorkspace("e2e", [".ferry"]);
  const dev = parse(fs.readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8"));
  dev.config["ferry:destination"].namespace = namespace;
  stackFile = path.join(workspace.work, "Pulumi.e2e.yaml");
  fs.writeFileSync(stackFile, stringify(dev));
  const init = pulumi(["stack", "init"]);
  expect(init.status, init.output).toBe(0);
  for (const key of ["sourcePassword", "destinationRootPassword", "objectStoreSecretKey"]) {
    const value = fs.readFileSync(path.join(secretsDir, key), "utf8");
    const set = pulumi(["config", "set", "--secret", "--config-file", stackFile, key], value);
    expect(set.status, set.output).toBe(0);
  }
  setRunId(`e2e-${Date.now().toString(36)}`);
}, 900_000);

afterAll(() => {
  if (workspace) pulumi(["destroy", "--yes", "--config-file", stackFile]);
  kubectl(["delete", "namespace", namespace, "--ignore-not-found", "--wait=false"]);
  if (workspace) fs.rmSync(workspace.work, { recursive: true, force: true });
  if (startedHere) {
    execFileSync("sh", ["scripts/devenv.sh", "down"], { cwd: repoRoot, stdio: "inherit" });
    execFileSync("sh", ["scripts/cluster.sh", "down"], { cwd: repoRoot, stdio: "inherit" });
  }
}, 600_000);

describe("the dev stack on a real API server", () => {
  it("previews the whole graph", () => {
    const steps = previewSteps();
    expect(steps).toHaveLength(36);
    expect(steps.every((s) => s.op === "create")).toBe(true);
  });

  it("runs pulumi up, dumps for real, and reports that nothing was verified", () => {
    const up = pulumi(["up", "--yes", "--config-file", stackFile]);
    expect(up.status, up.output).toBe(0);
    const outputs = pulumi(["stack", "output", "report", "--json"]);
    const report = JSON.parse(outputs.output.slice(0, outputs.output.lastIndexOf("}") + 1));
    expect(report.dump).toMatchObject({ tables: 3, rows: 25003, compression: "zstd", streams: 3 });
    expect(report.verification).toBe(
      "NOT RECORDED: no verification result in the bucket, so nothing was verified",
    );
    expect(report.dumpObjects).toMatch(
      /^still stored: 3 of 3 objects under s3:\/\/ferry-[0-9a-f]+\/runs\/e2e-[a-z0-9]+\/$/,
    );
    expect(
      kubectl(["get", "pvc", "mysql-data", "-n", namespace, "-o", "jsonpath={.status.phase}"])
        .stdout,
    ).toBe("Bound");
    expect(
      kubectl([
        "get",
        "storageclass",
        "neuronsan",
        "-o",
        "jsonpath={.metadata.annotations.storageclass\\.kubernetes\\.io/is-default-class}",
      ]).stdout,
    ).toBe("true");
    expect(
      kubectl(["get", "job", "-n", namespace, "-o", "name"]).stdout.trim().split("\n").sort(),
    ).toEqual(expect.arrayContaining([expect.stringMatching(/^job\.batch\/ferry-import-e2e-/)]));
  });

  it("keeps every secret out of the state file, the stack file and the cluster's pod specs", () => {
    const secrets = ["sourcePassword", "destinationRootPassword", "objectStoreSecretKey"].map(
      (key) => fs.readFileSync(path.join(secretsDir, key), "utf8"),
    );
    const stateFiles = fs
      .readdirSync(path.join(workspace.work, "state"), { recursive: true, encoding: "utf8" })
      .map((file) => path.join(workspace.work, "state", file))
      .filter((file) => fs.statSync(file).isFile());
    expect(stateFiles.some((file) => file.endsWith("e2e.json"))).toBe(true);
    const pods = kubectl([
      "get",
      "pods,jobs,deployments,configmaps",
      "-n",
      namespace,
      "-o",
      "yaml",
    ]).stdout;
    expect(pods).toContain("ferry-import-");
    for (const text of [
      ...stateFiles.map((file) => fs.readFileSync(file, "utf8")),
      fs.readFileSync(stackFile, "utf8"),
      pods,
    ]) {
      for (const secret of secrets) expect(text.includes(secret)).toBe(false);
    }
  });

  it("finds nothing to change on a second preview", () => {
    const preview = pulumi(["preview", "--expect-no-changes", "--config-file", stackFile]);
    expect(preview.status, preview.output).toBe(0);
  });

  it("replaces only the run's Jobs and commands when the run id changes", () => {
    setRunId(`e2e-next-${Date.now().toString(36)}`);
    const changed = previewSteps().filter((s) => s.op !== "same");
    expect(changed.length).toBeGreaterThan(0);
    for (const step of changed) {
      expect(
        ["kubernetes:batch/v1:Job", "command:local:Command"],
        `${step.op} ${step.type}`,
      ).toContain(step.type);
    }
  });

  it("destroys everything but the data volume and its namespace", () => {
    const destroy = pulumi(["destroy", "--yes", "--config-file", stackFile]);
    expect(destroy.status, destroy.output).toBe(0);
    expect(kubectl(["get", "pvc", "mysql-data", "-n", namespace, "-o", "name"]).stdout.trim()).toBe(
      "persistentvolumeclaim/mysql-data",
    );
    expect(kubectl(["get", "deployment", "-n", namespace, "-o", "name"]).stdout.trim()).toBe("");
    expect(kubectl(["get", "job", "-n", namespace, "-o", "name"]).stdout.trim()).toBe("");
  });
});
