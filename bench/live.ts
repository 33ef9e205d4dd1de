import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "util";
import { serverTlsSettings, tlsFiles } from "../components/specs/database";
import { testCertificates, writeServerTlsFiles } from "../test/support/certificates";
import { DataPlane } from "../test/support/fixture";
import { secretFile } from "../test/support/servers";
import { benchDatabases, generateDataset, parseSize, wholeNumber } from "./generate";
import { measure, median, type Measured } from "./measure";
import { settle } from "./peers";

/**
 * `npm run bench -- live`: live mode measured as an application sees it. For each size and write
 * rate, on real servers (a MariaDB source that logs ROW events over TLS, a MariaDB destination
 * with another server id, MinIO): an application (ferry-ledger) writes to the source at the rate
 * from before the dump until after the cutover, each transaction an insert of its own token and a
 * counter's update, and records every one the server acknowledged; ferry's steps run as their
 * Jobs do (dump, import, verification, replication from the dump's position, cutover). The
 * application reaches the servers as through a proxy that follows read_only (ProxySQL's
 * read_only monitoring, or a connector with a failover list): refused by a read-only server, it
 * tries the other one. Reported: the copy's time, the catch-up (how long the destination took to
 * reach the source, the largest lag seen in seconds and in transactions), ferry's own window at
 * the cutover (no write accepted anywhere) and the application's (the longest time between two
 * acknowledged transactions), and the ledger's check: every acknowledged transaction on the
 * destination exactly once. A benchmark, not a test: it fails only when a step fails or the
 * ledger does not hold.
 *
 * Options: --sizes 1G --rates 200 (each size with each rate; a fresh copy each) --seed 42
 * --hold 10 (seconds of replication after the catch-up, before the cutover) --after 5 (seconds
 * the application writes after the cutover).
 */
interface LiveOptions {
  sizes: number[];
  rates: number[];
  seed: number;
  hold: number;
  after: number;
}

interface LiveRun {
  size: number;
  rate: number;
  /** Transactions acknowledged a second, as the writer achieved it over its whole run. */
  achievedRate: number;
  copySeconds: { dump: number; import: number; verify: number };
  /** From replicate.sh's start until the destination had applied everything the source had. */
  catchUpSeconds: number;
  /** The largest lag sampled (every 250 ms) from replicate.sh's start to the cutover. */
  maxLagSeconds: number;
  maxLagTransactions: number;
  /** The lag over the hold before the cutover (median of the samples). */
  heldLagTransactions: number;
  cutoverSeconds: number;
  /** ferry's window: from the source refusing writes to the destination taking them. */
  ferryWindowMs: number;
  /** The application's: the longest time between two acknowledged transactions at the cutover. */
  applicationWindowMs: number;
  /** The application's longest pause outside the cutover, and the step it fell in. */
  longestPauseElsewhere: { ms: number; during: string };
  acknowledged: number;
  refused: number;
  lost: number;
  duplicated: number;
}

const mib = (bytes: number) => bytes / 1024 ** 2;
const log = (message: string) =>
  console.error(`${new Date().toISOString()} bench live: ${message}`);
const dataPlaneDir = path.join(process.cwd(), "dataplane");
/** The name both servers' certificate carries, which every client dials and checks. */
const serverName = "localhost";
const ledgerDatabase = "ledger";

function parseLiveOptions(argv: string[]): LiveOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      sizes: { type: "string", default: "1G" },
      rates: { type: "string", default: "200" },
      seed: { type: "string", default: "42" },
      hold: { type: "string", default: "10" },
      after: { type: "string", default: "5" },
    },
  });
  return {
    sizes: values.sizes.split(",").map(parseSize),
    rates: values.rates.split(",").map((r) => wholeNumber("rates", r)),
    seed: wholeNumber("seed", values.seed),
    hold: wholeNumber("hold", values.hold, 0),
    after: wholeNumber("after", values.after),
  };
}

/** The shortest time between two acknowledged transactions counted as a pause: three ticks. */
function gapThresholdMs(rate: number): number {
  return Math.max(10, Math.ceil(3000 / rate));
}

