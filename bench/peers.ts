import * as fs from "fs";
import * as path from "path";
import { MariaDb } from "../test/support/servers";
import { bytesBelow, cpuTotals, largestPeaks, measure, type Measured } from "./measure";

/**
 * The tools a DBA would reach for instead of ferry, run on the same servers and data as ferry's
 * pipelines: mydumper → myloader (parallel logical, local directory) and mariadb-backup streamed
 * through the object store (physical). Debian's packages, installed by scripts/dev/bench.sh.
 */

/** What every peer needs of the benchmark's setup. */
export interface PeerSetup {
  source: MariaDb;
  destination: MariaDb;
  /** Client option files holding the passwords (never on a command line). */
  sourceCnf: string;
  destinationCnf: string;
  databases: string[];
  /** Scratch space for dumps and restores, removed by the caller. */
  work: string;
  /** An mc config directory with the alias "ferry" (the object store) and the bench's bucket. */
  mcDir: string;
  bucket: string;
  /** The size of an object in the bench's bucket. */
  storedBytes: (key: string) => number;
  /** Threads for every tool: the same parallelism ferry gets. */
  threads: number;
  /** The servers' own settings, for a server started on a restored data directory. */
  serverSettings: string[];
}

/** One peer's timed run: its wall time, the steps that make it up and what it moved. */
export interface PeerRun {
  seconds: number;
  steps: Record<string, number>;
  /** Bytes its copy took between the servers (a directory, or the stored object). */
  movedBytes: number;
  peakRssMib: Record<string, number>;
  /** CPU seconds by program over its steps (the servers' included). */
  cpuSeconds: Record<string, number>;
}

function mustSucceed(what: string, result: Measured): Measured {
  if (result.status !== 0)
    throw new Error(
      `bench: ${what} failed (exit ${result.status}):\n${result.stderr.slice(-3000)}`,
    );
  return result;
}

/**
 * mydumper then myloader, one after the other, through a local directory (no object store, no
 * compression: the peer at its best). `rows` splits tables into chunks of that many rows;
 * without it each table is one file. myloader leaves its sessions out of the binary log by
 * default, as ferry's import does.
 */
export async function runMydumper(setup: PeerSetup, rows?: number): Promise<PeerRun> {
  const dir = path.join(setup.work, "mydumper");
  fs.rmSync(dir, { recursive: true, force: true });
  const databases = setup.databases.map((d) => d.replace(/[^A-Za-z0-9_]/g, "")).join("|");
  const dump = mustSucceed(
    "mydumper",
    await measure(
      "mydumper",
      [
        `--defaults-file=${setup.sourceCnf}`,
        `--threads=${setup.threads}`,
        ...(rows ? [`--rows=${rows}`] : []),
        "--triggers",
        "--events",
        "--routines",
        `--regex=^(${databases})\\.`,
        `--outputdir=${dir}`,
        "--verbose=1",
      ],
      {},
    ),
  );
  const movedBytes = bytesBelow(dir);
  const load = mustSucceed(
    "myloader",
    await measure(
      "myloader",
      [
        `--defaults-file=${setup.destinationCnf}`,
        `--threads=${setup.threads}`,
        `--directory=${dir}`,
        "--overwrite-tables",
        "--verbose=1",
      ],
      {},
    ),
  );
  fs.rmSync(dir, { recursive: true, force: true });
  const peakRssMib = largestPeaks([dump, load]);
  return {
    seconds: dump.seconds + load.seconds,
    steps: { dump: dump.seconds, load: load.seconds },
    movedBytes,
    peakRssMib,
    cpuSeconds: cpuTotals([dump, load]),
  };
}

/**
 * mariadb-backup streamed through the object store: `--backup --stream=mbstream | zstd | mc pipe`
 * on the source's side, then `mc cat | zstd -d | mbstream -x`, `--prepare`, `--move-back` into an
 * empty data directory and a server started on it until it answers. Returns the run and the
 * restored server (the caller compares it with the source, then stops it).
 */
