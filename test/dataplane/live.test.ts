import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replicaInitFile, serverTlsSettings, tlsFiles } from "../../components/specs/database";
import { testCertificates, writeServerTlsFiles } from "../support/certificates";
import { DataPlane } from "../support/fixture";
import { runScript, secretFile, type ScriptRun } from "../support/servers";
import { startWriter, until, type Writer } from "../support/writer";

/**
 * Live mode's catch-up against real servers: a MariaDB source that logs ROW events over TLS, a
 * MariaDB destination with another server id, a real MinIO. The dump, import and verification run
 * as in snapshot mode; the source takes writes after the dump's snapshot; replicate.sh makes the
 * destination replicate from the manifest's position.
 */

const bucket = "ferry-live";
/** The name the source's certificate carries, which the replica dials and checks. */
const serverName = "localhost";
const cutoverPassword = `cut-${Math.random().toString(36).slice(2)}`;
const writerPassword = `w-${Math.random().toString(36).slice(2)}`;
const replicationPassword = `repl'pw "\\ ${Math.random().toString(36).slice(2)}`;

let plane: DataPlane;
let certificatesDir: string;

beforeAll(async () => {
  certificatesDir = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-live-"));
  const made = testCertificates([serverName]);
  writeServerTlsFiles(certificatesDir, made, tlsFiles);
  plane = await DataPlane.start(
    "live",
    bucket,
    `l'pw ${Math.random()}`,
    [...serverTlsSettings(certificatesDir), "--binlog-format=ROW"],
    undefined,
    ["--server-id=2"],
  );
  secretFile(plane.secretsDir, "replication-password", replicationPassword);
  const quoted = replicationPassword.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
  secretFile(plane.secretsDir, "cutover-password", cutoverPassword);
  plane.source.must(`CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '${quoted}' REQUIRE SSL;
    GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';
    CREATE USER 'cutover'@'127.0.0.1' IDENTIFIED BY '${cutoverPassword}';
    GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE, PROCESS, READ_ONLY ADMIN, BINLOG MONITOR, CONNECTION ADMIN ON *.* TO 'cutover'@'127.0.0.1';
    CREATE USER 'writer'@'127.0.0.1' IDENTIFIED BY '${writerPassword}';
    GRANT SELECT, INSERT, UPDATE ON app.* TO 'writer'@'127.0.0.1';
    CREATE DATABASE app;
    CREATE TABLE app.accounts (id INT PRIMARY KEY, owner VARCHAR(40), balance DECIMAL(12,2));
    INSERT INTO app.accounts SELECT seq, CONCAT('owner ', seq), seq * 1.5 FROM app.seq_1_to_2000;
    CREATE DATABASE other;
    CREATE TABLE other.notes (id INT PRIMARY KEY);`);
}, 120_000);

afterAll(async () => {
  await plane?.stop();
  if (certificatesDir) fs.rmSync(certificatesDir, { recursive: true, force: true });
});

const caFile = () => path.join(certificatesDir, tlsFiles.ca);

/** Both servers take TCP sessions over TLS only, verified by name as ferry's steps do. */
function dumpEnv(runId: string): Record<string, string> {
  return {
    ...plane.dumpEnv(runId, "app"),
    SOURCE_HOST: serverName,
    SOURCE_TLS: "verify-identity",
    SOURCE_TLS_CA_FILE: caFile(),
  };
}
function destinationEnv(runId: string): Record<string, string> {
  return {
    ...plane.destinationEnv(runId),
    DEST_HOST: serverName,
    DEST_TLS: "verify-identity",
    DEST_TLS_CA_FILE: caFile(),
  };
}

/**
 * A connection an application holds open to the source, idle, as a pool holds it (the root
 * account, in database app): `open` says whether the server still has it.
 */
