import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

/**
 * Real servers for the data-plane tests: MariaDB from Debian and MinIO built from its Go module,
 * each on a random loopback port with its own temporary directory, stopped after the tests.
 */

export const repoRoot = path.join(__dirname, "..", "..");
export const dataPlaneDir = path.join(repoRoot, "dataplane");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function requireTool(name: string): void {
  if (spawnSync("sh", ["-c", `command -v ${name}`]).status !== 0) {
    throw new Error(
      `${name} is not on PATH: run the tests with npm test, which installs and builds it`,
    );
  }
}

async function waitFor(what: string, check: () => boolean, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface SqlResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** A MariaDB server of its own; root logs in over the socket, users over TCP. */
export class MariaDb {
  private constructor(
    readonly name: string,
    readonly dir: string,
    /** Its data directory (a physical backup reads it). */
    readonly dataDir: string,
    readonly port: number,
    private readonly process: ChildProcess,
  ) {}

  get socket(): string {
    return path.join(this.dir, "mysqld.sock");
  }

  /** The server's process id (the benchmark reads its CPU use). */
  get pid(): number | undefined {
    return this.process.pid;
  }

  /**
   * Starts a server. `fixedPort` replaces the random port; `dataDir` puts the data files elsewhere
   * (a small filesystem, for a disk-full test); `settings` are server options that override the
   * small test defaults (the benchmark's buffer pool and redo log).
   */
  static async start(
    name: string,
    fixedPort?: number,
    dataDir?: string,
    settings: string[] = [],
  ): Promise<MariaDb> {
    requireTool("mariadbd");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ferry-${name}-`));
    const data = dataDir ?? path.join(dir, "data");
    const install = spawnSync(
      "mariadb-install-db",
      [
        "--no-defaults",
        `--datadir=${data}`,
        "--auth-root-authentication-method=socket",
        "--skip-test-db",
        "--user=root",
        "--innodb-log-file-size=16M",
      ],
      { encoding: "utf8" },
    );
    if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr}`);
    return MariaDb.launch(name, dir, data, fixedPort ?? (await freePort()), settings);
  }

  /**
   * Starts a server on data files made elsewhere (a physical backup restored into `data`); `dir`
   * holds its socket and logs and is removed by stop(), with `data` if it lies inside.
   */
  static async startOn(
    name: string,
    dir: string,
    data: string,
    settings: string[] = [],
  ): Promise<MariaDb> {
    requireTool("mariadbd");
    return MariaDb.launch(name, dir, data, await freePort(), settings);
  }

  private static async launch(
    name: string,
    dir: string,
    data: string,
    port: number,
    settings: string[],
  ): Promise<MariaDb> {
    const process = spawn(
      "mariadbd",
      [
        "--no-defaults",
        `--datadir=${data}`,
        `--socket=${path.join(dir, "mysqld.sock")}`,
        `--port=${port}`,
        "--bind-address=127.0.0.1",
        "--user=root",
        `--log-bin=${path.join(dir, "binlog")}`,
        "--server-id=1",
        "--innodb-buffer-pool-size=64M",
        "--innodb-log-file-size=16M",
        "--character-set-server=utf8mb4",
        `--log-error=${path.join(dir, "error.log")}`,
        ...settings,
      ],
      { stdio: "ignore" },
    );
    const server = new MariaDb(name, dir, data, port, process);
    await waitFor(`MariaDB ${name}`, () => server.sql("SELECT 1").status === 0, 60);
    return server;
  }

  /** Runs SQL as root over the socket. */
  sql(query: string, database?: string): SqlResult {
    const result = spawnSync(
      "mariadb",
      [
        "--no-defaults",
        `--socket=${this.socket}`,
        "-uroot",
        "--batch",
        "--skip-column-names",
        "--default-character-set=utf8mb4",
        // As a DBA's own sessions may: comments inside stored programs stay in their bodies.
        "--comments",
        ...(database ? [database] : []),
      ],
      // Room for a binary log's events, which the tests read back whole.
      { input: query, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 },
    );
    return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  }

  /** The first row of a query's result by column name (SHOW SLAVE STATUS), as root over the socket. */
  vertical(query: string): Record<string, string> {
    const result = spawnSync(
      "mariadb",
      ["--no-defaults", `--socket=${this.socket}`, "-uroot", "--vertical", "-e", query],
      { encoding: "utf8" },
    );
    if (result.status !== 0) throw new Error(`SQL failed on ${this.name}: ${result.stderr}`);
    const row: Record<string, string> = {};
    for (const line of result.stdout.split("\n")) {
      const match = /^\s*([A-Za-z_]+): (.*)$/.exec(line);
      if (match) row[match[1]] = match[2];
    }
    return row;
  }

  /**
   * An open root session over the socket: `send` writes statements to it, `end` closes it. Holds
   * what a session holds (a table lock, a named lock) for as long as the test needs.
   */
  session(): { send: (sql: string) => void; end: () => Promise<void> } {
    const client = spawn(
      "mariadb",
      ["--no-defaults", `--socket=${this.socket}`, "-uroot", "--batch", "--unbuffered"],
      { stdio: ["pipe", "ignore", "inherit"] },
    );
    return {
      send: (sql) => client.stdin.write(sql + "\n"),
      end: () =>
        new Promise((resolve) => {
          client.once("close", () => resolve());
          client.stdin.end();
        }),
    };
  }

  /** Runs SQL and fails the test on any error. */
  must(query: string, database?: string): string {
    const result = this.sql(query, database);
    if (result.status !== 0)
      throw new Error(`SQL failed on ${this.name}: ${result.stderr}\n${query}`);
    return result.stdout;
  }

  async stop(): Promise<void> {
    if (this.process.exitCode === null) {
      const exited = new Promise((r) => this.process.once("exit", r));
      this.process.kill("SIGTERM");
      await exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A MinIO server of its own, with an mc alias "admin" for the test's own checks. */
export class Minio {
  readonly rootUser = "ferry-admin";
  readonly rootPassword = `admin-${Math.random().toString(36).slice(2)}`;
  private process?: ChildProcess;

  private constructor(
    readonly dir: string,
    readonly port: number,
    /** The CA (PEM) of the certificate it serves https with; none: plain http. */
    readonly caCert?: string,
  ) {}

  /** The server's process id (the benchmark reads its CPU use). */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  get url(): string {
    return this.caCert ? `https://localhost:${this.port}` : `http://127.0.0.1:${this.port}`;
  }

  /**
   * Starts a server: plain http, or with `tls` https only, serving that certificate (for the name
   * localhost) and trusted by the test's mc through that CA alone.
   */
  static async start(tls?: { certificate: string; key: string; caCert: string }): Promise<Minio> {
    requireTool("minio");
    requireTool("mc");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-minio-"));
    if (tls) {
      fs.mkdirSync(path.join(dir, "certs"));
      fs.writeFileSync(path.join(dir, "certs", "public.crt"), tls.certificate);
      fs.writeFileSync(path.join(dir, "certs", "private.key"), tls.key, { mode: 0o600 });
      fs.mkdirSync(path.join(dir, "mc", "certs", "CAs"), { recursive: true });
      fs.writeFileSync(path.join(dir, "mc", "certs", "CAs", "ca.crt"), tls.caCert);
    }
    const server = new Minio(dir, await freePort(), tls?.caCert);
    await server.resume();
    return server;
  }

  /** Starts (or restarts) the server on the same port and data. */
  async resume(): Promise<void> {
    const consolePort = await freePort();
    this.process = spawn(
      "minio",
      [
        "server",
        path.join(this.dir, "data"),
        "--address",
        `127.0.0.1:${this.port}`,
        "--console-address",
        `127.0.0.1:${consolePort}`,
        ...(this.caCert ? ["--certs-dir", path.join(this.dir, "certs")] : []),
        "--quiet",
      ],
      {
        stdio: "ignore",
        env: {
          ...process.env,
          MINIO_ROOT_USER: this.rootUser,
          MINIO_ROOT_PASSWORD: this.rootPassword,
          MINIO_BROWSER: "off",
        },
      },
    );
    fs.mkdirSync(path.join(this.dir, "mc"), { recursive: true });
    fs.writeFileSync(
      path.join(this.dir, "mc", "config.json"),
      JSON.stringify({
        version: "10",
        aliases: {
          admin: {
            url: this.url,
            accessKey: this.rootUser,
            secretKey: this.rootPassword,
            api: "S3v4",
            path: "auto",
          },
        },
      }),
      { mode: 0o600 },
    );
    await waitFor("MinIO", () => this.mc(["ready", "admin"]).status === 0, 60);
  }

  async pause(): Promise<void> {
    if (this.process && this.process.exitCode === null) {
      const exited = new Promise((r) => this.process!.once("exit", r));
      this.process.kill("SIGTERM");
      await exited;
    }
  }

  /** Freezes the server (SIGSTOP): it keeps its connections open and answers nothing. */
  freeze(): void {
    this.process?.kill("SIGSTOP");
  }

  thaw(): void {
    this.process?.kill("SIGCONT");
  }

  /** Runs mc as the admin. */
  mc(args: string[], input?: Buffer | string): { status: number; stdout: Buffer; stderr: string } {
    const result = spawnSync(
      "mc",
      ["--config-dir", path.join(this.dir, "mc"), "--quiet", "--no-color", ...args],
      {
        input,
        maxBuffer: 1 << 30,
      },
    );
    return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr.toString() };
  }

  mustMc(args: string[], input?: Buffer | string): Buffer {
    const result = this.mc(args, input);
    if (result.status !== 0) throw new Error(`mc ${args.join(" ")} failed: ${result.stderr}`);
    return result.stdout;
  }

  async stop(): Promise<void> {
    await this.pause();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface ScriptRun {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one data-plane script as a pod or host would, with its environment. `onStderr` sees the
 * log so far each time it grows, so a test can act on an event instead of sleeping.
 */
export function runScript(
  script: string,
  env: Record<string, string>,
  onStart?: (pid: number) => void,
  onStderr?: (logSoFar: string) => void,
): Promise<ScriptRun> {
  return new Promise((resolve) => {
    const child = spawn("sh", [path.join(dataPlaneDir, script)], {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/root",
        TMPDIR: os.tmpdir(),
        ...env,
      },
    });
    if (child.pid !== undefined) onStart?.(child.pid);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr);
    });
    child.on("close", (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

/** Writes a secret to a 0600 file, as a mounted Secret would be. */
export function secretFile(dir: string, name: string, value: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, value, { mode: 0o600 });
  return file;
}

/** Whether process `pid` descends from process `ancestor`, read from /proc. */
export function descendsFrom(pid: number, ancestor: number): boolean {
  for (let current = pid; current > 1;) {
    if (current === ancestor) return true;
    try {
      const stat = fs.readFileSync(`/proc/${current}/stat`, "utf8");
      current = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {
      return false;
    }
  }
  return false;
}

/**
 * Resolves true once process `pid` has moved `bytes` through read or write calls (so an action
 * lands mid-stream however fast the machine is), false if it ended first.
 */
export async function streamed(pid: number, bytes = 256 * 1024): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    let io: string;
    try {
      io = fs.readFileSync(`/proc/${pid}/io`, "utf8");
    } catch {
      return false;
    }
    const moved = ["rchar", "wchar"]
      .map((field) => Number(new RegExp(`^${field}: ([0-9]+)$`, "m").exec(io)?.[1] ?? 0))
      .reduce((a, b) => a + b, 0);
    if (moved >= bytes) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

/** SIGKILLs process `pid` mid-stream (see streamed); false if it ended first. */
export async function killMidStream(pid: number, bytes = 256 * 1024): Promise<boolean> {
  if (!(await streamed(pid, bytes))) return false;
  process.kill(pid, "SIGKILL");
  return true;
}
