import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";

/**
 * scripts/build/progress.sh, as the build scripts use it: steps counted before they run, one line
 * each, the step's own output in its log and shown only when it fails, a failing command stopping
 * its step there.
 */
const progress = path.join(__dirname, "..", "..", "scripts", "build", "progress.sh");

function build(steps: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-progress-"));
  const script = `set -eu
FERRY_CACHE="${dir}/cache"
say() { printf 'ferry test: %s\\n' "$*" >&2; }
. "${progress}"
noisy() { echo "go: downloading a thousand modules"; }
failing() { echo "first line"; echo "go: build failed: the reason" >&2; false; touch reached; }
steps() {
${steps}
}
progress_init
progress_plan_mode
steps
progress_run_mode
steps
echo finished`;
  const run = spawnSync("sh", ["-c", script], { cwd: dir, encoding: "utf8" });
  const log = (key: string) =>
    fs.readFileSync(path.join(dir, ".ferry", "logs", `${key}.log`), "utf8");
  const times = (key: string) =>
    fs.readFileSync(path.join(dir, "cache", "step-times", key), "utf8");
  return { run, dir, log, times };
}

describe("the build's progress lines", () => {
  it("number the steps that run, keep their output in a log, and remember how long each took", () => {
    const first = build(`  progress_step one "the first step" noisy
  [ -e skip ] || progress_step two "the second step" true`);
    expect(first.run.status, first.run.stderr).toBe(0);
    expect(first.run.stdout).toBe("finished\n");
    expect(first.run.stderr).toMatch(/^ferry test: \[1\/2\] the first step \(\d+s in\)$/m);
    expect(first.run.stderr).toMatch(/^ferry test: \[2\/2\] done in \d+s$/m);
    // The tool's own output is in the log, not on the screen.
    expect(first.run.stderr).not.toContain("go: downloading");
    expect(first.log("one")).toBe("go: downloading a thousand modules\n");
    expect(first.times("one")).toMatch(/^\d+\n$/);
  });

  it("show a failed step's last lines and its log, stop the step at the failing command, and fail the build", () => {
    const failed = build(`  progress_step ok "a step that works" true
  progress_step broken "a step that fails" failing
  progress_step never "a step after it" true`);
    expect(failed.run.status).not.toBe(0);
    expect(failed.run.stdout).toBe("");
    expect(failed.run.stderr).toContain(
      "[2/3] FAILED after 0s: a step that fails; the last lines of .ferry/logs/broken.log:\nfirst line\ngo: build failed: the reason\n",
    );
    expect(failed.run.stderr).not.toContain("[3/3]");
    expect(fs.existsSync(path.join(failed.dir, "reached"))).toBe(false);
  });
});