async function holdIdleSession() {
  const session = plane.source.session();
  session.send("USE app;");
  const idleId = () =>
    plane.source
      .must(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'root' AND DB = 'app' AND COMMAND = 'Sleep'",
      )
      .trim();
  await until(() => idleId() !== "", "the held connection");
  const id = Number(idleId());
  return {
    open: () =>
      plane.source
        .must(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ${id}`)
        .trim() !== "0",
    end: () => session.end(),
  };
}

/** replicate.sh's environment: the destination, the run, and the source as the replica dials it. */
function replicateEnv(runId: string, password = "replication-password"): Record<string, string> {
  return {
    ...destinationEnv(runId),
    REPL_HOST: serverName,
    REPL_PORT: String(plane.source.port),
    REPL_USER: "repl",
    REPL_PASSWORD_FILE: path.join(plane.secretsDir, password),
    REPL_CA_FILE: caFile(),
    REPL_TLS: "verify-identity",
    REPL_CHECK_SECONDS: "15",
  };
}

/** cutover.sh's environment: the destination, the run, and the source as the cutover account. */
function cutoverEnv(runId: string, drainSeconds = 10): Record<string, string> {
  return {
    ...destinationEnv(runId),
    SOURCE_HOST: serverName,
    SOURCE_PORT: String(plane.source.port),
    SOURCE_USER: "cutover",
    SOURCE_PASSWORD_FILE: path.join(plane.secretsDir, "cutover-password"),
    SOURCE_TLS: "verify-identity",
    SOURCE_TLS_CA_FILE: caFile(),
    CUTOVER_DRAIN_SECONDS: String(drainSeconds),
    CUTOVER_CATCHUP_SECONDS: "20",
  };
}

/**
 * An application writing to the source as an account without any right past read_only, one
 * transaction a statement, until stopped.
 */
function startAccountsWriter(firstId: number): Writer {
  return startWriter(
    {
      host: serverName,
      port: plane.source.port,
      user: "writer",
      password: writerPassword,
      caFile: caFile(),
    },
    "INSERT INTO app.accounts VALUES ({id}, 'written live', MOD({id}, 97))",
    { firstId },
  );
}

async function must(script: string, env: Record<string, string>): Promise<ScriptRun> {
  const ran = await runScript(script, env);
  expect(ran.status, `${script}: ${ran.stderr}`).toBe(0);
  return ran;
}

/** Dumps app, then imports and verifies it into an emptied destination. */
async function copy(runId: string): Promise<void> {
  await must("dump.sh", dumpEnv(runId));
  await must("import.sh", destinationEnv(runId));
  await must("verify.sh", destinationEnv(runId));
}

/**
 * The destination's read_only once it has run the init file ferry gives the server it runs in live
 * mode, as a start does: statement by statement, until the first that fails.
 */
function readOnlyAfterStart(): string {
  for (const statement of replicaInitFile.trim().split("\n")) {
    if (plane.destination.sql(statement).status !== 0) break;
  }
  return plane.destination.must("SELECT @@GLOBAL.read_only").trim();
}

/** Live mode's record of the run, as report.sh reads it from the bucket. */
async function liveRecord(runId: string): Promise<Record<string, unknown>> {
  const report = await must("report.sh", destinationEnv(runId));
  return JSON.parse(report.stdout).live;
}

/** Waits until query reads the same on both servers. */
async function converged(query: string, seconds = 30): Promise<string> {
  const started = Date.now();
  for (;;) {
    const [want, got] = [plane.source.must(query), plane.destination.must(query)];
    if (want === got) return got;
    if (Date.now() - started > seconds * 1000)
      throw new Error(
        `not converged in ${seconds}s: ${query}\nsource: ${want}\ndestination: ${got}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The destination back to a server that replicates nothing and holds nothing of the run. */
function resetDestination(): void {
  plane.destination.must(`STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF;
    SET GLOBAL replicate_wild_do_table = ''; DROP DATABASE IF EXISTS app; DROP DATABASE IF EXISTS ferry;`);
}

describe("live mode's catch-up (real MariaDB source and destination)", () => {
  it("the preflight refuses, before the dump, a source the replica could not follow: binary log not ROW, the destination's server id, logs kept shorter than the copy", async () => {
    const preflightEnv = (extra: Record<string, string> = {}) => ({
      ...dumpEnv("live-preflight"),
      LIVE: "true",
      LIVE_DEST_SERVER_ID: "2",
      LIVE_COPY_SECONDS: "10800",
      ...extra,
    });
    const passed = await runScript("preflight.sh", preflightEnv());
    expect(passed.status, passed.stderr).toBe(0);
    plane.source.must(
      "SET GLOBAL binlog_format = 'MIXED'; SET GLOBAL binlog_expire_logs_seconds = 3600",
    );
    try {
      const refused = await runScript("preflight.sh", preflightEnv({ LIVE_DEST_SERVER_ID: "1" }));
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toMatch(/the source's binlog_format is MIXED: live mode needs ROW/);
      expect(refused.stderr).toMatch(/the source's server_id is 1, the destination's too/);
      expect(refused.stderr).toMatch(
        /keeps its binary logs 3600 s, less than the copy may take \(10800 s.*SET GLOBAL binlog_expire_logs_seconds = 21600/,
      );
      expect(refused.stderr).toMatch(/the preflight found 3 problem\(s\)/);
      // Not in live mode: none of these is asked.
      const snapshot = await runScript("preflight.sh", preflightEnv({ LIVE: "false" }));
      expect(snapshot.status, snapshot.stderr).toBe(0);
    } finally {
      plane.source.must(
        "SET GLOBAL binlog_format = 'ROW'; SET GLOBAL binlog_expire_logs_seconds = 0",
      );
    }
    // A cutover that will close the applications' sessions (the Service moved): the dump's
    // account (no CONNECTION ADMIN) is refused, naming the grant; with it, or SUPER, it passes.
    const closing = await runScript("preflight.sh", preflightEnv({ LIVE_CLOSES_SESSIONS: "true" }));
    expect(closing.status).not.toBe(0);
    expect(closing.stderr).toMatch(
      /the source user may not close other accounts' sessions, which the cutover does once ferry:migration\.live\.applicationService selects the destination.*GRANT CONNECTION ADMIN ON \*\.\*/,
    );
    expect(closing.stderr).toMatch(/the preflight found 1 problem\(s\)/);
    try {
      for (const privilege of ["CONNECTION ADMIN", "SUPER"]) {
        plane.source.must(`GRANT ${privilege} ON *.* TO 'dumper'@'127.0.0.1'`);
        const granted = await runScript(
          "preflight.sh",
          preflightEnv({ LIVE_CLOSES_SESSIONS: "true" }),
        );
        expect(granted.status, `${privilege}: ${granted.stderr}`).toBe(0);
        plane.source.must(`REVOKE ${privilege} ON *.* FROM 'dumper'@'127.0.0.1'`);
      }
    } finally {
      plane.source.must("REVOKE CONNECTION ADMIN, SUPER ON *.* FROM 'dumper'@'127.0.0.1'");
    }
  }, 120_000);

  it("replicates every change the source took after the dump's snapshot, for the dumped databases only, over verified TLS; the destination is read-only meanwhile", async () => {
    // A fresh server (no ferry.runs yet) starts read-only.
    expect(readOnlyAfterStart()).toBe("1");
    plane.destination.must("SET GLOBAL read_only = OFF");
    await copy("live-1");
    // Writes after the snapshot: every kind of row change, and a table made later.
    plane.source.must(`UPDATE app.accounts SET balance = balance + 10 WHERE id % 7 = 0;
      DELETE FROM app.accounts WHERE id % 11 = 0;
      INSERT INTO app.accounts VALUES (5001, 'after the dump', 1), (5002, 'ünïcödé ✓', 2);
      CREATE TABLE app.later (id INT PRIMARY KEY, note TEXT);
      INSERT INTO app.later VALUES (1, 'made after the snapshot');
      CREATE PROCEDURE app.later_count() SELECT COUNT(*) FROM app.later;
      INSERT INTO other.notes VALUES (1), (2);`);
    const replicated = await must("replicate.sh", replicateEnv("live-1"));
    expect(replicated.stderr).toMatch(
      /the destination replicates from localhost:\d+ from the dump's position \(GTID 0-1-\d+\)/,
    );
    expect(replicated.stderr).toMatch(
      /ferry-replicate: replicating from localhost:\d+, caught up with the source's position when this step began \(0-1-\d+\)/,
    );
    await converged("CHECKSUM TABLE app.accounts, app.later EXTENDED");
    // A table and a routine made with no default database arrive too.
    await converged(
      "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'app'",
    );
    plane.source.must("INSERT INTO app.accounts VALUES (5003, 'while replicating', 3)");
    await converged("SELECT COUNT(*), SUM(balance) FROM app.accounts");
    // Only the dumped database: other is not on the destination, and nothing broke on it.
    expect(plane.destination.must("SHOW DATABASES LIKE 'other'").trim()).toBe("");
    expect(plane.destination.vertical("SHOW SLAVE STATUS")).toMatchObject({
      Slave_IO_Running: "Yes",
      Slave_SQL_Running: "Yes",
      Master_SSL_Allowed: "Yes",
      Master_SSL_Verify_Server_Cert: "Yes",
      Using_Gtid: "Slave_Pos",
      Replicate_Wild_Do_Table: "app.%",
      Replicate_Do_DB: "",
    });
    expect(plane.destination.must("SELECT @@GLOBAL.read_only").trim()).toBe("1");
    // Restarted while it replicates, it starts read-only again.
    expect(readOnlyAfterStart()).toBe("1");
    // The source saw the replica's session over TLS (the account requires it).
    expect(
      plane.source
        .must(
          "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'repl' AND COMMAND LIKE 'Binlog Dump%'",
        )
        .trim(),
    ).toBe("1");
  }, 180_000);

  it("run again (a Job retried, a pod restarted), leaves the replication where it is: nothing applied twice", async () => {
    const before = plane.destination.must("SELECT @@GLOBAL.gtid_slave_pos").trim();
    const again = await must("replicate.sh", replicateEnv("live-1"));
    expect(again.stderr).toMatch(/already replicates from localhost:\d+ \(replicating, applied /);
    expect(plane.destination.must("SELECT @@GLOBAL.gtid_slave_pos").trim()).toBe(before);
    // The step's record, which the report shows: caught up, as the step saw it.
    expect(await liveRecord("live-1")).toMatchObject({
      runId: "live-1",
      state: "replicating",
      source: `localhost:${plane.source.port}`,
      replication: { behind: 0, applied: before },
      cutover: null,
    });
    plane.source.must("UPDATE app.accounts SET balance = balance + 1 WHERE id = 5003");
    await converged("CHECKSUM TABLE app.accounts EXTENDED");
    expect(plane.destination.vertical("SHOW SLAVE STATUS")).toMatchObject({
      Slave_SQL_Running: "Yes",
      Last_SQL_Errno: "0",
      Last_IO_Errno: "0",
    });
  }, 120_000);

  it("rolls a cutover back when the source cannot be made read-only in time: the source takes writes as before, the destination still replicates", async () => {
    const held = plane.source.session();
    held.send("LOCK TABLES app.accounts WRITE;");
    await until(
      () => plane.source.must("SHOW OPEN TABLES FROM app WHERE In_use > 0").trim() !== "",
      "the table lock",
    );
    let failed: ScriptRun;
    try {
      failed = await runScript("cutover.sh", cutoverEnv("live-1", 2));
    } finally {
      await held.end();
    }
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toMatch(/could not be made read-only within 2s/);
    expect(failed.stderr).toMatch(
      /cutover failed, rolled back \(the source takes writes as before/,
    );
    expect(plane.source.must("SELECT @@GLOBAL.read_only").trim()).toBe("0");
    expect(plane.destination.must("SELECT @@GLOBAL.read_only").trim()).toBe("1");
    expect(plane.destination.vertical("SHOW SLAVE STATUS")).toMatchObject({
      Slave_IO_Running: "Yes",
      Slave_SQL_Running: "Yes",
    });
  }, 120_000);

  it("cuts over while an application writes: every write the source acknowledged is on the destination once, the source is read-only, the destination takes writes and replicates nothing; both sides compared at the switch", async () => {
    const writer = startAccountsWriter(100_000);
    // The cutover starts once the application's writes are flowing, and it is stopped only after
    // the source has refused it at least once.
    await until(() => writer.acknowledgedSoFar() > 10, "the writer's first writes");
    // An application's connection held open to the source, idle, as a pool holds it.
    const held = await holdIdleSession();
    // Where ferry owns the applications' Service, the cutover closes the connections they still
    // hold to the source: reconnecting, they reach the destination.
    const cut = await runScript("cutover.sh", {
      ...cutoverEnv("live-1"),
      CLOSE_SOURCE_SESSIONS: "true",
    });
    if (cut.status === 0) await until(() => writer.refusedSoFar() > 0, "the source's refusal");
    const { acknowledged, refused } = await writer.stop();
    expect(cut.status, cut.stderr).toBe(0);
    expect(cut.stderr).toMatch(
      /closed \d+ session\(s\) the applications held on the source \(accounts: [^)]*root[^)]*\)/,
    );
    expect(held.open()).toBe(false);
    await held.end();
    expect(acknowledged.length).toBeGreaterThan(10);
    // The writer went on until stopped: the source refused it once read-only.
    expect(refused).toBeGreaterThan(0);
    const window = /no write was accepted anywhere for (\d+)ms/.exec(cut.stderr);
    expect(window, cut.stderr).not.toBeNull();
    console.log(`cutover window: ${window![1]} ms; ${acknowledged.length} writes acknowledged`);
    expect(cut.stderr).toMatch(
      /verified at the cutover: all \d+ objects, 2 tables \(\d+ rows\), equal on both sides/,
    );
    // The ledger: every acknowledged id once on the destination, none it did not acknowledge.
    const onDestination = plane.destination
      .must("SELECT id FROM app.accounts WHERE id >= 100000 ORDER BY id")
      .split("\n")
      .filter(Boolean)
      .map(Number);
    expect(onDestination).toEqual(acknowledged);
    expect(plane.source.must("SELECT @@GLOBAL.read_only").trim()).toBe("1");
    expect(plane.destination.must("SELECT @@GLOBAL.read_only").trim()).toBe("0");
    expect(plane.destination.must("SHOW SLAVE STATUS").trim()).toBe("");
    plane.destination.must("INSERT INTO app.accounts VALUES (999999, 'after the cutover', 0)");
    expect(
      plane.destination.must("SELECT state FROM ferry.runs WHERE run_id = 'live-1'").trim(),
    ).toBe("cut over");
    // Restarted after the cutover, it starts writable: nothing to change for that.
    expect(readOnlyAfterStart()).toBe("0");
    expect(await liveRecord("live-1")).toMatchObject({
      state: "cut over",
      cutover: {
        windowMs: Number(window![1]),
        position: plane.source.must("SELECT @@GLOBAL.gtid_binlog_pos").trim(),
        compared: true,
        tables: 2,
        mismatched: 0,
      },
    });
  }, 180_000);

  it("after the cutover, every step run again (a Job replaced, a pod restarted) leaves the destination as it is: no import, no replication from the snapshot", async () => {
    const before = plane.destination.must("CHECKSUM TABLE app.accounts EXTENDED");
    const again = {
      import: await must("import.sh", destinationEnv("live-1")),
      verify: await must("verify.sh", destinationEnv("live-1")),
      replicate: await must("replicate.sh", replicateEnv("live-1")),
      cutover: await must("cutover.sh", cutoverEnv("live-1")),
    };
    expect(again.import.stderr).toMatch(
      /run live-1 is already imported \(cut over\); nothing to do/,
    );
    expect(again.verify.stderr).toMatch(
      /verified before its replication began \(state: cut over\)/,
    );
    expect(again.replicate.stderr).toMatch(
      /run live-1 was cut over: the destination takes the writes; nothing to replicate/,
    );
    expect(again.cutover.stderr).toMatch(/run live-1 is already cut over/);
    // Run again where the applications' Service moves (a first cutover that could not switch it
    // is one such run): a connection an application opened to the source meanwhile is stale
    // (it reads the source as it was), and it is closed like those at the first cutover.
    const held = await holdIdleSession();
    const closing = await must("cutover.sh", {
      ...cutoverEnv("live-1"),
      CLOSE_SOURCE_SESSIONS: "true",
    });
    expect(closing.stderr).toMatch(/run live-1 is already cut over/);
    expect(closing.stderr).toMatch(
      /closed \d+ session\(s\) the applications held on the source \(accounts: [^)]*root[^)]*\)/,
    );
    expect(held.open()).toBe(false);
    await held.end();
    // An up whose config asks for no cutover any more (the replica checked again) is refused: it
    // would send the applications' Service back to the read-only source.
    const uncut = await runScript("replicate.sh", {
      ...replicateEnv("live-1"),
      REPL_CHECK_REQUESTED_AT: "2026-12-07T12:00:00Z",
    });
    expect(uncut.status).not.toBe(0);
    expect(uncut.stderr).toMatch(
      /run live-1 was cut over: the destination takes the writes and the source is read-only; set ferry:migration\.cutover back to true/,
    );
    expect(plane.destination.must("SHOW SLAVE STATUS").trim()).toBe("");
    expect(plane.destination.must("SELECT @@GLOBAL.read_only").trim()).toBe("0");
    expect(plane.destination.must("CHECKSUM TABLE app.accounts EXTENDED")).toBe(before);
    // The source back to writable for the tests after (a cutover leaves it read-only).
    plane.source.must("SET GLOBAL read_only = OFF");
  }, 180_000);

  it("reaches the source from the destination's side before anything is imported: passes as the replication account; refuses, naming the fix, a wrong password, an account without REPLICATION SLAVE, an address nothing answers at", async () => {
    const reached = await must("reach.sh", replicateEnv("live-1"));
    expect(reached.stderr).toMatch(
      new RegExp(
        `ferry-reach: the source at localhost:${plane.source.port} answers the replication account repl over verified TLS from the destination's side \\(server id 1, position 0-1-\\d+\\)`,
      ),
    );
    const wrong = await runScript("reach.sh", replicateEnv("live-1", "cutover-password"));
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toMatch(
      /refuses the replication account "repl" .*sourceReplicationPassword/,
    );
    plane.source.must(
      `CREATE USER 'norepl'@'127.0.0.1' IDENTIFIED BY '${cutoverPassword}' REQUIRE SSL`,
    );
    try {
      const ungranted = await runScript("reach.sh", {
        ...replicateEnv("live-1", "cutover-password"),
        REPL_USER: "norepl",
      });
      expect(ungranted.status).not.toBe(0);
      expect(ungranted.stderr).toMatch(
        /the replication account norepl may not replicate .*no REPLICATION SLAVE among its grants.*GRANT REPLICATION SLAVE ON \*\.\* TO/,
      );
    } finally {
      plane.source.must("DROP USER 'norepl'@'127.0.0.1'");
    }
    const nowhere = await runScript("reach.sh", { ...replicateEnv("live-1"), REPL_PORT: "1" });
    expect(nowhere.status).not.toBe(0);
    expect(nowhere.stderr).toMatch(
      /cannot be reached .*ferry:migration\.live\.sourceHost and sourcePort/,
    );
  }, 120_000);

  it("refuses the replication account with a wrong password, naming the secret", async () => {
    resetDestination();
    await copy("live-2");
    secretFile(plane.secretsDir, "wrong-password", "not the password");
    const refused = await runScript("replicate.sh", {
      ...replicateEnv("live-2", "wrong-password"),
      REPL_CHECK_SECONDS: "5",
    });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(
      /refuses the replication account "repl" .*; check ferry:migration\.live\.replicationUser, the secret sourceReplicationPassword/,
    );
    // Refused before the destination was changed: it replicates from nowhere.
    expect(plane.destination.must("SHOW SLAVE STATUS").trim()).toBe("");
    expect(refused.stderr).not.toContain("not the password");
  }, 180_000);

  it("refuses a destination whose server id is the source's: it would skip every change", async () => {
    resetDestination();
    await copy("live-4");
    plane.destination.must("SET GLOBAL server_id = 1");
    try {
      const refused = await runScript("replicate.sh", replicateEnv("live-4"));
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toMatch(/the destination's server id is the source's \(1\)/);
      expect(plane.destination.must("SHOW SLAVE STATUS").trim()).toBe("");
    } finally {
      plane.destination.must("SET GLOBAL server_id = 2");
    }
  }, 180_000);

  it("fails, saying a new dump is needed, when the source purged its binary log past the dump's position", async () => {
    resetDestination();
    await copy("live-3");
    plane.source.must(`INSERT INTO app.accounts VALUES (6001, 'before the purge', 1);
      FLUSH BINARY LOGS;`);
    const current = plane.source.must("SHOW MASTER STATUS").split("\t")[0];
    // A binary log a replica's session still reads is not purged: end the earlier tests' sessions.
    for (const id of plane.source
      .must("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
      .split("\n")
      .filter(Boolean))
      plane.source.sql(`KILL ${Number(id)}`);
    // Nor one InnoDB has not checkpointed yet (MariaDB's binlog checkpoint comes a moment later).
    const oldest = () => plane.source.must("SHOW BINARY LOGS").split("\t")[0];
    for (let tries = 0; oldest() !== current && tries < 50; tries++) {
      plane.source.must(`PURGE BINARY LOGS TO '${current}'`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(oldest()).toBe(current);
    const broken = await runScript("replicate.sh", replicateEnv("live-3"));
    expect(broken.status).not.toBe(0);
    expect(broken.stderr, broken.stderr).toMatch(
      /no longer holds the binary log from the dump's position on/,
    );
    expect(broken.stderr).toMatch(/set ferry:migration\.runId to a new run id/);
  }, 180_000);
});
