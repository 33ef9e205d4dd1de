import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { descendsFrom } from "../test/support/servers";

/** A command's wall time, exit status, output and the peak RSS of each program it ran. */
export interface Measured {
  seconds: number;
  status: number;
  stdout: string;
  stderr: string;
  /** Program name (as /proc/<pid>/status "Name") to its largest peak RSS seen, in MiB. */
  peakRssMib: Record<string, number>;
  /** The most bytes seen at once in the files under the command's TMPDIR (its local disk use). */
  peakTmpBytes: number;
}

/** The bytes of every file below `dir` now; files that vanish while it counts count nothing. */
export function bytesBelow(dir: string): number {
  let total = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true, recursive: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    try {
      total += fs.statSync(path.join(entry.parentPath, entry.name)).size;
    } catch {
      // removed between the listing and the stat
    }
  }
  return total;
}

/**
 * The largest VmHWM (the kernel's own high-water mark of resident memory) of every process below
 * `root`, read every `intervalMs`. VmHWM only grows, so a process sampled once before it exits
 * reports nearly its true peak; one that lives less than an interval may be missed, which only
 * short helpers (sed, date) do.
 */
function sampleTree(root: number, peaks: Record<string, number>): void {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid !== root && !descendsFrom(pid, root)) continue;
    let status: string;
    try {
      status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    } catch {
      continue;
    }
    const name = /^Name:\s+(.*)$/m.exec(status)?.[1];
    const hwm = /^VmHWM:\s+([0-9]+) kB$/m.exec(status)?.[1];
    if (!name || !hwm) continue;
    const mib = Number(hwm) / 1024;
    peaks[name] = Math.max(peaks[name] ?? 0, Math.round(mib * 10) / 10);
  }
}

/**
 * Runs `command` and measures it. It gets a TMPDIR of its own (under `tmpParent`, removed after),
 * whose size is sampled with the processes' memory: what the command keeps on local disk.
 */
export function measure(
  command: string,
  args: string[],
  env: Record<string, string>,
  intervalMs = 100,
  tmpParent = os.tmpdir(),
): Promise<Measured> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const tmp = fs.mkdtempSync(path.join(tmpParent, "bench-tmp-"));
    const child = spawn(command, args, {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? os.homedir(),
        TMPDIR: tmp,
        ...env,
      },
    });
    const peaks: Record<string, number> = {};
    let peakTmpBytes = 0;
    const timer = setInterval(() => {
      if (child.pid) sampleTree(child.pid, peaks);
      peakTmpBytes = Math.max(peakTmpBytes, bytesBelow(tmp));
    }, intervalMs);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (status) => {
      clearInterval(timer);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      fs.rmSync(tmp, { recursive: true, force: true });
      resolve({ seconds, status: status ?? -1, stdout, stderr, peakRssMib: peaks, peakTmpBytes });
    });
  });
}

/** Each program's largest peak RSS over several measurements. */
export function largestPeaks(
  measured: { peakRssMib: Record<string, number> }[],
): Record<string, number> {
  const peaks: Record<string, number> = {};
  for (const m of measured)
    for (const [name, value] of Object.entries(m.peakRssMib))
      peaks[name] = Math.max(peaks[name] ?? 0, value);
  return peaks;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
