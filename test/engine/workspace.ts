import { spawn, spawnSync } from "child_process";
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
  /** The same, without blocking, for runs that must overlap; `started` gets the CLI's pid. */
  pulumiAsync(
    args: string[],
    started?: (pid: number) => void,
  ): Promise<{ status: number | null; output: string }>;
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
  // The project's entries and the Pulumi settings come from the one helper the dev commands use.
  const helper = spawnSync(
    "sh",
    [
      "-c",
      '. scripts/dev/pulumi-env.sh && ferry_link_project "$1" "$2" && ferry_pulumi_settings "$1" "$3"',
      "pulumi-env",
      repoRoot,
      project,
      path.join(work, "state"),
    ],
    { cwd: repoRoot, encoding: "utf8" },
  );
  if (helper.status !== 0) throw new Error(`scripts/dev/pulumi-env.sh failed: ${helper.stderr}`);
  for (const entry of extraEntries) {
    fs.symlinkSync(path.join(repoRoot, entry), path.join(project, entry));
  }
  const settings = Object.fromEntries(
    helper.stdout
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...settings,
    PATH: `${bin}:${process.env.PATH}`,
    // npm test builds the engine's plugins into its own home; a caller may point elsewhere.
    PULUMI_HOME: process.env.PULUMI_HOME ?? settings.PULUMI_HOME,
    PULUMI_CONFIG_PASSPHRASE: `ferry-${name}`,
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
        // A stack's export (its resources, their stack traces) outgrows the default 1 MiB.
        maxBuffer: 256 * 1024 * 1024,
      });
      return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
    },
    pulumiAsync(args, started) {
      const child = spawn("pulumi", [...args, "--non-interactive"], {
        cwd: project,
        env,
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 600_000,
      });
      if (child.pid !== undefined) started?.(child.pid);
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      return new Promise((resolve, reject) => {
        child.on("error", reject);
        child.on("close", (status) => resolve({ status, output: `${stdout}\n${stderr}` }));
      });
    },
  };
}
