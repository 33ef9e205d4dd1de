import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataPlane } from "../support/fixture";
import { descendsFrom, MariaDb, runScript } from "../support/servers";

/**
 * The physical method on real servers: mariadb-backup's copy of the source's data files, taken
 * while the source commits, stored in sealed chunks, restored into an empty data directory, and
 * verified object by object against digests taken at the copy's own point. A changed chunk, a
 * data directory holding data and a second start of the same restore are each met as they must be.
 * The logical dump runs beside the same writer too: it is where a table without transactions,
 * read-locked by ferry while an application writes to it, once hung the dump.
 */

const bucket = "ferry-physical";
let plane: DataPlane;
let source: MariaDb;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-physical-"));
const restoredServers: MariaDb[] = [];

const seed = `
CREATE DATABASE shop CHARACTER SET utf8mb4;
CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, customer VARCHAR(40), total DECIMAL(10,2),
  note TEXT, KEY by_customer (customer)) ENGINE=InnoDB;
INSERT INTO shop.orders (customer, total, note)
  SELECT CONCAT('customer ', seq % 97), seq / 7, REPEAT('x', seq % 300) FROM shop.seq_1_to_20000;
CREATE TABLE shop.\`it's "odd" ☃\` (id INT PRIMARY KEY, f FLOAT, b VARBINARY(8)) ENGINE=InnoDB;
INSERT INTO shop.\`it's "odd" ☃\` VALUES (1, 0.1, 0x00FF), (2, -1.5e-30, NULL);
CREATE TABLE shop.photos (id INT PRIMARY KEY, body BLOB) ENGINE=InnoDB;
INSERT INTO shop.photos SELECT seq, RANDOM_BYTES(1024) FROM shop.seq_1_to_12000;
CREATE TABLE shop.visits (id INT AUTO_INCREMENT PRIMARY KEY, page VARCHAR(40)) ENGINE=MyISAM;
INSERT INTO shop.visits (page) VALUES ('home'), ('cart');
CREATE VIEW shop.big_orders AS SELECT id, total FROM shop.orders WHERE total > 1000;
CREATE TRIGGER shop.no_negative BEFORE INSERT ON shop.orders FOR EACH ROW SET NEW.total = ABS(NEW.total);
DELIMITER //
CREATE PROCEDURE shop.churn() BEGIN
  DECLARE i INT DEFAULT 0;
  WHILE TRUE DO
    INSERT INTO shop.orders (customer, total) VALUES ('churn', i);
    UPDATE shop.orders SET total = total + 1 WHERE id = 1 + i % 20000;
    IF i % 10 = 0 THEN INSERT INTO shop.visits (page) VALUES (CONCAT('page ', i)); END IF;
    SET i = i + 1;
  END WHILE;
END //
DELIMITER ;
CREATE DATABASE elsewhere;
CREATE TABLE elsewhere.t (id INT PRIMARY KEY) ENGINE=InnoDB;
`;

function physicalDumpEnv(runId: string, databases = "shop"): Record<string, string> {
  return { ...plane.dumpEnv(runId, databases), METHOD: "physical", CHUNK_MIB: "1" };
}

function restoreEnv(runId: string, dataDir: string): Record<string, string> {
  // The restore reaches no server: it starts one on the restored files itself.
  const env = plane.destinationEnv(runId);
  delete env.DEST_HOST;
  delete env.DEST_PORT;
  return { ...env, DATA_DIR: dataDir, DEST_ACCOUNT_HOST: "127.0.0.1" };
}

/**
 * Runs a step while a client of the source calls the database's churn() all along (shop's commits
 * to an InnoDB and a MyISAM table), and stops the client after it.
 */
async function whileTheSourceCommits<T>(step: () => Promise<T>, database = "shop"): Promise<T> {
  const churn = source.session();
  churn.send(`CALL ${database}.churn();`);
  try {
    await new Promise((r) => setTimeout(r, 500));
    return await step();
  } finally {
    await stopChurn(churn, database);
  }
}

/** Stops a session calling the database's churn(). */
async function stopChurn(churn: ReturnType<MariaDb["session"]>, database: string): Promise<void> {
  const churning = source
    .must(
      `SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '${database}' AND COMMAND = 'Query' AND ID <> CONNECTION_ID()`,
    )
    .trim();
  if (churning) source.must(`KILL CONNECTION ${Number(churning)}`);
  await churn.end();
}

