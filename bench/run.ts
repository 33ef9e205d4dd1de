import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { DataPlane } from "../test/support/fixture";
import { MariaDb } from "../test/support/servers";
import { benchDatabases, generateDataset, parseSize, wholeNumber } from "./generate";
import { liveBench } from "./live";
import {
  bytesBelow,
  cpuTotals,
  describeCpu,
  largestPeaks,
  measure,
  median,
  watchCpuOf,
  type Measured,
} from "./measure";
import {
  requireSameAsSource,
  runMariadbBackup,
  runMydumper,
  settle,
  type PeerRun,
  type PeerSetup,
} from "./peers";

/**
 * ferry's migration benchmark: the seed's pipeline, the import floor, ferry's own scripts and the
 * peers a DBA would use instead (mydumper → myloader, mariadb-backup through the object store) on
 * the same generated data, interleaved and repeated, the servers settled before each; then ferry
 * alone on a larger dataset to show its memory stays flat. Prints the ratios (last line), writes
 * JSON and a PNG under bench/results/. A benchmark, not a test: it asserts only that each
 * pipeline succeeded, that ferry's migration verifies and that each peer's copy equals the source.
 *
 * Options: --sizes 1G,4G (the first size is the one the ratios are measured at) --rounds 3
 * --seed 42 --parallelism N --compression zstd|gzip --verbose true --pipelines ferry,mydumper,...
 * --profile DIR (each of ferry's steps writes its Go CPU profile there, <run>-<step>.pprof, for
 * `go tool pprof`; off by default, since profiling costs a little CPU)
 * (at the first size; default all but ferry-tuned; ferry always runs). ferry-tuned is ferry with
 * the import's InnoDB settings raised (TUNE_IMPORT, dataplane/internal/load/settings.go), which no
 * stack turns on yet: its lever measured against ferry in the same rounds. ferry-follow is ferry
 * with the import started beside the dump, following it chunk by chunk (FOLLOW_DUMP,
 * dataplane/internal/follow), its time from both steps' start to the later one's end.
 * ferry-physical is ferry's physical method (METHOD=physical: mariadb-backup's copy in sealed
 * chunks, and the restore step beside it, FOLLOW_DUMP) and a server started on the restored files
 * until it answers: the bare mariadb-backup pipeline's steps, with ferry's digests, seals and
 * checks; its time from both steps' start to the later one's end, plus the server's start.
 */
const pipelines = [
  "seed",
  "floor",
  "floor-load",
  "ferry",
  "ferry-tuned",
  "ferry-follow",
  "mydumper",
  "mydumper-rows",
  "mariadb-backup",
  "ferry-physical",
] as const;
type Pipeline = (typeof pipelines)[number];

interface Options {
  sizes: number[];
  rounds: number;
  seed: number;
  parallelism: number;
  compression: string;
  /** Prints ferry's own step logs (timestamps of each phase). */
  verbose: boolean;
  /** The pipelines run at the first size, in this order in the first round. */
  pipelines: Pipeline[];
  /** Where ferry's steps write their CPU profiles (FERRY_CPU_PROFILE); none when "". */
  profile: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      sizes: { type: "string", default: "1G,4G" },
      rounds: { type: "string", default: "3" },
      seed: { type: "string", default: "42" },
      parallelism: { type: "string", default: "2" },
      compression: { type: "string", default: "zstd" },
      verbose: { type: "string", default: "false" },
      profile: { type: "string", default: "" },
      pipelines: {
        type: "string",
        default: pipelines
          .filter((p) => !["ferry-tuned", "ferry-follow", "floor-load"].includes(p))
          .join(","),
      },
    },
  });
  const chosen = values.pipelines.split(",").map((p) => p.trim());
  for (const p of chosen)
    if (!(pipelines as readonly string[]).includes(p))
      throw new Error(`bench: --pipelines takes ${pipelines.join(", ")}, not '${p}'`);
  if (!chosen.includes("ferry")) chosen.unshift("ferry");
  if (!["zstd", "gzip"].includes(values.compression))
    throw new Error(`bench: --compression must be zstd or gzip, not '${values.compression}'`);
  return {
    sizes: values.sizes.split(",").map(parseSize),
    rounds: wholeNumber("rounds", values.rounds),
    seed: wholeNumber("seed", values.seed),
    parallelism: wholeNumber("parallelism", values.parallelism),
    compression: values.compression,
    verbose: values.verbose === "true",
    profile: values.profile === "" ? "" : path.resolve(values.profile),
    pipelines: pipelines.filter((p) => chosen.includes(p)),
  };
}

