import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** A process seen holding a secret: which secret, where (cmdline or environ), and the process. */
export interface SecretHolder {
  readonly key: string;
  readonly where: "cmdline" | "environ";
  readonly pid: number;
  readonly comm: string;
  /** Its command line, spaces for NULs, at most 300 characters (no secret: that is checked too). */
  readonly args: string;
}

/**
 * Watches every process on this machine (the cluster's containers included: they are processes
 * here) for the given secrets in its command line or environment, twice a second, while a run goes
 * on. The values go to the watcher in 0600 files, never on a command line.
 */
export class SecretWatch {
  private constructor(
    private readonly dir: string,
    private readonly out: string,
    private readonly loop: ChildProcess,
  ) {}

  static start(secrets: Record<string, string>): SecretWatch {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-secret-watch-"));
    const patterns = path.join(dir, "patterns");
    fs.mkdirSync(patterns, { mode: 0o700 });
    for (const [key, value] of Object.entries(secrets)) {
      // An empty pattern would match every process.
      if (value.length === 0 || value.includes("\n")) throw new Error(`secret ${key}: unusable`);
      fs.writeFileSync(path.join(patterns, key), value, { mode: 0o600 });
    }
    const out = path.join(dir, "holders");
    fs.writeFileSync(out, "");
    const loop = spawn("sh", [path.join(__dirname, "secret-watch.sh"), patterns, out], {
      stdio: "ignore",
    });
    return new SecretWatch(dir, out, loop);
  }

  /** Stops watching; returns each distinct holder seen. */
  stop(): SecretHolder[] {
    this.loop.kill("SIGKILL");
    const lines = fs.readFileSync(this.out, "utf8").split("\n");
    fs.rmSync(this.dir, { recursive: true, force: true });
    const samples: SecretHolder[] = [];
    for (const line of lines) {
      const [key, where, pid, comm, args] = line.split("\t");
      if (!key || (where !== "cmdline" && where !== "environ")) continue;
      samples.push({ key, where, pid: Number(pid), comm, args: args ?? "" });
    }
    // A process that exits between the match and the read of its command line shows none there;
    // another sample of the same process names it.
    const argsOf = new Map<number, string>();
    for (const h of samples)
      if (h.args.length > (argsOf.get(h.pid) ?? "").length) argsOf.set(h.pid, h.args);
    const seen = new Map<string, SecretHolder>();
    for (const h of samples)
      seen.set(`${h.key} ${h.where} ${h.pid}`, { ...h, args: argsOf.get(h.pid) ?? "" });
    return [...seen.values()];
  }
}