/** Starts a server on a restored data directory, stopped after the suite. */
async function serveRestored(name: string, dataDir: string): Promise<MariaDb> {
  const dir = fs.mkdtempSync(path.join(work, `${name}-server-`));
  const server = await MariaDb.startOn(name, dir, dataDir, ["--server-id=3"]);
  restoredServers.push(server);
  return server;
}

beforeAll(async () => {
  plane = await DataPlane.start("physical", bucket, `ph'pw ${Math.random()}`);
  source = plane.source;
  source.must(seed);
}, 180_000);

afterAll(async () => {
  for (const server of restoredServers) await server.stop();
  await plane?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe("the physical method", () => {
  it("copies the source while it commits, restores the copy into an empty data directory and verifies every object at the copy's point", async () => {
    const dumped = await whileTheSourceCommits(() => runScript("dump.sh", physicalDumpEnv("copy")));
    expect(dumped.status, dumped.stderr).toBe(0);
    expect(dumped.stderr).toMatch(
      /the copy is consistent at binlog \S+ \d+ .*where the digests' snapshots are/,
    );
    expect(dumped.stderr).toMatch(
      /databases elsewhere, not in ferry:source\.databases, come along too/,
    );
    expect(dumped.stderr).toMatch(
      /the digests will be read at the copy's point, after it: `shop`\.`visits` has no transactions \(MyISAM\)/,
    );
    const manifest = JSON.parse(dumped.stdout) as {
      method: string;
      streams: { name: string; chunks: unknown[] }[];
      tables: { table: string; rows: number }[];
    };
    expect(manifest.method).toBe("physical");
    expect(manifest.streams.map((s) => s.name)).toEqual(["physical"]);
    expect(manifest.streams[0].chunks.length).toBeGreaterThan(1);
    // The churn went on during the copy: more orders than seeded were digested, and more after.
    const digested = manifest.tables.find((t) => t.table === "orders")?.rows ?? 0;
    expect(digested).toBeGreaterThan(20000);
    expect(Number(source.must("SELECT COUNT(*) FROM shop.orders").trim())).toBeGreaterThan(
      digested,
    );
    expect(plane.unsealedObjects("runs/copy/")).toEqual([]);

    const dataDir = path.join(work, "restored");
    const restored = await runScript("restore.sh", restoreEnv("copy", dataDir));
    expect(restored.status, restored.stderr).toBe(0);
    expect(restored.stderr).toMatch(/restored run copy in/);

    const server = await serveRestored("physical-restored", dataDir);
    const verified = await runScript("verify.sh", plane.destinationEnv("copy", server.port));
    expect(verified.stderr).toMatch(
      /verified: all \d+ objects, 4 tables \(\d+ rows\), match the dump of run copy/,
    );
    expect(verified.status, verified.stderr).toBe(0);
    expect(server.must("SELECT COUNT(*) FROM shop.orders").trim()).toBe(String(digested));

    // A pod started again finds the restore done and leaves the data as the server left it.
    server.must("INSERT INTO shop.visits (page) VALUES ('after the restore')");
    const again = await runScript("restore.sh", restoreEnv("copy", dataDir));
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/run copy is restored in .* already; nothing to do/);
    expect(
      server.must("SELECT COUNT(*) FROM shop.visits WHERE page = 'after the restore'").trim(),
    ).toBe("1");

    // The import step of a physical run (the graph runs it after the server is up): nothing to
    // import into the server that restored this copy, beside the dump as after it; refused into
    // a server that did not, which it leaves without a table of the run's.
    for (const follow of ["true", "false"]) {
      const imported = await runScript("import.sh", {
        ...plane.destinationEnv("copy", server.port),
        METHOD: "physical",
        FOLLOW_DUMP: follow,
      });
      expect(imported.status, imported.stderr).toBe(0);
      expect(imported.stderr).toMatch(
        /run copy is a physical copy, restored .*; nothing to import/,
      );
    }
    const elsewhere = await runScript("import.sh", plane.destinationEnv("copy"));
    expect(elsewhere.status).not.toBe(0);
    expect(elsewhere.stderr).toMatch(
      /run copy is a physical copy of the source's data files, .*this destination has not restored it \(its record of the run: "none"\)/,
    );
    expect(plane.destination.must("SHOW DATABASES LIKE 'shop'").trim()).toBe("");
  }, 300_000);

  it("reads the digests beside the copy of a source that takes no writes, and at the copy's point, after it, of one that commits during it: both verify", async () => {
    source.must(`
CREATE DATABASE quiet;
CREATE TABLE quiet.items (id INT AUTO_INCREMENT PRIMARY KEY, body VARBINARY(2000), KEY by_body (body(8))) ENGINE=InnoDB;
INSERT INTO quiet.items (body) SELECT RANDOM_BYTES(1500) FROM shop.seq_1_to_20000;
CREATE SEQUENCE quiet.ids;
DELIMITER //
CREATE PROCEDURE quiet.churn() BEGIN
  DECLARE i INT DEFAULT 0;
  WHILE TRUE DO
    INSERT INTO quiet.items (body) VALUES (RANDOM_BYTES(10));
    UPDATE quiet.items SET body = RANDOM_BYTES(20) WHERE id = 1 + i % 20000;
    SET i = i + 1;
  END WHILE;
END //
DELIMITER ;`);
    const copyAndVerify = async (runId: string) => {
      const dataDir = path.join(work, runId);
      const restored = await runScript("restore.sh", restoreEnv(runId, dataDir));
      expect(restored.status, restored.stderr).toBe(0);
      const server = await serveRestored(`physical-${runId}`, dataDir);
      const verified = await runScript("verify.sh", plane.destinationEnv(runId, server.port));
      expect(verified.status, verified.stderr).toBe(0);
      expect(verified.stderr).toMatch(/verified: all \d+ objects, 1 tables \(\d+ rows\)/);
      return server;
    };

    const quiet = await runScript("dump.sh", physicalDumpEnv("quiet", "quiet"));
    expect(quiet.status, quiet.stderr).toBe(0);
    expect(quiet.stderr).toMatch(
      /reading the digests of 1 table\(s\) beside the copy, in snapshots at binlog/,
    );
    expect(quiet.stderr).toMatch(/the digests of 1 table\(s\) read beside the copy are the copy's/);
    // The sequence's state is one row, read at the copy's point.
    expect(quiet.stderr).toMatch(/digesting 1 table\(s\) and sequence\(s\) at the copy's point/);
    await copyAndVerify("quiet");

    // The application starts writing once the snapshots beside the copy are open.
    const churn = source.session();
    let churning = false;
    const busy = await runScript("dump.sh", physicalDumpEnv("busy", "quiet"), undefined, (log) => {
      if (!churning && log.includes("beside the copy, in snapshots at binlog")) {
        churning = true;
        churn.send("CALL quiet.churn();");
      }
    });
    await stopChurn(churn, "quiet");
    expect(busy.status, busy.stderr).toBe(0);
    expect(churning).toBe(true);
    expect(busy.stderr).toMatch(
      /the copy's point \(binlog \S+ \d+\) is not the snapshots' read beside it \(\S+ \d+\): the source committed during the copy/,
    );
    expect(busy.stderr).not.toMatch(/read beside the copy are the copy's/);
    expect(busy.stderr).toMatch(/digesting 2 table\(s\) and sequence\(s\) at the copy's point/);
    const rows = (
      JSON.parse(busy.stdout) as { tables: { table: string; rows: number }[] }
    ).tables.find((t) => t.table === "items")?.rows;
    expect(rows).toBeGreaterThan(20000);
    const server = await copyAndVerify("busy");
    expect(server.must("SELECT COUNT(*) FROM quiet.items").trim()).toBe(String(rows));
  }, 300_000);

  it("the preflight decides the method: physical where the source and this host allow it; auto takes logical saying why; physical is refused naming the key", async () => {
    const [major, minor] = source.must("SELECT VERSION()").trim().split(".");
    const same = `mariadb ${major}.${minor}`;
    const other = `mariadb ${Number(major) + 1}.0`;
    const preflight = (method: string, flavour: string) =>
      runScript("preflight.sh", {
        ...plane.dumpEnv("method", "shop"),
        METHOD: method,
        DEST_FLAVOUR: flavour,
      });
    const decided = (stdout: string) => JSON.parse(stdout) as { method: string; reason: string };

    const physical = await preflight("auto", same);
    expect(physical.status, physical.stderr).toBe(0);
    expect(decided(physical.stdout).method).toBe("physical");
    expect(decided(physical.stdout).reason).toContain(`the source is MariaDB ${major}.${minor}`);
    expect(physical.stderr).toMatch(/preflight passed: .*method physical: /);

    const fallback = await preflight("auto", other);
    expect(fallback.status, fallback.stderr).toBe(0);
    expect(decided(fallback.stdout)).toEqual({
      method: "logical",
      reason: expect.stringMatching(
        new RegExp(
          `^auto chose logical: the source is MariaDB ${major}\\.${minor} and the destination ${Number(major) + 1}\\.0`,
        ),
      ) as unknown,
    });

    const refused = await preflight("physical", other);
    expect(refused.status).not.toBe(0);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(
      /refused: the source is MariaDB .* \(ferry:migration\.method is physical; logical or auto would copy the rows instead\)/,
    );

    const logical = await preflight("logical", same);
    expect(logical.status, logical.stderr).toBe(0);
    expect(decided(logical.stdout).method).toBe("logical");
    expect(plane.unsealedObjects("runs/method/")).toEqual([]);
  }, 120_000);

  it("the logical dump beside the same writer ends too: writers to a table without transactions wait for ferry's read lock without queueing ahead of the dump's reads of it (they did, and the dump never ended)", async () => {
    const dumped = await whileTheSourceCommits(() =>
      runScript("dump.sh", plane.dumpEnv("logical", "shop")),
    );
    expect(dumped.status, dumped.stderr).toBe(0);
    expect(dumped.stderr).toMatch(/the tables without transactions are read and released/);
  }, 120_000);

  it("never writes into a data directory that holds anything, and uses nothing of a changed chunk", async () => {
    const ran = await runScript("dump.sh", physicalDumpEnv("tampered"));
    expect(ran.status, ran.stderr).toBe(0);

    // A data directory that holds a file of the user's.
    const occupied = path.join(work, "occupied");
    fs.mkdirSync(occupied);
    fs.writeFileSync(path.join(occupied, "ibdata1"), "the user's");
    const refused = await runScript("restore.sh", restoreEnv("tampered", occupied));
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(
      /is not empty \(it holds ibdata1\): a physical restore needs an empty volume/,
    );
    expect(fs.readdirSync(occupied)).toEqual(["ibdata1"]);
    expect(fs.readFileSync(path.join(occupied, "ibdata1"), "utf8")).toBe("the user's");

    // One byte of the third chunk changed in the bucket.
    const key = plane.keysUnder("runs/tampered/physical/").sort()[2];
    const object = plane.minio.mustMc(["cat", `admin/${bucket}/${key}`]);
    object[object.length - 10] ^= 0x01;
    const changed = path.join(work, "changed-chunk");
    fs.writeFileSync(changed, object);
    plane.minio.mustMc(["cp", changed, `admin/${bucket}/${key}`]);
    const dataDir = path.join(work, "from-a-changed-chunk");
    const damaged = await runScript("restore.sh", restoreEnv("tampered", dataDir));
    expect(damaged.status).not.toBe(0);
    expect(damaged.stderr).toMatch(/checksum mismatch: .*physical\/000002\.mbstream\.zst/);
    // What was unpacked before it stays marked unfinished: no server takes it for a database, and
    // the next restore starts again from an empty directory.
    expect(fs.existsSync(path.join(dataDir, ".ferry-restore-unfinished"))).toBe(true);
    expect(fs.existsSync(path.join(dataDir, ".ferry-restored"))).toBe(false);
    const redumped = await runScript("dump.sh", physicalDumpEnv("tampered-again"));
    expect(redumped.status, redumped.stderr).toBe(0);
    const retried = await runScript("restore.sh", restoreEnv("tampered-again", dataDir));
    expect(retried.status, retried.stderr).toBe(0);
    expect(retried.stderr).toMatch(
      /holds an unfinished restore \(\d+ entries\); starting it again/,
    );
  }, 300_000);

  it("restores beside the dump from the copy's index, and records a run only once its manifest names the chunks restored", async () => {
    const besideEnv = (runId: string, dataDir: string, extra: Record<string, string> = {}) => ({
      ...restoreEnv(runId, dataDir),
      FOLLOW_DUMP: "true",
      FOLLOW_WAIT_SECONDS: "60",
      ...extra,
    });
    /** A dump held (SIGSTOP) once its copy is stored, before its digests and manifest. */
    const heldDump = async (runId: string) => {
      let pid = 0;
      let stopped = false;
      let stored: () => void = () => {};
      const copyStored = new Promise<void>((resolve) => (stored = resolve));
      const ended = runScript(
        "dump.sh",
        physicalDumpEnv(runId),
        (started) => (pid = started),
        (log) => {
          // Once: the log goes on growing after the dump is let go.
          if (!stopped && log.includes("data files stored") && pid) {
            stopped = true;
            process.kill(pid, "SIGSTOP");
            stored();
          }
        },
      );
      await copyStored;
      return { pid, ended };
    };

    const dataDir = path.join(work, "beside-the-dump");
    const held = await heldDump("held");
    const unrecorded = await runScript(
      "restore.sh",
      besideEnv("held", dataDir, { MANIFEST_WAIT_SECONDS: "2" }),
    );
    expect(unrecorded.status).not.toBe(0);
    expect(unrecorded.stderr).toMatch(/the dump is storing its copy; restoring it chunk by chunk/);
    expect(unrecorded.stderr).toMatch(
      /stored its copy but wrote no manifest within 2s: nothing restored is used, the data directory stays unfinished/,
    );
    expect(fs.existsSync(path.join(dataDir, ".ferry-restore-unfinished"))).toBe(true);
    expect(fs.existsSync(path.join(dataDir, ".ferry-restored"))).toBe(false);

    // Started again while the dump is held, it restores from the index and waits; the dump goes
    // on, writes its manifest, and the run is recorded.
    const following = runScript("restore.sh", besideEnv("held", dataDir));
    await new Promise((r) => setTimeout(r, 3000));
    process.kill(held.pid, "SIGCONT");
    const [dumped, restored] = await Promise.all([held.ended, following]);
    expect(dumped.status, dumped.stderr).toBe(0);
    expect(restored.status, restored.stderr).toBe(0);
    expect(restored.stderr).toMatch(/holds an unfinished restore .* starting it again/);
    expect(restored.stderr).toMatch(/the dump is storing its copy; restoring it chunk by chunk/);
    expect(restored.stderr).toMatch(/waiting for the dump's manifest/);
    const server = await serveRestored("physical-beside", dataDir);
    const verified = await runScript("verify.sh", plane.destinationEnv("held", server.port));
    expect(verified.status, verified.stderr).toBe(0);
    expect(verified.stderr).toMatch(/verified: all \d+ objects/);

    // Stopped after its copy, a dump says so in the copy's index: a restore following it stops
    // at once, and nothing it restored is recorded.
    const stoppedDir = path.join(work, "beside-a-stopped-dump");
    const stopping = await heldDump("stopped");
    process.kill(stopping.pid, "SIGTERM");
    process.kill(stopping.pid, "SIGCONT");
    expect((await stopping.ended).status).not.toBe(0);
    const refused = await runScript("restore.sh", besideEnv("stopped", stoppedDir));
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(
      /the dump of run stopped failed after storing its copy: the dump was stopped by a signal/,
    );
    expect(fs.existsSync(path.join(stoppedDir, ".ferry-restored"))).toBe(false);
  }, 300_000);

  it("shows the restore's lines to the operator's watch as it runs, a logical run's one line too, and each watch ends with its step", async () => {
    const watchEnv = (runId: string) => ({
      ...plane.objectStoreEnv("read"),
      RUN_ID: runId,
      WATCH_STEP: "restore",
      WATCH_POLL_SECONDS: "1",
    });
    const logged = (stderr: string) =>
      stderr.split("\n").filter((line) => line.includes(" ferry-restore: "));
    const dataDir = path.join(work, "watched");
    const watching = runScript("watch.sh", watchEnv("watched"));
    const restoring = runScript("restore.sh", {
      ...restoreEnv("watched", dataDir),
      FOLLOW_DUMP: "true",
      FERRY_BEACON: "true",
    });
    const dumped = await runScript("dump.sh", physicalDumpEnv("watched"));
    expect(dumped.status, dumped.stderr).toBe(0);
    const [restored, watched] = await Promise.all([restoring, watching]);
    expect(restored.status, restored.stderr).toBe(0);
    expect(watched.status, watched.stderr).toBe(0);
    const lines = logged(restored.stderr);
    expect(lines.some((line) => /unpacked in [\d.]+s; preparing/.test(line))).toBe(true);
    expect(lines.some((line) => line.includes("restored run watched in"))).toBe(true);
    // Every line, in order.
    expect(logged(watched.stderr)).toEqual(lines);
    // Sealed like everything else of the run.
    const object = plane.minio.mustMc(["cat", `admin/${bucket}/runs/watched/log/restore.json`]);
    expect(object.toString("latin1")).not.toContain("restored run");

    // auto took logical: the restore says there is nothing to restore, and its watch ends.
    const logicalWatch = runScript("watch.sh", watchEnv("watched-logical"));
    const logical = await runScript("restore.sh", {
      ...restoreEnv("watched-logical", path.join(work, "watched-logical")),
      METHOD: "logical",
      FOLLOW_DUMP: "true",
      FERRY_BEACON: "true",
    });
    expect(logical.status, logical.stderr).toBe(0);
    const logicalWatched = await logicalWatch;
    expect(logicalWatched.status, logicalWatched.stderr).toBe(0);
    expect(logicalWatched.stderr).toMatch(
      /ferry-restore: run watched-logical is copied logically \(ferry:migration\.method\): nothing to restore/,
    );
  }, 300_000);

  it("beside a copy whose tool is killed midway, the restore stops with the dump's reason and records nothing", async () => {
    const dataDir = path.join(work, "beside-a-killed-copy");
    let following: () => void = () => {};
    const followed = new Promise<void>((resolve) => (following = resolve));
    const restoring = runScript(
      "restore.sh",
      { ...restoreEnv("cut", dataDir), FOLLOW_DUMP: "true", FOLLOW_WAIT_SECONDS: "60" },
      undefined,
      (log) => {
        if (log.includes("restoring it chunk by chunk")) following();
      },
    );
    let dumpPid = 0;
    const dumping = runScript("dump.sh", physicalDumpEnv("cut"), (pid) => (dumpPid = pid));
    // The dump's mariadb-backup, killed once the restore follows the copy's index: the restore is
    // following a copy that will never be whole.
    const tool = await (async () => {
      for (let tries = 0; tries < 600; tries++) {
        for (const entry of fs.readdirSync("/proc")) {
          if (!/^\d+$/.test(entry)) continue;
          const pid = Number(entry);
          let name = "";
          let args: string[] = [];
          try {
            name = fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
            args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
          } catch {
            continue;
          }
          // The copy itself, not the dump's `mariadb-backup --version` before it.
          if (name === "mariadb-backup" && args.includes("--backup") && descendsFrom(pid, dumpPid))
            return pid;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("no mariadb-backup below the dump");
    })();
    // Held once its first chunk is listed, so that the restore, which looks once a second, sees
    // the copy unfinished and follows it.
    while (!plane.objectExists("runs/cut/physical/index.json")) {
      expect(fs.existsSync(`/proc/${tool}`), "mariadb-backup ended before a chunk was stored").toBe(
        true,
      );
    }
    process.kill(tool, "SIGSTOP");
    await Promise.race([
      followed,
      restoring.then((r) => {
        throw new Error(`the restore ended before it followed the copy:\n${r.stderr}`);
      }),
    ]);
    process.kill(tool, "SIGKILL");
    const [dumped, restored] = await Promise.all([dumping, restoring]);
    expect(dumped.status).not.toBe(0);
    expect(dumped.stderr).toMatch(/mariadb-backup failed \(exit 137\)/);
    expect(restored.status).not.toBe(0);
    expect(restored.stderr).toMatch(/the dump is storing its copy; restoring it chunk by chunk/);
    expect(restored.stderr).toMatch(
      /the dump of run cut failed while storing its copy \(mariadb-backup failed \(exit 137\).*nothing restored is used, the data directory stays unfinished/,
    );
    expect(fs.existsSync(path.join(dataDir, ".ferry-restore-unfinished"))).toBe(true);
    expect(fs.existsSync(path.join(dataDir, ".ferry-restored"))).toBe(false);
  }, 120_000);
});
