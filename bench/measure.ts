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
  /**
   * CPU seconds (user + system) by program: the command's own processes as last sampled (a
   * process that lives less than an interval is missed, as for the memory), and each watched
   * process's use between the command's start and end.
   */
  cpuSeconds: Record<string, number>;
}

const ticksPerSecond = 100; // the kernel's USER_HZ, 100 on every Linux this runs on

/** utime + stime of process `pid` in clock ticks, all its threads; undefined once it is gone. */
function cpuTicks(pid: number): number | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The program name (field 2) is in parentheses and may hold spaces: count from after it.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
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
function sampleTree(
  root: number,
  peaks: Record<string, number>,
  ticks: Map<number, { name: string; ticks: number }>,
): void {
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
    const used = cpuTicks(pid);
    if (used !== undefined) ticks.set(pid, { name, ticks: used });
  }
}

/** Processes outside the command whose CPU it causes (the servers), by the name to report. */
let watched: Record<string, number> = {};

/** Every later measurement also reports these processes' CPU use during it. */
export function watchCpuOf(processes: Record<string, number>): void {
  watched = processes;
}

/**
 * Runs `command` and measures it. It gets a TMPDIR of its own (removed after), whose size is
 * sampled with the processes' memory: what the command keeps on local disk.
 */
export function measure(
  command: string,
  args: string[],
  env: Record<string, string>,
  intervalMs = 100,
): Promise<Measured> {
  const watchedAtStart = Object.entries(watched).map(
    ([name, pid]) => [name, pid, cpuTicks(pid) ?? 0] as const,
  );
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-tmp-"));
    const child = spawn(command, args, {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? os.homedir(),
        TMPDIR: tmp,
        ...env,
      },
    });
    const peaks: Record<string, number> = {};
    const ticks = new Map<number, { name: string; ticks: number }>();
    let peakTmpBytes = 0;
    const timer = setInterval(() => {
      if (child.pid) sampleTree(child.pid, peaks, ticks);
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
      const cpuSeconds: Record<string, number> = {};
      for (const { name, ticks: used } of ticks.values())
        cpuSeconds[name] = (cpuSeconds[name] ?? 0) + used / ticksPerSecond;
      for (const [name, pid, before] of watchedAtStart)
        cpuSeconds[name] = ((cpuTicks(pid) ?? before) - before) / ticksPerSecond;
      resolve({
        seconds,
        status: status ?? -1,
        stdout,
        stderr,
        peakRssMib: peaks,
        peakTmpBytes,
        cpuSeconds,
      });
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

/** Each program's CPU seconds summed over several measurements (the steps of one pipeline). */
export function cpuTotals(
  measured: { cpuSeconds: Record<string, number> }[],
  { together = false } = {},
): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const m of measured)
    for (const [name, value] of Object.entries(m.cpuSeconds))
      // Commands measured at the same time each saw all of a watched process's use: counted once.
      totals[name] =
        together && name in watched
          ? Math.max(totals[name] ?? 0, value)
          : (totals[name] ?? 0) + value;
  return totals;
}

/** "name 12.3s, name 4.5s": the programs that used a tenth of a second or more, most first. */
export function describeCpu(cpuSeconds: Record<string, number>): string {
  return Object.entries(cpuSeconds)
    .filter(([, seconds]) => seconds >= 0.1)
    .sort((a, b) => b[1] - a[1])
    .map(([name, seconds]) => `${name} ${seconds.toFixed(1)}s`)
    .join(", ");
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
