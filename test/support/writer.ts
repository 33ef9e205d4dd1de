import { Worker } from "worker_threads";

/** Where an application writes: a MariaDB server over verified TLS, as an account of its own. */
export interface WriterTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /**
   * The CA file the server's certificate is checked against (its name too). Without it the session
   * is TLS with the certificate unchecked: for an address no certificate names (a Service's
   * cluster IP that leads to one server, then another).
   */
  readonly caFile?: string;
}

export interface Writer {
  acknowledgedSoFar: () => number;
  refusedSoFar: () => number;
  /**
   * Stops after the write in flight; the ids the server acknowledged, in order, and when each was
   * (Date.now()).
   */
  stop: () => Promise<{
    acknowledged: number[];
    acknowledgedAt: number[];
    refused: number;
    /** Each transaction's start (Date.now()), how long its client ran, and its exit status. */
    attempts: { startedAt: number; ms: number; status: number }[];
  }>;
}

/** One transaction's client: when it started (Date.now()), how long it ran, its exit status. */
interface Attempt {
  readonly id: number;
  readonly startedAt: number;
  readonly ms: number;
  readonly status: number;
}

/**
 * The writer's loop, in a worker thread of its own: a test's synchronous calls (a `pulumi up` run
 * by spawnSync) block the test's event loop for their whole length, and a loop there would stop
 * writing meanwhile, so "while the application writes" would not hold during the very step a test
 * watches. The worker starts each client, waits for it, and posts each attempt.
 */
const writerLoop = `
const { parentPort, workerData } = require("worker_threads");
const { spawn } = require("child_process");
const { args, password, transaction, firstId, pauseMs } = workerData;
let running = true;
parentPort.on("message", () => (running = false));
(async () => {
  for (let id = firstId; running; id++) {
    const startedAt = Date.now();
    const status = await new Promise((resolve) => {
      const child = spawn("mariadb", [...args, "-e", transaction.replaceAll("{id}", String(id))], {
        env: { ...process.env, MYSQL_PWD: password },
        stdio: "ignore",
      });
      child.on("close", (code) => resolve(code === null ? -1 : code));
    });
    parentPort.postMessage({ id, startedAt, ms: Date.now() - startedAt, status });
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
  }
  parentPort.postMessage("stopped");
})();
`;

/**
 * An application writing to a server, one transaction a client session (`transaction` with `{id}`
 * replaced by the id, counting up from firstId), recording each id whose transaction the server
 * acknowledged and counting those it refused, until stopped. It goes on after a refusal, as an
 * application retries. Its loop runs in a worker thread (writerLoop), so it writes on while the
 * test waits for something synchronously. The password reaches the one client process that needs
 * it, in its environment.
 */
export function startWriter(
  target: WriterTarget,
  transaction: string,
  options: { firstId: number; pauseMs?: number },
): Writer {
  const attempts: Attempt[] = [];
  const args = [
    "--no-defaults",
    "-h",
    target.host,
    "-P",
    String(target.port),
    "-u",
    target.user,
    ...(target.caFile ? ["--ssl-ca", target.caFile, "--ssl-verify-server-cert"] : ["--ssl"]),
  ];
  const worker = new Worker(writerLoop, {
    eval: true,
    workerData: {
      args,
      password: target.password,
      transaction,
      firstId: options.firstId,
      pauseMs: options.pauseMs ?? 0,
    },
  });
  const stopped = new Promise<void>((resolve, reject) => {
    worker.on("message", (message: Attempt | "stopped") => {
      if (message === "stopped") resolve();
      else attempts.push(message);
    });
    worker.on("error", reject);
    worker.on("exit", () => resolve());
  });
  const acknowledged = () => attempts.filter((a) => a.status === 0);
  return {
    acknowledgedSoFar: () => acknowledged().length,
    refusedSoFar: () => attempts.length - acknowledged().length,
    stop: async () => {
      worker.postMessage("stop");
      await stopped;
      await worker.terminate();
      const ok = acknowledged();
      return {
        acknowledged: ok.map((a) => a.id),
        acknowledgedAt: ok.map((a) => a.startedAt + a.ms),
        refused: attempts.length - ok.length,
        attempts,
      };
    },
  };
}

/** Waits until done() holds, checking every 50 ms, for `seconds` at most. */
export async function until(done: () => boolean, what: string, seconds = 30): Promise<void> {
  const started = Date.now();
  while (!done()) {
    if (Date.now() - started > seconds * 1000) throw new Error(`waited ${seconds} s for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