export async function runMariadbBackup(
  setup: PeerSetup,
  round: number,
): Promise<{ run: PeerRun; restored: MariaDb }> {
  // Compiled into .ferry/bench; scripts/dev/bench.sh runs it from the repository's root.
  const script = path.join(process.cwd(), "bench", "mariadb-backup-pipeline.sh");
  const restoreDir = path.join(setup.work, "mariadb-backup-restore");
  const serverDir = fs.mkdtempSync(path.join(setup.work, "mariadb-backup-server-"));
  const dataDir = path.join(serverDir, "data");
  fs.rmSync(restoreDir, { recursive: true, force: true });
  const key = `mariadb-backup/round-${round}.mbstream.zst`;
  const env = {
    SOURCE_SOCKET: setup.source.socket,
    SOURCE_DATADIR: setup.source.dataDir,
    THREADS: String(setup.threads),
    WORK_DIR: setup.work,
    RESTORE_DIR: restoreDir,
    MC_CONFIG_DIR: setup.mcDir,
    TARGET: `ferry/${setup.bucket}/${key}`,
  };
  const steps: Record<string, number> = {};
  const measured: Measured[] = [];
  const step = async (name: string, command: string, args: string[]) => {
    const result = mustSucceed(`mariadb-backup's ${name}`, await measure(command, args, env));
    steps[name] = result.seconds;
    measured.push(result);
  };
  await step("backup and upload", "sh", [script, "backup"]);
  const movedBytes = setup.storedBytes(key);
  await step("download and extract", "sh", [script, "restore"]);
  await step("prepare", "mariadb-backup", [
    "--no-defaults",
    "--prepare",
    `--target-dir=${restoreDir}`,
    "--use-memory=2G",
  ]);
  await step("move back", "mariadb-backup", [
    "--no-defaults",
    "--move-back",
    `--target-dir=${restoreDir}`,
    `--datadir=${dataDir}`,
  ]);
  fs.rmSync(restoreDir, { recursive: true, force: true });
  const started = process.hrtime.bigint();
  const restored = await MariaDb.startOn(
    "bench-restored",
    serverDir,
    dataDir,
    setup.serverSettings,
  );
  steps["server start"] = Number(process.hrtime.bigint() - started) / 1e9;
  const seconds = Object.values(steps).reduce((a, b) => a + b, 0);
  return {
    run: {
      seconds,
      steps,
      movedBytes,
      peakRssMib: largestPeaks(measured),
      cpuSeconds: cpuTotals(measured),
    },
    restored,
  };
}

