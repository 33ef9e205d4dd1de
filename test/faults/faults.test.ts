import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DataPlane } from "../support/fixture";
import {
  descendsFrom,
  killMidStream,
  MariaDb,
  Minio,
  runScript,
  streamed,
} from "../support/servers";

/**
 * Faults injected into real runs of the data plane. Each case asserts a clear error naming the
 * cause, nothing partial presented as complete, and that running again completes the migration.
 */

const bucket = "ferry-faults";
let plane: DataPlane;
let source: MariaDb;
let destination: MariaDb;
let minio: Minio;

function dumpEnv(runId: string): Record<string, string> {
  return plane.dumpEnv(runId, "bulk");
}

function destinationEnv(runId: string, port = destination.port): Record<string, string> {
  return { ...plane.destinationEnv(runId, port), WAIT_SECONDS: "90", PROGRESS_SECONDS: "2" };
}

/** The command line of the data stream's dump tool (the definitions stream's has --routines). */
const dataStreamTool = ["--triggers\0", "--databases\0--\0bulk\0"];

function readCmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

function objectExists(key: string): boolean {
  return plane.objectExists(key);
}

/** Calls `act` once a process whose command line starts with `prefix` and holds `part` runs. */
async function whenRunning(
  prefix: string,
  part: string | string[],
  act: (pid: number) => void | Promise<void>,
  accept: (pid: number) => boolean = () => true,
): Promise<boolean> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
      let cmdline: string;
      try {
        cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      } catch {
        continue; // The process ended while we looked.
      }
      const parts = typeof part === "string" ? [part] : part;
      if (
        cmdline.startsWith(prefix) &&
        parts.every((p) => cmdline.includes(p)) &&
        accept(Number(pid))
      ) {
        // Outside any catch: a failed expectation inside `act` fails the test.
        await act(Number(pid));
        return true;
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Stops (SIGSTOP) the run's own process matching `prefix` and `part`; returns its pid. */
async function holdMidway(
  prefix: string,
  part: string | string[],
  runPid: number,
): Promise<number> {
  let stopped = -1;
  const found = await whenRunning(
    prefix,
    part,
    (pid) => {
      process.kill(pid, "SIGSTOP");
      stopped = pid;
    },
    (pid) => descendsFrom(pid, runPid),
  );
  expect(found).toBe(true);
  return stopped;
}

/**
 * No row of bulk.payloads lost, doubled or changed on `server`: the count, the distinct keys and
 * two sums over every row's bytes agree with the source's.
 */
function expectSameRows(server: MariaDb): void {
  const rowsDigest = `SELECT COUNT(*), COUNT(DISTINCT id),
      SUM(CRC32(CONCAT_WS(',', id, HEX(payload)))), BIT_XOR(CRC32(CONCAT_WS(',', id, HEX(payload))))
    FROM bulk.payloads`;
  expect(server.must(rowsDigest).trim()).toBe(source.must(rowsDigest).trim());
}

/**
 * What a failed dump leaves cannot pass for a dump: no manifest, every object it stored sealed
 * (unreadable without the run key), and the import refuses the run.
 */
async function expectNothingLooksComplete(runId: string): Promise<void> {
  expect(plane.objectExists(`runs/${runId}/manifest.json`)).toBe(false);
  expect(plane.unsealedObjects(`runs/${runId}/`)).toEqual([]);
  const refused = await runScript("import.sh", destinationEnv(runId));
  expect(refused.status).not.toBe(0);
  expect(refused.stderr).toContain(`the dump of run ${runId} never completed`);
}

async function migrateCleanly(runId: string): Promise<void> {
  const dump = await runScript("dump.sh", dumpEnv(runId));
  expect(dump.status, dump.stderr).toBe(0);
  const imported = await runScript("import.sh", destinationEnv(runId));
  expect(imported.status, imported.stderr).toBe(0);
  const verified = await runScript("verify.sh", destinationEnv(runId));
  expect(verified.status, verified.stderr).toBe(0);
  expectSameRows(destination);
  // The cleanup removes every dump object under the run's prefix, whatever a failed attempt left;
  // only the run's record stays.
  const cleaned = await runScript("cleanup.sh", plane.cleanupEnv(runId));
  expect(cleaned.status, cleaned.stderr).toBe(0);
  expect(plane.keysUnder(`runs/${runId}/`).sort()).toEqual([
    `runs/${runId}/manifest.json`,
    `runs/${runId}/verification.json`,
  ]);
}

beforeAll(async () => {
  plane = await DataPlane.start(
    "faults",
    bucket,
    `fault-src-${Math.random().toString(36).slice(2)}`,
  );
  ({ source, destination, minio } = plane);
  // Random bytes do not compress: the upload takes long enough to be interrupted.
  source.must(
    `CREATE DATABASE bulk;
     CREATE TABLE bulk.payloads (id INT PRIMARY KEY, payload VARBINARY(512)) ENGINE=InnoDB;
     INSERT INTO bulk.payloads SELECT seq, RANDOM_BYTES(512) FROM seq_1_to_200000;`,
    "mysql",
  );
}, 240_000);

afterAll(async () => {
  await plane?.stop();
});

/** The statements the destination's sessions run now, with the importing user's. */
function runningOnDestination(): string {
  return destination.must(
    "SELECT CONCAT(COALESCE(STATE, ''), ' | ', COALESCE(LEFT(INFO, 120), '')) FROM information_schema.PROCESSLIST WHERE USER = 'ferry_root'",
  );
}

/** Resolves once `pattern` shows in what the destination runs, within 60 s. */
async function destinationRuns(pattern: RegExp): Promise<boolean> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (pattern.test(runningOnDestination())) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/** The import program of the run started as `scriptPid` (the script execs it). */
function importProgram(scriptPid: number): number | undefined {
  return fs
    .readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .find(
      (p) => readCmdline(p).startsWith("ferry-dataplane\0import") && descendsFrom(p, scriptPid),
    );
}

describe("an import killed anywhere loses nothing", () => {
  const killable = `
    CREATE DATABASE killable;
    CREATE TABLE killable.wide (id INT PRIMARY KEY, k INT, body VARBINARY(400), KEY by_k (k)) ENGINE=InnoDB;
    INSERT INTO killable.wide SELECT seq, seq % 1000, RANDOM_BYTES(400) FROM seq_1_to_150000;
    CREATE TABLE killable.small (id INT PRIMARY KEY, note VARCHAR(20));
    INSERT INTO killable.small VALUES (1, 'one'), (2, 'two');
    CREATE VIEW killable.wide_keys AS SELECT k, COUNT(*) AS n FROM killable.wide GROUP BY k;
    CREATE PROCEDURE killable.count_wide() SELECT COUNT(*) FROM killable.wide;
  `;
  const env = () => ({ ...destinationEnv("kill-anywhere"), PROGRESS_SECONDS: "1" });

  beforeAll(async () => {
    source.must(killable, "mysql");
    const dump = await runScript("dump.sh", plane.dumpEnv("kill-anywhere", "killable"));
    expect(dump.status, dump.stderr).toBe(0);
  }, 240_000);

  /** Starts the import, kills it (SIGKILL unless told) once `when` holds, and returns its log. */
  async function killedImport(
    when: (scriptPid: number) => Promise<boolean>,
    signal: NodeJS.Signals = "SIGKILL",
  ) {
    let scriptPid = -1;
    const importing = runScript("import.sh", env(), (pid) => (scriptPid = pid));
    expect(await when(scriptPid)).toBe(true);
    const program = importProgram(scriptPid);
    expect(program).toBeDefined();
    process.kill(program!, signal);
    return importing;
  }

  /** The next import completes and the destination then verifies, every row there once. */
  async function recovers(): Promise<void> {
    const imported = await runScript("import.sh", env());
    expect(imported.status, imported.stderr).toBe(0);
    const verified = await runScript("verify.sh", env());
    expect(verified.status, verified.stderr).toBe(0);
    expect(destination.must("SELECT COUNT(*), COUNT(DISTINCT id) FROM killable.wide").trim()).toBe(
      "150000\t150000",
    );
    expect(destination.must("CHECKSUM TABLE killable.wide").split("\t")[1]).toBe(
      source.must("CHECKSUM TABLE killable.wide").split("\t")[1],
    );
  }

  beforeEach(() =>
    destination.must("DROP DATABASE IF EXISTS killable; DROP DATABASE IF EXISTS ferry;"),
  );

  it.each([
    [
      "while downloading, before a row is in",
      () => async (pid: number) => {
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline && importProgram(pid) === undefined)
          await new Promise((r) => setTimeout(r, 5));
        return streamed(importProgram(pid)!, 1 << 20);
      },
    ],
    ["mid-table, rows going in", () => () => destinationRuns(/INSERT INTO `wide`/)],
    ["while a secondary index is built", () => () => destinationRuns(/ALTER TABLE `wide` ADD KEY/)],
  ])(
    "SIGKILLed %s: the next import completes, nothing lost or doubled",
    async (_, condition) => {
      await killedImport(condition());
      await recovers();
    },
    240_000,
  );

  it("SIGKILLed while creating the views and routines: the next import completes", async () => {
    // Replacing the procedure waits for a lock the test takes on the routines' system table once
    // rows go in (the import reads the routines' catalog before it begins), so the kill lands
    // inside the definitions (the rows are all in by then).
    const lock = destination.session();
    try {
      await killedImport(async () => {
        if (!(await destinationRuns(/INSERT INTO `wide`/))) return false;
        lock.send("LOCK TABLES mysql.proc WRITE;");
        return destinationRuns(/metadata lock \| .*PROCEDURE .*`count_wide`/);
      });
    } finally {
      await lock.end();
    }
    await recovers();
    expect(destination.must("SELECT COUNT(*) FROM killable.wide_keys").trim()).toBe("1000");
    expect(destination.must("CALL killable.count_wide()").trim()).toBe("150000");
  }, 240_000);

  it("SIGKILLed during its bookkeeping, everything else done: the next import completes", async () => {
    // The run's final record waits for a lock the test takes on ferry.runs once rows go in.
    let scriptPid = -1;
    const importing = runScript("import.sh", env(), (pid) => (scriptPid = pid));
    expect(await destinationRuns(/INSERT INTO `wide`/)).toBe(true);
    const lock = destination.session();
    try {
      lock.send("LOCK TABLES ferry.runs WRITE;");
      expect(await destinationRuns(/UPDATE ferry\.runs SET state = 'imported'/)).toBe(true);
      process.kill(importProgram(scriptPid)!, "SIGKILL");
      await importing;
    } finally {
      await lock.end();
    }
    await recovers();
  }, 240_000);

  it("SIGTERMed mid-table: it stops, says so, removes the partial import; the next completes", async () => {
    const stopped = await killedImport(() => destinationRuns(/INSERT INTO `wide`/), "SIGTERM");
    expect(stopped.status).not.toBe(0);
    expect(stopped.stderr).toContain(
      "the import was stopped by a signal before it finished. The partial import was removed; the destination is empty again.",
    );
    expect(
      destination
        .must("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'killable'")
        .trim(),
    ).toBe("0");
    await recovers();
  }, 240_000);
});