// Compiled into .ferry/bench, so paths start from where scripts/dev/bench.sh runs it: the repo root.
const repoRoot = process.cwd();
const dataPlaneDir = path.join(repoRoot, "dataplane");

const mib = (bytes: number) => bytes / 1024 ** 2;
const log = (message: string) => console.error(`${new Date().toISOString()} bench: ${message}`);

/** The servers, tuned alike for every pipeline: a buffer pool and redo log sized for bulk loads. */
const serverSettings = [
  "--innodb-buffer-pool-size=2G",
  "--innodb-log-file-size=512M",
  "--max-allowed-packet=1G",
];

/** mydumper's chunking in the `mydumper-rows` pipeline: the issue's measured best. */
const mydumperRows = 100_000;

interface PipelineRun {
  pipeline: Pipeline;
  size: number;
  round: number;
  seconds: number;
  sqlBytes: number;
  /** What the pipeline moved between the servers: stored objects, a directory, nothing. */
  storedBytes: number;
  /** The steps that make up the time, each timed on its own. */
  steps?: Record<string, number>;
  /** ferry's cost of encryption: the CPU seconds its dump spent sealing and its import opening. */
  sealSeconds?: number;
  peakRssMib: Record<string, number>;
  /** CPU seconds by program over the pipeline's steps, the servers' and MinIO's included. */
  cpuSeconds: Record<string, number>;
  /** ferry's most bytes on local disk at once (its steps' TMPDIR), in MiB. */
  peakTmpMib?: number;
}