/** Transactions the destination has still to apply: the source's GTID sequence minus its own. */
export function gtidDistance(sourcePosition: string, replicaPosition: string): number {
  const byDomain = (position: string) =>
    new Map(
      position
        .split(",")
        .map((g) => g.trim())
        .filter((g) => g !== "")
        .map((g) => {
          const [domain, , sequence] = g.split("-");
          return [domain, Number(sequence)] as const;
        }),
    );
  const replica = byDomain(replicaPosition);
  let distance = 0;
  for (const [domain, sequence] of byDomain(sourcePosition))
    distance += Math.max(0, sequence - (replica.get(domain) ?? 0));
  return distance;
}

export async function liveBench(argv: string[]): Promise<void> {
  const options = parseLiveOptions(argv);
  const certificatesDir = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-bench-live-"));
  writeServerTlsFiles(certificatesDir, testCertificates([serverName]), tlsFiles);
  const caFile = path.join(certificatesDir, tlsFiles.ca);
  log("starting MariaDB x2 (ROW binary log, TLS, server ids 1 and 2) and MinIO");
  const plane = await DataPlane.start(
    "bench-live",
    "ferry-bench-live",
    `bench-${Math.random().toString(36).slice(2)}`,
    [
      "--innodb-buffer-pool-size=2G",
      "--innodb-log-file-size=512M",
      "--max-allowed-packet=1G",
      ...serverTlsSettings(certificatesDir),
      "--binlog-format=ROW",
    ],
    undefined,
    ["--server-id=2"],
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => void plane.stop().finally(() => process.exit(130)));
  const secret = (name: string) => {
    const value = `${name}-${Math.random().toString(36).slice(2)}`;
    secretFile(plane.secretsDir, name, value);
    return value;
  };
  const [replicationPassword, cutoverPassword, writerPassword] = [
    secret("replication-password"),
    secret("cutover-password"),
    secret("writer-password"),
  ];
  plane.source
    .must(`CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '${replicationPassword}' REQUIRE SSL;
    GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';
    CREATE USER 'cutover'@'127.0.0.1' IDENTIFIED BY '${cutoverPassword}';
    GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE, PROCESS, READ_ONLY ADMIN, BINLOG MONITOR ON *.* TO 'cutover'@'127.0.0.1';`);
  // The application's account on both servers, with no right past read_only.
  for (const server of [plane.source, plane.destination])
    server.must(`SET SESSION sql_log_bin = 0;
      CREATE USER 'writer'@'127.0.0.1' IDENTIFIED BY '${writerPassword}';
      GRANT SELECT, INSERT, UPDATE ON ${ledgerDatabase}.* TO 'writer'@'127.0.0.1';`);
  const tls = (prefix: string) => ({
    [`${prefix}_TLS`]: "verify-identity",
    [`${prefix}_TLS_CA_FILE`]: caFile,
  });
  const databases = [...benchDatabases, ledgerDatabase].join(" ");
  const dumpEnv = (runId: string) => ({
    ...plane.dumpEnv(runId, databases),
    SOURCE_HOST: serverName,
    ...tls("SOURCE"),
  });
  const destinationEnv = (runId: string) => ({
    ...plane.destinationEnv(runId),
    DEST_HOST: serverName,
    ...tls("DEST"),
  });
  const secretPath = (name: string) => path.join(plane.secretsDir, name);

  const runs: LiveRun[] = [];
  let runNumber = 0;
  try {
    for (const size of options.sizes) {
      log(`generating ${mib(size).toFixed(0)} MiB of SQL from seed ${options.seed}`);
      generateDataset(plane.source, size, options.seed);
      for (const rate of options.rates) {
        const runId = `live-${++runNumber}`;
        // The destination as a new server, the source writable with an empty ledger.
        plane.destination.must(`STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF;
          SET GLOBAL replicate_wild_do_table = '';
          ${[...benchDatabases, ledgerDatabase, "ferry"].map((d) => `DROP DATABASE IF EXISTS \`${d}\`;`).join(" ")}`);
        plane.source.must(`SET GLOBAL read_only = OFF;
          DROP DATABASE IF EXISTS ${ledgerDatabase}; CREATE DATABASE ${ledgerDatabase};
          CREATE TABLE ${ledgerDatabase}.writes (token BIGINT NOT NULL, KEY (token)) ENGINE=InnoDB;
          CREATE TABLE ${ledgerDatabase}.counter (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB;
          INSERT INTO ${ledgerDatabase}.counter VALUES (1, 0);`);
        for (const server of [plane.source, plane.destination]) await settle(server);

        const ledgerFile = path.join(plane.secretsDir, `${runId}.tokens`);
        const writer = startLedgerWriter(ledgerFile, {
          LEDGER_HOST: serverName,
          LEDGER_PORT: String(plane.source.port),
          LEDGER_NEXT_HOST: serverName,
          LEDGER_NEXT_PORT: String(plane.destination.port),
          LEDGER_USER: "writer",
          LEDGER_PASSWORD_FILE: secretPath("writer-password"),
          ...tls("LEDGER"),
          LEDGER_RATE: String(rate),
          // Three of its ticks: a pause is what is longer than its own pace.
          LEDGER_GAP_MS: String(gapThresholdMs(rate)),
        });
        await until(() => lineCount(ledgerFile) > 0, "the application's first write", 30);
        log(`${runId}: the application writes ${rate} transactions a second to the source`);

        // When each step ran, to set the application's pauses beside them.
        const phases: Phase[] = [];
        const step = async (script: string, env: Record<string, string>) => {
          const phase: Phase = { name: script.replace(/\.sh$/, ""), from: Date.now(), to: 0 };
          phases.push(phase);
          const ran = await measure("sh", [path.join(dataPlaneDir, script)], env);
          phase.to = Date.now();
          if (ran.status !== 0)
            throw new Error(
              `bench live: ${script} failed (exit ${ran.status}):\n${ran.stderr.slice(-3000)}`,
            );
          return ran;
        };
        const dumped = await step("dump.sh", dumpEnv(runId));
        const imported = await step("import.sh", destinationEnv(runId));
        const verified = await step("verify.sh", destinationEnv(runId));
        log(
          `${runId}: copied in ${(dumped.seconds + imported.seconds + verified.seconds).toFixed(1)}s (dump ${dumped.seconds.toFixed(1)}, import ${imported.seconds.toFixed(1)}, verification ${verified.seconds.toFixed(1)})`,
        );

        // The lag, sampled from the replication's start until the cutover.
        const samples: { at: number; seconds: number; transactions: number }[] = [];
        const sampling = setInterval(() => {
          const transactions = gtidDistance(
            plane.source.must("SELECT @@GLOBAL.gtid_binlog_pos").trim(),
            plane.destination.must("SELECT @@GLOBAL.gtid_slave_pos").trim(),
          );
          const status = plane.destination.vertical("SHOW SLAVE STATUS");
          const behind = Number(status.Seconds_Behind_Master);
          samples.push({
            at: performance.now(),
            seconds: Number.isFinite(behind) ? behind : 0,
            transactions,
          });
        }, 250);
        const replicateStarted = performance.now();
        let replicated: Measured;
        try {
          replicated = await step("replicate.sh", {
            ...destinationEnv(runId),
            REPL_HOST: serverName,
            REPL_PORT: String(plane.source.port),
            REPL_USER: "repl",
            REPL_PASSWORD_FILE: secretPath("replication-password"),
            REPL_CA_FILE: caFile,
            REPL_TLS: "verify-identity",
          });
          await until(
            () => samples.some((s) => s.at > replicateStarted && s.transactions === 0),
            "the destination catching up",
            600,
          );
          const holding: Phase = { name: "replicating", from: Date.now(), to: 0 };
          await new Promise((r) => setTimeout(r, options.hold * 1000));
          holding.to = Date.now();
          phases.push(holding);
        } finally {
          clearInterval(sampling);
        }
        const caughtUp = samples.find((s) => s.at > replicateStarted && s.transactions === 0)!;
        const held = samples.filter((s) => s.at >= caughtUp.at);
        log(
          `${runId}: replicating (${replicated.seconds.toFixed(1)}s to start); caught up ${((caughtUp.at - replicateStarted) / 1000).toFixed(1)}s after its start; largest lag ${Math.max(...samples.map((s) => s.seconds))}s, ${Math.max(...samples.map((s) => s.transactions))} transactions`,
        );

        const cut = await step("cutover.sh", {
          ...destinationEnv(runId),
          SOURCE_HOST: serverName,
          SOURCE_PORT: String(plane.source.port),
          SOURCE_USER: "cutover",
          SOURCE_PASSWORD_FILE: secretPath("cutover-password"),
          ...tls("SOURCE"),
          CUTOVER_DRAIN_SECONDS: "10",
          CUTOVER_CATCHUP_SECONDS: "60",
        });
        const window = /no write was accepted anywhere for (\d+)ms/.exec(cut.stderr);
        if (!window) throw new Error(`bench live: the cutover said no window:\n${cut.stderr}`);
        await new Promise((r) => setTimeout(r, options.after * 1000));
        const written = await writer.stop();
        const { atCutover, elsewhere } = pausesBySteps(written.gaps, phases);
        const checked = checkLedger(ledgerFile, {
          LEDGER_HOST: serverName,
          LEDGER_PORT: String(plane.destination.port),
          LEDGER_USER: "writer",
          LEDGER_PASSWORD_FILE: secretPath("writer-password"),
          ...tls("LEDGER"),
        });
        const run: LiveRun = {
          size,
          rate,
          achievedRate: written.acknowledged / Math.max(1, written.seconds),
          copySeconds: {
            dump: dumped.seconds,
            import: imported.seconds,
            verify: verified.seconds,
          },
          catchUpSeconds: (caughtUp.at - replicateStarted) / 1000,
          maxLagSeconds: Math.max(...samples.map((s) => s.seconds)),
          maxLagTransactions: Math.max(...samples.map((s) => s.transactions)),
          heldLagTransactions: median(held.map((s) => s.transactions)),
          cutoverSeconds: cut.seconds,
          ferryWindowMs: Number(window[1]),
          applicationWindowMs: atCutover,
          longestPauseElsewhere: elsewhere,
          acknowledged: written.acknowledged,
          refused: written.refused,
          lost: checked.lost,
          duplicated: checked.duplicated,
        };
        runs.push(run);
        log(
          `${runId}: cut over in ${cut.seconds.toFixed(1)}s; ferry's window ${run.ferryWindowMs} ms, the application's ${windowText(run)} (its longest pause elsewhere ${elsewhere.ms} ms, during ${elsewhere.during}); ${run.acknowledged} acknowledged (${run.achievedRate.toFixed(0)}/s), ${run.refused} refused; ledger: ${run.lost} lost, ${run.duplicated} duplicated`,
        );
        if (!checked.ok)
          throw new Error(
            `bench live: the ledger does not hold after ${runId}: ${JSON.stringify(checked)}`,
          );
      }
    }
  } finally {
    await plane.stop();
    fs.rmSync(certificatesDir, { recursive: true, force: true });
  }
  reportLive(runs);
}

interface Written {
  acknowledged: number;
  refused: number;
  seconds: number;
  /** Each time of 100 ms or more between two acknowledged transactions. */
  gaps: { from: string; ms: number }[] | null;
}

/** A step of ferry's, from its start to its end (epoch milliseconds). */
export interface Phase {
  name: string;
  from: number;
  to: number;
}

/**
 * The application's pauses set beside ferry's steps: the longest one that overlaps the cutover
 * (its write-unavailable window), and the longest other one with the step it overlapped most
 * ("none": between steps).
 */
export function pausesBySteps(
  gaps: { from: string; ms: number }[] | null,
  phases: Phase[],
): { atCutover: number; elsewhere: { ms: number; during: string } } {
  let atCutover = 0;
  const elsewhere = { ms: 0, during: "none" };
  for (const gap of gaps ?? []) {
    const from = Date.parse(gap.from);
    const to = from + gap.ms;
    const overlap = (p: Phase) => Math.max(0, Math.min(to, p.to) - Math.max(from, p.from));
    const cutover = phases.find((p) => p.name === "cutover");
    if (cutover && overlap(cutover) > 0) {
      atCutover = Math.max(atCutover, gap.ms);
      continue;
    }
    if (gap.ms <= elsewhere.ms) continue;
    const most = [...phases].sort((a, b) => overlap(b) - overlap(a))[0];
    elsewhere.ms = gap.ms;
    elsewhere.during = most && overlap(most) > 0 ? most.name : "none";
  }
  return { atCutover, elsewhere };
}

/** ferry-ledger write in the background, stopped (SIGTERM) for its summary. */
function startLedgerWriter(
  ledgerFile: string,
  env: Record<string, string>,
): { stop: () => Promise<Written> } {
  const child = spawn("ferry-ledger", ["write", ledgerFile], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const ended = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
  return {
    stop: async () => {
      child.kill("SIGTERM");
      const code = await ended;
      if (code !== 0)
        throw new Error(`bench live: the application failed (exit ${code}):\n${stderr}`);
      return JSON.parse(stdout) as Written;
    },
  };
}

function checkLedger(
  ledgerFile: string,
  env: Record<string, string>,
): { ok: boolean; lost: number; duplicated: number } {
  const checked = spawnSync("ferry-ledger", ["check", ledgerFile], {
    env: { PATH: process.env.PATH ?? "", ...env },
    encoding: "utf8",
  });
  if (!checked.stdout.trim())
    throw new Error(`bench live: ferry-ledger check said nothing:\n${checked.stderr}`);
  return JSON.parse(checked.stdout) as { ok: boolean; lost: number; duplicated: number };
}

function lineCount(file: string): number {
  try {
    return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).length;
  } catch {
    return 0;
  }
}

async function until(done: () => boolean, what: string, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`bench live: no ${what} within ${seconds}s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The application's window, or the pause it stayed under when none overlapped the cutover. */
function windowText(run: LiveRun): string {
  return run.applicationWindowMs > 0
    ? `${run.applicationWindowMs} ms`
    : `< ${gapThresholdMs(run.rate)} ms`;
}

function reportLive(runs: LiveRun[]): void {
  const lines = [
    "| size | rate (achieved) | copy (dump + import + verification) | catch-up | largest lag | lag held | cutover | ferry's window | application's window | longest pause elsewhere | acknowledged | lost | duplicated |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...runs.map(
      (r) =>
        `| ${mib(r.size).toFixed(0)} MiB | ${r.rate}/s (${r.achievedRate.toFixed(0)}/s) | ${(r.copySeconds.dump + r.copySeconds.import + r.copySeconds.verify).toFixed(1)}s (${r.copySeconds.dump.toFixed(1)} + ${r.copySeconds.import.toFixed(1)} + ${r.copySeconds.verify.toFixed(1)}) | ${r.catchUpSeconds.toFixed(1)}s | ${r.maxLagSeconds}s, ${r.maxLagTransactions} transactions | ${r.heldLagTransactions} transactions | ${r.cutoverSeconds.toFixed(1)}s | ${r.ferryWindowMs} ms | ${windowText(r)} | ${r.longestPauseElsewhere.ms} ms (${r.longestPauseElsewhere.during}) | ${r.acknowledged} | ${r.lost} | ${r.duplicated} |`,
    ),
  ];
  console.log(lines.join("\n"));
  const resultsDir = path.join(process.cwd(), "bench", "results");
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(
    resultsDir,
    `bench-live-${new Date().toISOString().replace(/[:.]/g, "-")}.json`,
  );
  fs.writeFileSync(file, JSON.stringify({ runs }, null, 2));
  log(`results: ${path.relative(process.cwd(), file)}`);
  // The last line: the worst of each figure over the runs.
  console.log(
    [
      `application_window_ms=${Math.max(...runs.map((r) => r.applicationWindowMs))}`,
      `ferry_window_ms=${Math.max(...runs.map((r) => r.ferryWindowMs))}`,
      `lag_transactions=${Math.max(...runs.map((r) => r.maxLagTransactions))}`,
      `lost=${runs.reduce((a, r) => a + r.lost, 0)}`,
      `duplicated=${runs.reduce((a, r) => a + r.duplicated, 0)}`,
    ].join(" "),
  );
}