describe("fault matrix", () => {
  it("dump process killed mid-stream: the dump fails naming it, leaves no manifest, and a re-run completes", async () => {
    destination.must("DROP DATABASE IF EXISTS bulk; DROP DATABASE IF EXISTS ferry;");
    let scriptPid = -1;
    const dumping = runScript("dump.sh", dumpEnv("dump-killed"), (pid) => (scriptPid = pid));
    // Only this script's own mariadb-dump: other suites may be dumping at the same time.
    const killed = await whenRunning(
      "mariadb-dump\0",
      dataStreamTool,
      async (pid) => expect(await killMidStream(pid, 4 << 20)).toBe(true),
      (pid) => descendsFrom(pid, scriptPid),
    );
    expect(killed).toBe(true);
    const dump = await dumping;
    expect(dump.status).not.toBe(0);
    expect(dump.stderr).toContain("the dump (data-1 stream) failed (exit 137)");
    expect(dump.stderr).toMatch(
      /the failed dump leaves \d+ sealed objects \(chunks and the indexes that list them\) .* and no manifest/,
    );
    await expectNothingLooksComplete("dump-killed");
    await migrateCleanly("dump-killed");
  }, 240_000);

  it("tables without transactions (MyISAM, Aria) written during the dump: the writes wait until the dump has read them, and the migration verifies", async () => {
    destination.must("DROP DATABASE IF EXISTS bulk; DROP DATABASE IF EXISTS ferry;");
    source.must(
      `CREATE TABLE bulk.notes (id INT PRIMARY KEY, body VARCHAR(20)) ENGINE=MyISAM;
       INSERT INTO bulk.notes VALUES (1, 'before');
       CREATE TABLE bulk.journal (id INT PRIMARY KEY, body VARCHAR(20)) ENGINE=Aria;
       INSERT INTO bulk.journal VALUES (1, 'before');`,
    );
    try {
      let scriptPid = -1;
      let released: () => void = () => undefined;
      const writesReleased = new Promise<void>((resolve) => (released = resolve));
      const dumping = runScript(
        "dump.sh",
        dumpEnv("unversioned"),
        (pid) => (scriptPid = pid),
        (log) => log.includes("writes on the source released") && released(),
      );
      await writesReleased;
      // The data stream's dump tool (200000 rows to go) held still: the dump is not over while
      // the writes are tried, however fast the machine.
      const held = await holdMidway("mariadb-dump\0", dataStreamTool, scriptPid);
      let tried: string[];
      try {
        tried = ["notes", "journal"].map(
          (table) =>
            source.sql(
              `SET SESSION lock_wait_timeout = 1; INSERT INTO bulk.${table} VALUES (2, 'during')`,
            ).stderr,
        );
      } finally {
        process.kill(held, "SIGCONT");
      }
      for (const stderr of tried) expect(stderr).toMatch(/Lock wait timeout exceeded/);
      const dump = await dumping;
      expect(dump.status, dump.stderr).toBe(0);
      expect(dump.stderr).toContain(
        "ferry-dump: 2 table(s) without transactions are read-locked until the dump has read them; writes to them wait until then: `bulk`.`journal` (Aria), `bulk`.`notes` (MyISAM)",
      );
      // Read, they take writes again.
      source.must("INSERT INTO bulk.notes VALUES (3, 'after')");
      const imported = await runScript("import.sh", destinationEnv("unversioned"));
      expect(imported.status, imported.stderr).toBe(0);
      const verified = await runScript("verify.sh", destinationEnv("unversioned"));
      expect(verified.status, verified.stderr).toBe(0);
      expect(destination.must("SELECT id, body FROM bulk.notes ORDER BY id")).toBe("1\tbefore\n");
    } finally {
      source.must("DROP TABLE IF EXISTS bulk.notes, bulk.journal");
    }
  }, 240_000);

  it("the dump program itself SIGKILLed mid-upload: no manifest, the import refuses the run, and a re-run completes", async () => {
    destination.must("DROP DATABASE IF EXISTS bulk; DROP DATABASE IF EXISTS ferry;");
    let scriptPid = -1;
    // 4 MiB chunks: by the time the dump tool has written 24 MiB, some are stored and one is under way.
    const env = { ...dumpEnv("program-killed"), CHUNK_MIB: "4" };
    const dumping = runScript("dump.sh", env, (pid) => (scriptPid = pid));
    const killed = await whenRunning(
      "mariadb-dump\0",
      dataStreamTool,
      async (pid) => {
        expect(await streamed(pid, 24 << 20)).toBe(true);
        const program = fs
          .readdirSync("/proc")
          .filter((p) => /^\d+$/.test(p))
          .map(Number)
          .find(
            (p) => readCmdline(p).startsWith("ferry-dataplane\0dump") && descendsFrom(p, scriptPid),
          );
        expect(program).toBeDefined();
        process.kill(program!, "SIGKILL");
      },
      (pid) => descendsFrom(pid, scriptPid),
    );
    expect(killed).toBe(true);
    const dump = await dumping;
    expect(dump.status).not.toBe(0);
    expect(plane.keysUnder("runs/program-killed/").length).toBeGreaterThan(0);
    await expectNothingLooksComplete("program-killed");
    // The re-run (whose credential cannot delete) writes over what the killed one left and
    // stores a whole dump; the cleanup removes the rest.
    const rerun = await runScript("dump.sh", env);
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(
      /\d+ objects of an earlier, unfinished dump of run program-killed are stored/,
    );
    const manifest = JSON.parse(rerun.stdout) as { streams: { chunks: { object: string }[] }[] };
    const stored = plane.keysUnder("runs/program-killed/");
    for (const object of manifest.streams.flatMap((s) => s.chunks.map((c) => c.object)))
      expect(stored).toContain(object);
    await migrateCleanly("program-killed");
  }, 240_000);

  it("object store stopped mid-upload: a clear error naming the upload, no manifest, and a re-run completes", async () => {
    destination.must("DROP DATABASE IF EXISTS bulk; DROP DATABASE IF EXISTS ferry;");
    let scriptPid = -1;
    const dumping = runScript("dump.sh", dumpEnv("store-stopped"), (pid) => (scriptPid = pid));
    const interrupted = await whenRunning(
      "mariadb-dump\0",
      dataStreamTool,
      async (pid) => {
        expect(await streamed(pid, 4 << 20)).toBe(true);
        await minio.pause();
      },
      (pid) => descendsFrom(pid, scriptPid),
    );
    expect(interrupted).toBe(true);
    const dump = await dumping;
    await minio.resume();
    expect(dump.status).not.toBe(0);
    expect(dump.stderr).toMatch(
      /ferry-dump: ERROR: the upload to s3:\/\/ferry-faults\/runs\/store-stopped\/(attempt\.json|(data-1|definitions)\/(\d{6}\.sql\.zst|index\.json)) failed: .*connection refused/,
    );
    await expectNothingLooksComplete("store-stopped");
    await migrateCleanly("store-stopped");
  }, 240_000);

  it("object store frozen (answering nothing) mid-upload: the stalled upload is abandoned, nothing of it looks complete, and a re-run completes", async () => {
    destination.must("DROP DATABASE IF EXISTS bulk; DROP DATABASE IF EXISTS ferry;");
    let scriptPid = -1;
    let gaveUp: () => void = () => undefined;
    const stallLogged = new Promise<void>((resolve) => (gaveUp = resolve));
    const dumping = runScript(
      "dump.sh",
      { ...dumpEnv("store-frozen"), STALL_SECONDS: "5" },
      (pid) => (scriptPid = pid),
      (log) => {
        if (/made no progress for 5s/.test(log)) gaveUp();
      },
    );
    const interrupted = await whenRunning(
      "mariadb-dump\0",
      dataStreamTool,
      async (pid) => {
        expect(await streamed(pid, 4 << 20)).toBe(true);
        minio.freeze();
      },
      (pid) => descendsFrom(pid, scriptPid),
    );
    expect(interrupted).toBe(true);
    // The store answers again once the dump has given up on it.
    await Promise.race([stallLogged, dumping]);
    minio.thaw();
    const dump = await dumping;
    expect(dump.status).not.toBe(0);
    expect(dump.stderr).toMatch(
      /ferry-dump: ERROR: the upload to s3:\/\/ferry-faults\/runs\/store-frozen\/(data-1|definitions)\/\d{6}\.sql\.zst failed: the upload of runs\/store-frozen\/\1\/\d{6}\.sql\.zst made no progress for 5s/,
    );
    await expectNothingLooksComplete("store-frozen");
    await migrateCleanly("store-frozen");
  }, 240_000);

  it("object store restarted mid-download: the download resumes once the store is back, and the import completes", async () => {
    destination.must("DROP DATABASE IF EXISTS bulk; DROP DATABASE IF EXISTS ferry;");
    let dumpPid = -1;
    const dumping = runScript(
      "dump.sh",
      { ...dumpEnv("download-resumed"), PROGRESS_SECONDS: "1" },
      (pid) => (dumpPid = pid),
    );
    // The dump may take about a second here: its dump tool is held still for 1.5 s once it runs,
    // so a progress line (every second) falls inside the dump whatever the machine's speed.
    const paused = await whenRunning(
      "mariadb-dump\0",
      dataStreamTool,
      async (pid) => {
        process.kill(pid, "SIGSTOP");
        await new Promise((r) => setTimeout(r, 1500));
        process.kill(pid, "SIGCONT");
      },
      (pid) => descendsFrom(pid, dumpPid),
    );
    expect(paused).toBe(true);
    const dump = await dumping;
    expect(dump.status, dump.stderr).toBe(0);
    // Progress while it works: bytes against the estimate, rate and time left.
    expect(dump.stderr).toMatch(
      /ferry-dump: progress step=dump bytes=[1-9]\d*\/[1-9]\d* \(\d+%\) rate=[\d.]+MiB\/s eta=\S+ elapsed=\d+s total=estimated-from-table-sizes/,
    );
    // The store comes back as soon as the import has seen the download break off: no sleep.
    let brokeOff: () => void = () => undefined;
    const brokenOff = new Promise<void>((resolve) => (brokeOff = resolve));
    const importing = runScript(
      "import.sh",
      destinationEnv("download-resumed"),
      undefined,
      (log) => {
        if (/the download of .* broke off at byte/.test(log)) brokeOff();
      },
    );
    const interrupted = await whenRunning("ferry-dataplane\0", "import", async (pid) => {
      expect(await streamed(pid, 4 << 20)).toBe(true);
      await minio.pause();
      await brokenOff;
      await minio.resume();
    });
    expect(interrupted).toBe(true);
    const imported = await importing;
    expect(imported.status, imported.stderr).toBe(0);
    expect(imported.stderr).toMatch(
      /the download of s3:\/\/ferry-faults\/runs\/download-resumed\/data-1\/\d{6}\.sql\.zst broke off at byte \d+ .*; resuming/,
    );
    expect(imported.stderr).toMatch(
      /ferry-import: progress step=import bytes=[1-9]\d*\/[1-9]\d* \(\d+%\) rate=[\d.]+MiB\/s eta=\S+ elapsed=\d+s tables=\d+\/1/,
    );
    const verified = await runScript("verify.sh", destinationEnv("download-resumed"));
    expect(verified.status, verified.stderr).toBe(0);
    expectSameRows(destination);
  }, 240_000);

  it("object store frozen (answering nothing) mid-download: the stalled download resumes once it answers, and the import completes", async () => {
    destination.must("DROP DATABASE IF EXISTS bulk; DROP DATABASE IF EXISTS ferry;");
    const dump = await runScript("dump.sh", dumpEnv("download-frozen"));
    expect(dump.status, dump.stderr).toBe(0);
    let brokeOff: () => void = () => undefined;
    const brokenOff = new Promise<void>((resolve) => (brokeOff = resolve));
    const importing = runScript(
      "import.sh",
      { ...destinationEnv("download-frozen"), STALL_SECONDS: "3" },
      undefined,
      (log) => {
        if (/made no progress for 3s\); resuming/.test(log)) brokeOff();
      },
    );
    const interrupted = await whenRunning("ferry-dataplane\0", "import", async (pid) => {
      expect(await streamed(pid, 4 << 20)).toBe(true);
      minio.freeze();
      await Promise.race([brokenOff, importing]);
      minio.thaw();
    });
    expect(interrupted).toBe(true);
    const imported = await importing;
    expect(imported.status, imported.stderr).toBe(0);
    expect(imported.stderr).toMatch(
      /the download of s3:\/\/ferry-faults\/runs\/download-frozen\/data-1\/\d{6}\.sql\.zst broke off at byte \d+ \(the download of runs\/download-frozen\/data-1\/\d{6}\.sql\.zst made no progress for 3s\); resuming/,
    );
    const verified = await runScript("verify.sh", destinationEnv("download-frozen"));
    expect(verified.status, verified.stderr).toBe(0);
  }, 240_000);

  it("destination not accepting connections at first: the import waits, logs progress, then completes", async () => {
    destination.must("DROP DATABASE IF EXISTS bulk; DROP DATABASE IF EXISTS ferry;");
    const dump = await runScript("dump.sh", dumpEnv("late-destination"));
    expect(dump.status, dump.stderr).toBe(0);
    // A second server that starts only after the import began waiting for it.
    const { freePort } = await import("../support/servers");
    const port = await freePort();
    let waitingSeen: () => void = () => undefined;
    const waiting = new Promise<void>((resolve) => (waitingSeen = resolve));
    const importing = runScript(
      "import.sh",
      destinationEnv("late-destination", port),
      undefined,
      (line) => {
        if (/waiting for the destination database/.test(line)) waitingSeen();
      },
    );
    // The server starts only once the import has said it is waiting, with its user made at startup.
    await waiting;
    const late = await MariaDb.start("late-destination", port, undefined, [
      plane.importerAtStartup(),
    ]);
    try {
      const imported = await importing;
      expect(imported.status, imported.stderr).toBe(0);
      expect(imported.stderr).toMatch(
        /waiting for the destination database at 127\.0\.0\.1:[0-9]+ \([0-9]+s\)/,
      );
      expectSameRows(late);
    } finally {
      await late.stop();
    }
  }, 240_000);

  it("destination disk full during import: a clear error, the partial import removed, and a re-run completes", async () => {
    const dump = await runScript("dump.sh", dumpEnv("disk-full"));
    expect(dump.status, dump.stderr).toBe(0);
    // A destination whose data lives on a 70 MiB filesystem; the data needs about twice that.
    const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-small-disk-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=70m", "tmpfs", mountPoint]);
    let small: MariaDb | undefined;
    try {
      small = await MariaDb.start("small-disk", undefined, path.join(mountPoint, "data"));
      plane.grantImporter(small);
      const full = await runScript("import.sh", destinationEnv("disk-full", small.port));
      expect(full.status).not.toBe(0);
      expect(full.stderr).toMatch(
        /the destination rejected the import: .*(is full|No space left|Disk full|errno: 28)/i,
      );
      expect(full.stderr).toContain(
        "The partial import was removed; the destination is empty again.",
      );
      expect(
        small
          .must("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'bulk'")
          .trim(),
      ).toBe("0");
      // More room, the same run: it completes.
      execFileSync("mount", ["-o", "remount,size=400m", mountPoint]);
      const retried = await runScript("import.sh", destinationEnv("disk-full", small.port));
      expect(retried.status, retried.stderr).toBe(0);
      expectSameRows(small);
    } finally {
      await small?.stop();
      execFileSync("umount", [mountPoint]);
      fs.rmSync(mountPoint, { recursive: true, force: true });
    }
  }, 300_000);

  it("a second run while one is in progress: refused with the reason; the first completes", async () => {
    destination.must("DROP DATABASE IF EXISTS bulk; DROP DATABASE IF EXISTS ferry;");
    // A real first run, held mid-way (its dump tool stopped, its lock session alive) for as long as
    // the second run takes, whatever the speed of this machine.
    let firstPid = -1;
    const first = runScript("dump.sh", dumpEnv("concurrent"), (pid) => (firstPid = pid));
    let stopped = await holdMidway("mariadb-dump\0", dataStreamTool, firstPid);
    const second = await runScript("dump.sh", dumpEnv("concurrent"));
    process.kill(stopped, "SIGCONT");
    expect(second.status).not.toBe(0);
    expect(second.stderr).toContain("another dump of run concurrent is in progress on this source");
    const dumped = await first;
    expect(dumped.status, dumped.stderr).toBe(0);
    expect(objectExists("runs/concurrent/manifest.json")).toBe(true);

    let importPid = -1;
    const importing = runScript(
      "import.sh",
      destinationEnv("concurrent"),
      (pid) => (importPid = pid),
    );
    stopped = await holdMidway("mariadb\0", "--comments", importPid);
    const rival = await runScript("import.sh", destinationEnv("concurrent"));
    process.kill(stopped, "SIGCONT");
    expect(rival.status).not.toBe(0);
    expect(rival.stderr).toContain("another ferry import into 127.0.0.1:");
    const imported = await importing;
    expect(imported.status, imported.stderr).toBe(0);
    const verified = await runScript("verify.sh", destinationEnv("concurrent"));
    expect(verified.status, verified.stderr).toBe(0);
    expectSameRows(destination);
  }, 240_000);
});