const quoteName = (name: string) => "`" + name.replace(/`/g, "``") + "`";
const quoteText = (text: string) => "'" + text.replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";

/**
 * What a copy must equal of its source: every table's columns and indexes, every view, routine,
 * trigger and event (their definitions by digest), and every base table's CHECKSUM TABLE (the
 * same server version on both sides, so equal rows give equal checksums).
 */
function fingerprint(server: MariaDb, databases: string[]): string {
  const inList = databases.map(quoteText).join(", ");
  const catalog = server.must(`
    SELECT CONCAT_WS('|', 'table', TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE) FROM information_schema.TABLES
      WHERE TABLE_SCHEMA IN (${inList}) ORDER BY TABLE_SCHEMA, TABLE_NAME;
    SELECT CONCAT_WS('|', 'column', TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION, COLUMN_NAME, COLUMN_TYPE,
        IS_NULLABLE, IFNULL(COLUMN_DEFAULT, '(none)'), IFNULL(COLLATION_NAME, '(none)'), EXTRA)
      FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN (${inList})
      ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION;
    SELECT CONCAT_WS('|', 'index', TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE)
      FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN (${inList})
      ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX;
    SELECT CONCAT_WS('|', 'view', TABLE_SCHEMA, TABLE_NAME, MD5(VIEW_DEFINITION)) FROM information_schema.VIEWS
      WHERE TABLE_SCHEMA IN (${inList}) ORDER BY TABLE_SCHEMA, TABLE_NAME;
    SELECT CONCAT_WS('|', 'routine', ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE, MD5(ROUTINE_DEFINITION))
      FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN (${inList}) ORDER BY 1;
    SELECT CONCAT_WS('|', 'trigger', TRIGGER_SCHEMA, TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING,
        EVENT_MANIPULATION, MD5(ACTION_STATEMENT))
      FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN (${inList}) ORDER BY 1;
    SELECT CONCAT_WS('|', 'event', EVENT_SCHEMA, EVENT_NAME, MD5(EVENT_DEFINITION))
      FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN (${inList}) ORDER BY 1;
  `);
  const tables = server
    .must(
      `SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES
       WHERE TABLE_SCHEMA IN (${inList}) AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1`,
    )
    .trim()
    .split("\n")
    .filter(Boolean);
  const names = tables.map((t) => {
    const dot = t.indexOf(".");
    return `${quoteName(t.slice(0, dot))}.${quoteName(t.slice(dot + 1))}`;
  });
  const checksums = names.length ? server.must(`CHECKSUM TABLE ${names.join(", ")} EXTENDED`) : "";
  return catalog + checksums;
}

/**
 * Throws unless `copy` holds what `source` holds in `databases` (untimed; a fast wrong peer must
 * not win). Names the first line that differs.
 */
export function requireSameAsSource(
  what: string,
  source: MariaDb,
  copy: MariaDb,
  databases: string[],
): void {
  const expected = fingerprint(source, databases).split("\n");
  const actual = fingerprint(copy, databases).split("\n");
  const line = expected.findIndex((l, i) => l !== actual[i]);
  if (line !== -1 || expected.length !== actual.length)
    throw new Error(
      `bench: ${what}'s copy differs from the source: source has '${expected[line] ?? "(nothing)"}', the copy '${actual[line === -1 ? expected.length : line] ?? "(nothing)"}'`,
    );
}

/**
 * Waits until `server` has written its dirty pages and purged its undo history, so the work a
 * pipeline left behind (a dropped database's purge, a load's dirty pages) does not slow the next
 * one. Flushing is asked for all pages at the disk's speed (the default io capacity, 200 pages a
 * second, took minutes after a 1 GiB load); the settings are restored afterwards.
 */
export async function settle(server: MariaDb, timeoutSeconds = 600): Promise<number> {
  const started = Date.now();
  const [dirtyPct, capacity, capacityMax] = server
    .must(
      "SELECT @@GLOBAL.innodb_max_dirty_pages_pct, @@GLOBAL.innodb_io_capacity, @@GLOBAL.innodb_io_capacity_max",
    )
    .trim()
    .split("\t")
    .map(Number);
  // io_capacity may not exceed io_capacity_max: raise the maximum first, lower it last.
  server.must(`SET GLOBAL innodb_io_capacity_max = 20000; SET GLOBAL innodb_io_capacity = 20000;
    SET GLOBAL innodb_max_dirty_pages_pct = 0`);
  try {
    for (;;) {
      const status = server.must(
        `SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS
         WHERE VARIABLE_NAME IN ('INNODB_BUFFER_POOL_PAGES_DIRTY', 'INNODB_HISTORY_LIST_LENGTH')`,
      );
      const value = (name: string) =>
        Number(new RegExp(`^${name}\\t(\\d+)$`, "m").exec(status)?.[1]);
      const dirty = value("INNODB_BUFFER_POOL_PAGES_DIRTY");
      const history = value("INNODB_HISTORY_LIST_LENGTH");
      if (Number.isNaN(dirty) || Number.isNaN(history))
        throw new Error(
          `bench: ${server.name} does not report dirty pages and history:\n${status}`,
        );
      if (dirty === 0 && history < 100) break;
      if (Date.now() - started > timeoutSeconds * 1000)
        throw new Error(
          `bench: ${server.name} did not settle within ${timeoutSeconds}s (${dirty} dirty pages, history ${history})`,
        );
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    server.must(`SET GLOBAL innodb_max_dirty_pages_pct = ${dirtyPct};
      SET GLOBAL innodb_io_capacity = ${capacity}; SET GLOBAL innodb_io_capacity_max = ${capacityMax}`);
  }
  return (Date.now() - started) / 1000;
}
