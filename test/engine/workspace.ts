import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const repoRoot = path.join(__dirname, "..", "..");

/** A throw-away place to run the real Pulumi CLI on ferry's project. */
export interface EngineWorkspace {
  /** Root of the temporary directory; remove it when done. */
  readonly work: string;
  /** The project, linked into the work directory so no stack file ever lands in the repo. */
  readonly project: string;
  /** The environment: the built CLI first on PATH, a file backend in the work directory. */
  readonly env: NodeJS.ProcessEnv;
  /** Runs `pulumi ARGS --non-interactive` in the project; stdout and stderr together. */
  pulumi(args: string[], input?: string): { status: number | null; output: string };
}

export function engineWorkspace(name: string, extraEntries: string[] = []): EngineWorkspace {
  const bin = process.env.FERRY_PULUMI_BIN;
  if (!bin) {
    throw new Error(
      "FERRY_PULUMI_BIN is not set: run the tests with npm test, which builds the engine",
    );
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `ferry-${name}-`));
  fs.mkdirSync(path.join(work, "state"));
  const project = path.join(work, "project");
  fs.mkdirSync(project);
  const entries = [
    "Pulumi.yaml",
    "index.ts",
    "components",
    "charts",
    "node_modules",
    "package.json",
    "tsconfig.json",
  ];
  for (const entry of [...entries, ...extraEntries]) {
    fs.symlinkSync(path.join(repoRoot, entry), path.join(project, entry));
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    PULUMI_HOME: process.env.PULUMI_HOME ?? path.join(repoRoot, ".ferry", "pulumi-home"),
    PULUMI_BACKEND_URL: `file://${path.join(work, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: `ferry-${name}`,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
  return {
    work,
    project,
    env,
    pulumi(args, input) {
      const result = spawnSync("pulumi", [...args, "--non-interactive"], {
        cwd: project,
        env,
        input,
        encoding: "utf8",
        timeout: 600_000,
      });
      return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
    },
  };
}
