import { spawn } from "child_process";

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

/**
 * An application writing to a server, one transaction a client session (`transaction(id)`, the
 * ids counting up from firstId), recording each id whose transaction the server acknowledged and
 * counting those it refused, until stopped. It goes on after a refusal, as an application retries.
 * The password reaches the one client process that needs it, in its environment.
 */
export function startWriter(
  target: WriterTarget,
  transaction: (id: number) => string,
  options: { firstId: number; pauseMs?: number },
): Writer {
  let running = true;
  const acknowledged: number[] = [];
  const acknowledgedAt: number[] = [];
  const attempts: { startedAt: number; ms: number; status: number }[] = [];
  let refused = 0;
  const loop = (async () => {
    for (let id = options.firstId; running; id++) {
      const startedAt = Date.now();
      const result = await new Promise<number>((resolve) => {
        const child = spawn(
          "mariadb",
          [
            "--no-defaults",
            "-h",
            target.host,
            "-P",
            String(target.port),
            "-u",
            target.user,
            ...(target.caFile
              ? ["--ssl-ca", target.caFile, "--ssl-verify-server-cert"]
              : ["--ssl"]),
            "-e",
            transaction(id),
          ],
          { env: { ...process.env, MYSQL_PWD: target.password }, stdio: "ignore" },
        );
        child.on("close", (code) => resolve(code ?? -1));
      });
      attempts.push({ startedAt, ms: Date.now() - startedAt, status: result });
      if (result === 0) {
        acknowledged.push(id);
        acknowledgedAt.push(Date.now());
      } else refused++;
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  })();
  return {
    acknowledgedSoFar: () => acknowledged.length,
    refusedSoFar: () => refused,
    stop: async () => {
      running = false;
      await loop;
      return { acknowledged, acknowledgedAt, refused, attempts };
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