async function main(): Promise<void> {
  // `npm run bench -- live`: live mode's catch-up and cutover under an application's writes.
  if (process.argv[2] === "live") return liveBench(process.argv.slice(3));
  const options = parseOptions(process.argv.slice(2));
  if (options.profile) fs.mkdirSync(options.profile, { recursive: true });
  const resultsDir = path.join(repoRoot, "bench", "results");
  fs.mkdirSync(resultsDir, { recursive: true });
  log(
    `starting MariaDB x2 and MinIO (sizes ${options.sizes.map((s) => `${mib(s).toFixed(0)} MiB`).join(", ")}, ${options.rounds} rounds)`,
  );
  const plane = await DataPlane.start(
    "bench",
    "ferry-bench",
    `bench-${Math.random().toString(36).slice(2)}`,
    serverSettings,
  );
  // The servers do most of every pipeline's work: their CPU is counted in each step's.
  const pids = {
    "source mariadbd": plane.source.pid,
    "destination mariadbd": plane.destination.pid,
    minio: plane.minio.pid,
  };
  watchCpuOf(
    Object.fromEntries(
      Object.entries(pids).filter((entry): entry is [string, number] => entry[1] !== undefined),
    ),
  );
  // An interrupted benchmark still stops its servers and removes their data (gigabytes).
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => void plane.stop().finally(() => process.exit(130)));
  const work = fs.mkdtempSync(path.join(plane.secretsDir, "work-"));
  const cnf = (file: string, port: number, user: string, passwordFile: string) => {
    const password = fs.readFileSync(passwordFile, "utf8");
    fs.writeFileSync(
      file,
      `[client]\nhost=127.0.0.1\nport=${port}\nuser=${user}\npassword="${password}"\nprotocol=TCP\n`,
      { mode: 0o600 },
    );
    return file;
  };
  const sourceCnf = cnf(
    path.join(plane.secretsDir, "source.cnf"),
    plane.source.port,
    "dumper",
    path.join(plane.secretsDir, "source-password"),
  );
  const destinationCnf = cnf(
    path.join(plane.secretsDir, "destination.cnf"),
    plane.destination.port,
    "ferry_root",
    path.join(plane.secretsDir, "root-password"),
  );
  // The same binary-log setting for every logical import: ferry's import and myloader leave their
  // sessions out of the destination's binary log by default, so the mariadb client's do too.
  fs.appendFileSync(destinationCnf, "[mysql]\ninit-command=SET SESSION sql_log_bin = 0\n");
  /** mariadb-dump of the bench's databases from the source into `file` (untimed preparation). */
  const dumpSourceTo = (file: string, what: string, flags: string[]) => {
    const out = fs.openSync(file, "w");
    const dumped = spawnSync(
      "mariadb-dump",
      [
        `--defaults-extra-file=${sourceCnf}`,
        ...flags,
        "--default-character-set=utf8mb4",
        "--databases",
        ...benchDatabases,
      ],
      { stdio: ["ignore", out, "pipe"] },
    );
    fs.closeSync(out);
    if (dumped.status !== 0) throw new Error(`bench: ${what} failed: ${dumped.stderr.toString()}`);
  };
  const mcDir = path.join(plane.secretsDir, "mc");
  fs.mkdirSync(mcDir);
  fs.writeFileSync(
    path.join(mcDir, "config.json"),
    JSON.stringify({
      version: "10",
      aliases: {
        ferry: {
          url: plane.minio.url,
          // The seed's pipeline is the design note's: one credential that reads and writes.
          accessKey: plane.minio.rootUser,
          secretKey: plane.minio.rootPassword,
          api: "S3v4",
          path: "auto",
        },
      },
    }),
    { mode: 0o600 },
  );

  const peerSetup: PeerSetup = {
    source: plane.source,
    destination: plane.destination,
    sourceCnf,
    destinationCnf,
    databases: benchDatabases,
    work,
    mcDir,
    bucket: plane.bucket,
    storedBytes: (key) =>
      (
        JSON.parse(
          plane.minio.mustMc(["stat", "--json", `admin/${plane.bucket}/${key}`]).toString(),
        ) as { size: number }
      ).size,
    threads: options.parallelism,
    serverSettings,
  };

  const runs: PipelineRun[] = [];
  let runNumber = 0;
  // Before every pipeline: an empty destination, then both servers settled (dirty pages written,
  // undo purged), so no pipeline pays for the one before it.
  const resetDestination = async () => {
    plane.destination.must(
      [...benchDatabases, "ferry"].map((d) => `DROP DATABASE IF EXISTS \`${d}\`;`).join(" "),
    );
    for (const server of [plane.source, plane.destination]) {
      const seconds = await settle(server);
      if (options.verbose) log(`${server.name} settled in ${seconds.toFixed(1)}s`);
    }
  };
  const check = (what: string, result: Measured) => {
    if (result.status !== 0)
      throw new Error(
        `bench: ${what} failed (exit ${result.status}):\n${result.stderr.slice(-3000)}`,
      );
  };

  const runSeed = async (size: number, round: number) => {
    await resetDestination();
    const result = await measure("sh", [path.join(repoRoot, "bench", "seed-pipeline.sh")], {
      SOURCE_CNF: sourceCnf,
      DEST_CNF: destinationCnf,
      DATABASES: benchDatabases.join(" "),
      WORK_DIR: work,
      MC_CONFIG_DIR: mcDir,
      TARGET: `ferry/${plane.bucket}/seed/round-${round}.sql`,
    });
    check("the seed's pipeline", result);
    const stored = plane.minio
      .mustMc(["stat", "--json", `admin/${plane.bucket}/seed/round-${round}.sql.gz`])
      .toString();
    runs.push({
      pipeline: "seed",
      size,
      round,
      seconds: result.seconds,
      sqlBytes: Number(result.stdout.trim()),
      storedBytes: (JSON.parse(stored) as { size: number }).size,
      peakRssMib: result.peakRssMib,
      cpuSeconds: result.cpuSeconds,
    });
  };

  const floorFile = path.join(work, "floor.sql");
  const runFloor = async (size: number, round: number) => {
    await resetDestination();
    const result = await measure(
      "sh",
      ["-c", 'exec mariadb --defaults-extra-file="$DEST_CNF" <"$FLOOR_SQL"'],
      { DEST_CNF: destinationCnf, FLOOR_SQL: floorFile },
    );
    check("the floor import", result);
    runs.push({
      pipeline: "floor",
      size,
      round,
      seconds: result.seconds,
      sqlBytes: fs.statSync(floorFile).size,
      storedBytes: 0,
      peakRssMib: result.peakRssMib,
      cpuSeconds: result.cpuSeconds,
    });
  };

  /** ferry's two steps: as pulumi up orders them, with the import's settings raised, or following. */
  type FerryVariant = "ferry" | "ferry-tuned" | "ferry-follow";
  // The LOAD DATA floor (floor-load-pipeline.sh): its files are prepared once a size, untimed.
  const floorLoadDir = path.join(work, "floor-load");
  const prepareFloorLoad = () => {
    fs.rmSync(floorLoadDir, { recursive: true, force: true });
    fs.mkdirSync(floorLoadDir);
    dumpSourceTo(path.join(floorLoadDir, "schema.sql"), "the LOAD DATA floor's schema", [
      "--no-data",
      "--skip-triggers",
      "--routines",
      "--events",
    ]);
    for (const database of benchDatabases) {
      const dir = path.join(floorLoadDir, database);
      fs.mkdirSync(dir);
      // --tab has the source server write the files (root over its socket may).
      const tab = spawnSync(
        "mariadb-dump",
        [
          "--no-defaults",
          `--socket=${plane.source.socket}`,
          "--user=root",
          `--tab=${dir}`,
          "--no-create-info",
          "--skip-triggers",
          "--single-transaction",
          // Each value's stored bytes as they are: with utf8mb4 here the server writes a BLOB's
          // bytes above 0x7F as '?' (seen 2026-12-07); loaded with binary too.
          "--default-character-set=binary",
          "--",
          database,
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      if (tab.status !== 0)
        throw new Error(`bench: the LOAD DATA floor's files failed: ${tab.stderr.toString()}`);
    }
    log(`the LOAD DATA floor's files: ${mib(bytesBelow(floorLoadDir)).toFixed(0)} MiB`);
  };
  const runFloorLoad = async (size: number, round: number) => {
    await resetDestination();
    const result = await measure("sh", [path.join(repoRoot, "bench", "floor-load-pipeline.sh")], {
      DEST_CNF: destinationCnf,
      DATABASES: benchDatabases.join(" "),
      WORK_DIR: floorLoadDir,
      // One table at a time, as the floor's one stream: the two differ only in INSERT against
      // LOAD DATA.
      THREADS: "1",
    });
    check("the LOAD DATA floor", result);
    if (round === 1) {
      // Its rows, table by table, are the source's (its views and routines are not its point).
      const tables = plane.source
        .must(
          `SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (${benchDatabases.map((d) => `'${d}'`).join(", ")}) ORDER BY 1`,
        )
        .trim()
        .split("\n");
      for (const table of tables) {
        const checksum = `CHECKSUM TABLE ${table} EXTENDED`;
        const [copy, original] = [plane.destination.must(checksum), plane.source.must(checksum)];
        if (copy !== original)
          throw new Error(
            `bench: the LOAD DATA floor's ${table} differs from the source's (${copy.trim()} against ${original.trim()})`,
          );
      }
      log("the LOAD DATA floor's rows equal the source's");
    }
    runs.push({
      pipeline: "floor-load",
      size,
      round,
      seconds: result.seconds,
      sqlBytes: 0,
      storedBytes: bytesBelow(floorLoadDir),
      peakRssMib: result.peakRssMib,
      cpuSeconds: result.cpuSeconds,
    });
  };

  const runFerry = async (size: number, round: number, verify: boolean, variant: FerryVariant) => {
    await resetDestination();
    const runId = `bench-${++runNumber}`;
    const settings = { COMPRESSION: options.compression, PARALLELISM: String(options.parallelism) };
    // Each step with its own side's bucket user, as the Jobs have them.
    const profile = (step: string): Record<string, string> =>
      options.profile
        ? { FERRY_CPU_PROFILE: path.join(options.profile, `${runId}-${variant}-${step}.pprof`) }
        : {};
    const dumpEnv = {
      ...plane.dumpEnv(runId, benchDatabases.join(" ")),
      ...settings,
      ...profile("dump"),
    };
    const importEnv = {
      ...plane.destinationEnv(runId),
      ...settings,
      ...profile("import"),
      TUNE_IMPORT: String(variant === "ferry-tuned"),
      ...(variant === "ferry-follow" ? { FOLLOW_DUMP: "true", FOLLOW_WAIT_SECONDS: "120" } : {}),
    };
    let dump: Measured;
    let imported: Measured;
    let seconds: number;
    if (variant === "ferry-follow") {
      // Both at once, the import first: it waits for the dump's attempt, as its Job would.
      const started = performance.now();
      const importing = measure("sh", [path.join(dataPlaneDir, "import.sh")], importEnv);
      dump = await measure("sh", [path.join(dataPlaneDir, "dump.sh")], dumpEnv);
      imported = await importing;
      seconds = (performance.now() - started) / 1000;
      check("ferry's dump", dump);
    } else {
      // The two steps the Jobs run, one after the other, as pulumi up orders them.
      dump = await measure("sh", [path.join(dataPlaneDir, "dump.sh")], dumpEnv);
      check("ferry's dump", dump);
      imported = await measure("sh", [path.join(dataPlaneDir, "import.sh")], importEnv);
      seconds = dump.seconds + imported.seconds;
    }
    check("ferry's import", imported);
    if (options.verbose) console.error(dump.stderr + imported.stderr);
    const manifest = JSON.parse(dump.stdout) as { sqlBytes: number; bytes: number };
    const sealSeconds =
      secondsInSeals("dump", dump.stderr) + secondsInSeals("import", imported.stderr);
    const peakRssMib = largestPeaks([dump, imported]);
    if (options.verbose) {
      log(`ferry's dump, CPU: ${describeCpu(dump.cpuSeconds)}`);
      log(`ferry's import, CPU: ${describeCpu(imported.cpuSeconds)}`);
    }
    const followed = /(\d+) of its (\d+) chunks were imported while it ran/.exec(imported.stderr);
    if (followed) log(`${variant}: ${followed[0]}`);
    runs.push({
      pipeline: variant,
      size,
      round,
      seconds,
      steps: { dump: dump.seconds, import: imported.seconds },
      sealSeconds,
      // Side by side, the two steps' local disk adds up.
      peakTmpMib: mib(
        variant === "ferry-follow"
          ? dump.peakTmpBytes + imported.peakTmpBytes
          : Math.max(dump.peakTmpBytes, imported.peakTmpBytes),
      ),
      cpuSeconds: cpuTotals([dump, imported], { together: variant === "ferry-follow" }),
      sqlBytes: manifest.sqlBytes,
      storedBytes: manifest.bytes,
      peakRssMib,
    });
    if (verify) {
      const verified = await measure(
        "sh",
        [path.join(dataPlaneDir, "verify.sh")],
        plane.destinationEnv(runId),
      );
      check("ferry's verification", verified);
      log(`ferry's migration verified: ${verified.stderr.trim().split("\n").pop()}`);
    }
  };

  const peerRun = (pipeline: Pipeline, size: number, round: number, run: PeerRun) =>
    runs.push({
      pipeline,
      size,
      round,
      seconds: run.seconds,
      steps: run.steps,
      sqlBytes: 0,
      storedBytes: run.movedBytes,
      peakRssMib: run.peakRssMib,
      cpuSeconds: run.cpuSeconds,
    });
  const runMydumperPipeline =
    (pipeline: "mydumper" | "mydumper-rows", rows?: number) =>
    async (size: number, round: number) => {
      await resetDestination();
      peerRun(pipeline, size, round, await runMydumper(peerSetup, rows));
      if (round === 1) {
        requireSameAsSource(pipeline, plane.source, plane.destination, benchDatabases);
        log(`${pipeline}'s copy equals the source`);
      }
    };
  const runBackupPipeline = async (size: number, round: number) => {
    await resetDestination();
    const { run, restored } = await runMariadbBackup(peerSetup, round);
    try {
      peerRun("mariadb-backup", size, round, run);
      if (round === 1) {
        requireSameAsSource("mariadb-backup", plane.source, restored, benchDatabases);
        log(`mariadb-backup's copy equals the source`);
      }
    } finally {
      await restored.stop();
      plane.minio.mustMc(["rm", "--recursive", "--force", `admin/${plane.bucket}/mariadb-backup/`]);
    }
  };

  const runFerryPhysical = async (size: number, round: number) => {
    const runId = `bench-${++runNumber}`;
    const serverDir = fs.mkdtempSync(path.join(work, "ferry-physical-server-"));
    const dataDir = path.join(serverDir, "data");
    const destination = plane.destinationEnv(runId);
    delete destination.DEST_HOST;
    delete destination.DEST_PORT;
    const profile = (step: string): Record<string, string> =>
      options.profile
        ? { FERRY_CPU_PROFILE: path.join(options.profile, `${runId}-ferry-physical-${step}.pprof`) }
        : {};
    // Both at once, the restore first: it restores the copy as its chunks are stored, as the
    // destination's restore Job does beside the dump's.
    const started = performance.now();
    const restoring = measure("sh", [path.join(dataPlaneDir, "restore.sh")], {
      ...destination,
      ...profile("restore"),
      DATA_DIR: dataDir,
      DEST_ACCOUNT_HOST: "127.0.0.1",
      FOLLOW_DUMP: "true",
      FOLLOW_WAIT_SECONDS: "120",
      // The bare pipeline's prepare has the same.
      PREPARE_MEMORY_MIB: "2048",
    });
    const dump = await measure("sh", [path.join(dataPlaneDir, "dump.sh")], {
      ...plane.dumpEnv(runId, benchDatabases.join(" ")),
      COMPRESSION: options.compression,
      PARALLELISM: String(options.parallelism),
      METHOD: "physical",
      ...profile("dump"),
    });
    check("ferry's physical dump", dump);
    const restoredFiles = await restoring;
    check("ferry's restore", restoredFiles);
    const besideSeconds = (performance.now() - started) / 1000;
    if (options.verbose) console.error(dump.stderr + restoredFiles.stderr);
    const serverStarted = process.hrtime.bigint();
    const restored = await MariaDb.startOn(
      "bench-ferry-physical",
      serverDir,
      dataDir,
      serverSettings,
    );
    try {
      const serverStart = Number(process.hrtime.bigint() - serverStarted) / 1e9;
      const manifest = JSON.parse(dump.stdout) as { sqlBytes: number; bytes: number };
      runs.push({
        pipeline: "ferry-physical",
        size,
        round,
        seconds: besideSeconds + serverStart,
        steps: { dump: dump.seconds, restore: restoredFiles.seconds, "server start": serverStart },
        sealSeconds:
          secondsInSeals("dump", dump.stderr) + secondsInSeals("restore", restoredFiles.stderr),
        // Side by side, the two steps' local disk adds up.
        peakTmpMib: mib(dump.peakTmpBytes + restoredFiles.peakTmpBytes),
        cpuSeconds: cpuTotals([dump, restoredFiles], { together: true }),
        sqlBytes: manifest.sqlBytes,
        storedBytes: manifest.bytes,
        peakRssMib: largestPeaks([dump, restoredFiles]),
      });
      if (round === 1) {
        const verified = await measure(
          "sh",
          [path.join(dataPlaneDir, "verify.sh")],
          plane.destinationEnv(runId, restored.port),
        );
        check("ferry-physical's verification", verified);
        log(`ferry-physical's copy verified: ${verified.stderr.trim().split("\n").pop()}`);
      }
    } finally {
      await restored.stop();
    }
  };

  try {
    for (const [index, size] of options.sizes.entries()) {
      const generated = Date.now();
      log(`generating ${mib(size).toFixed(0)} MiB of SQL from seed ${options.seed}`);
      const dataset = generateDataset(plane.source, size, options.seed);
      log(
        `generated ${Object.values(dataset.rows).reduce((a, b) => a + b, 0)} rows in ${((Date.now() - generated) / 1000).toFixed(0)}s`,
      );
      if (index === 0) {
        if (options.pipelines.includes("floor")) {
          dumpSourceTo(floorFile, "preparing the floor's dump", [
            "--single-transaction",
            "--quick",
            "--routines",
            "--triggers",
            "--events",
            "--hex-blob",
          ]);
          log(`the floor's dump file: ${mib(fs.statSync(floorFile).size).toFixed(0)} MiB`);
        }
        if (options.pipelines.includes("floor-load")) prepareFloorLoad();
        const runners: Record<Pipeline, (size: number, round: number) => Promise<void>> = {
          seed: runSeed,
          floor: runFloor,
          "floor-load": runFloorLoad,
          ferry: (s, r) => runFerry(s, r, r === 1, "ferry"),
          "ferry-tuned": (s, r) => runFerry(s, r, r === 1, "ferry-tuned"),
          "ferry-follow": (s, r) => runFerry(s, r, r === 1, "ferry-follow"),
          mydumper: runMydumperPipeline("mydumper"),
          "mydumper-rows": runMydumperPipeline("mydumper-rows", mydumperRows),
          "mariadb-backup": runBackupPipeline,
          "ferry-physical": runFerryPhysical,
        };
        const order = options.pipelines.map((p) => runners[p]);
        for (let round = 1; round <= options.rounds; round++) {
          // Rotating the order spreads any drift (caches, a busy neighbour) over all of them.
          for (let i = 0; i < order.length; i++) {
            const before = runs.length;
            await order[(i + round - 1) % order.length](size, round);
            const run = runs[before];
            const steps = run.steps
              ? ` (${Object.entries(run.steps)
                  .map(([n, v]) => `${n} ${v.toFixed(1)}s`)
                  .join(" + ")})`
              : "";
            const seals =
              run.sealSeconds === undefined
                ? ""
                : `, ${run.sealSeconds.toFixed(2)}s of CPU in its seals`;
            log(
              `round ${round} ${run.pipeline}: ${run.seconds.toFixed(1)}s${steps}${seals}, peak RSS ${Math.max(...Object.values(run.peakRssMib)).toFixed(1)} MiB; CPU: ${describeCpu(run.cpuSeconds)}`,
            );
          }
        }
        fs.rmSync(floorFile, { force: true });
        fs.rmSync(floorLoadDir, { recursive: true, force: true });
      } else {
        await runFerry(size, 1, true, "ferry");
        const run = runs[runs.length - 1];
        log(
          `ferry at ${mib(size).toFixed(0)} MiB: ${run.seconds.toFixed(1)}s, peak RSS ${Math.max(...Object.values(run.peakRssMib)).toFixed(1)} MiB`,
        );
      }
    }
  } finally {
    await plane.stop();
  }
  report(options, runs, resultsDir);
}

function report(options: Options, runs: PipelineRun[], resultsDir: string): void {
  const ratioSize = options.sizes[0];
  const seconds = (pipeline: Pipeline) =>
    runs.filter((r) => r.pipeline === pipeline && r.size === ratioSize).map((r) => r.seconds);
  const medians = Object.fromEntries(
    options.pipelines.map((p) => [p, median(seconds(p))]),
  ) as Partial<Record<Pipeline, number>>;
  const ferry = medians.ferry!;
  const spread = (p: Pipeline) =>
    `${Math.min(...seconds(p)).toFixed(1)}–${Math.max(...seconds(p)).toFixed(1)}s`;
  const ferryPeaks = runs.filter((r) => r.pipeline === "ferry");
  const peakRss = Math.max(...ferryPeaks.flatMap((r) => Object.values(r.peakRssMib)));
  const lines = [
    `| pipeline | median | spread | SQL | stored/moved | largest process (peak RSS) |`,
    `|---|---|---|---|---|---|`,
    ...options.pipelines.map((p) => {
      const sample = runs.find((r) => r.pipeline === p && r.size === ratioSize)!;
      const peaks = largestPeaks(runs.filter((r) => r.pipeline === p && r.size === ratioSize));
      const [name, peak] = Object.entries(peaks).sort((a, b) => b[1] - a[1])[0] ?? ["-", 0];
      const sql = sample.sqlBytes ? `${mib(sample.sqlBytes).toFixed(0)} MiB` : "-";
      return `| ${p} | ${medians[p]!.toFixed(1)}s | ${spread(p)} | ${sql} | ${mib(sample.storedBytes).toFixed(0)} MiB | ${name} ${peak} MiB |`;
    }),
  ];
  console.log(lines.join("\n"));
  console.log("\nsteps, median seconds:");
  for (const p of options.pipelines) {
    const stepRuns = runs.filter((r) => r.pipeline === p && r.size === ratioSize && r.steps);
    if (!stepRuns.length) continue;
    const names = Object.keys(stepRuns[0].steps!);
    console.log(
      `  ${p}: ${names.map((n) => `${n} ${median(stepRuns.map((r) => r.steps![n])).toFixed(1)}`).join(" + ")}`,
    );
  }
  console.log(
    "\nferry's data-plane processes, peak RSS in MiB, and its most local disk at once, by dataset size:",
  );
  for (const size of options.sizes) {
    const sized = ferryPeaks.filter((r) => r.size === size);
    const peaks = largestPeaks(sized);
    const disk = Math.max(...sized.map((r) => r.peakTmpMib ?? 0));
    console.log(
      `  ${mib(size).toFixed(0)} MiB: ${Object.entries(peaks)
        .sort((a, b) => b[1] - a[1])
        .map(([n, v]) => `${n} ${v}`)
        .join(", ")}; local disk ${disk.toFixed(1)} MiB`,
    );
  }
  // What encryption costs: the time inside AES-GCM, measured in the same runs as ferry's time. The
  // steps overlap it with their downloads, uploads and the server's work, so it bounds the cost
  // to the wall clock from above.
  const sealSeconds = median(
    ferryPeaks.filter((r) => r.size === ratioSize).map((r) => r.sealSeconds ?? NaN),
  );
  console.log(
    `\nencryption at ${mib(ratioSize).toFixed(0)} MiB: ${sealSeconds.toFixed(2)}s of CPU sealing and opening (median), ${((100 * sealSeconds) / ferry).toFixed(1)}% of ferry's ${ferry.toFixed(1)}s`,
  );
  // mydumper at its best: whichever of its two layouts was faster in this run.
  const mydumperBest = (["mydumper", "mydumper-rows"] as const)
    .filter((p) => medians[p] !== undefined)
    .sort((a, b) => medians[a]! - medians[b]!)[0];
  // The last line's fields: the ones earlier runs printed, first and in their order, then the
  // peers'; a field is left out when its pipeline did not run (--pipelines).
  const ratios: [string, number | undefined][] = [
    ["ferry/seed", medians.seed && ferry / medians.seed],
    ["ferry/floor", medians.floor && ferry / medians.floor],
    ["ferry/mydumper", mydumperBest && ferry / medians[mydumperBest]!],
    ["mariadb-backup/ferry", medians["mariadb-backup"] && medians["mariadb-backup"] / ferry],
    // A lever of ferry's own, before (ferry) and after, in the same rounds.
    ["ferry-tuned/ferry", medians["ferry-tuned"] && medians["ferry-tuned"] / ferry],
    ["ferry-follow/ferry", medians["ferry-follow"] && medians["ferry-follow"] / ferry],
    // ferry's physical method against the bare pipeline and against ferry's logical method.
    [
      "ferry-physical/mariadb-backup",
      medians["ferry-physical"] &&
        medians["mariadb-backup"] &&
        medians["ferry-physical"] / medians["mariadb-backup"],
    ],
    ["ferry-physical/ferry", medians["ferry-physical"] && medians["ferry-physical"] / ferry],
    // What a LOAD DATA import could save the destination: the two floors, same rows, same server.
    [
      "floor-load/floor",
      medians["floor-load"] && medians.floor && medians["floor-load"] / medians.floor,
    ],
  ];
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const summary = {
    sealSeconds,
    ratios: Object.fromEntries(ratios.filter(([, v]) => v !== undefined)),
    mydumperBest,
    peakRssMib: peakRss,
    medians,
  };
  const jsonFile = path.join(resultsDir, `bench-${stamp}.json`);
  fs.writeFileSync(jsonFile, JSON.stringify({ options, summary, runs }, null, 2));
  chart(path.join(resultsDir, `bench-${stamp}.png`), medians);
  log(`results: ${path.relative(repoRoot, jsonFile)}`);
  const field = ([name, value]: [string, number | undefined]) =>
    value === undefined ? [] : [`${name}=${value.toFixed(2)}`];
  console.log(
    [
      ...ratios.slice(0, 2).flatMap(field),
      `peak_rss_mib=${peakRss.toFixed(1)}`,
      ...field(ratios[2]),
      ...(mydumperBest ? [`mydumper_best=${mydumperBest}`] : []),
      ...field(ratios[3]),
      // The levers against ferry in the same rounds (left out when they did not run).
      ...ratios.slice(4).flatMap(field),
    ].join(" "),
  );
}

function secondsInSeals(step: string, stderr: string): number {
  const said = /; (?:sealing them|opening the seals) took (\d+(?:\.\d+)?)s of CPU/.exec(stderr);
  if (!said)
    throw new Error(
      `bench: ferry's ${step} did not say what its seals cost:\n${stderr.slice(-2000)}`,
    );
  return Number(said[1]);
}

/** A bar chart of the medians, drawn by gnuplot when it is installed (scripts/dev/bench.sh installs it). */
function chart(file: string, medians: Record<string, number>): void {
  const data = Object.entries(medians)
    .map(([name, value], i) => `${i} "${name}" ${value.toFixed(2)}`)
    .join("\n");
  const script = `set terminal png size 800,360
set output "${file}"
set title "ferry benchmark: median seconds per migration"
set style fill solid 0.6
set boxwidth 0.6
set yrange [0:*]
set ylabel "seconds"
unset key
plot $data using 1:3:xtic(2) with boxes, $data using 1:3:(sprintf("%.1fs", $3)) with labels offset 0,1
`;
  const result = spawnSync("gnuplot", [], { input: `$data << EOD\n${data}\nEOD\n${script}` });
  if (result.error || result.status !== 0)
    log(
      `no chart: gnuplot ${result.error ? "is not installed" : `failed: ${result.stderr.toString()}`}`,
    );
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
