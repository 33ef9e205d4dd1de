import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawn } from "child_process";
import { randomBytes } from "crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { shellQuote, stdinProgramText } from "../../components/specs/dataPlane";
import { DataPlane } from "../support/fixture";
import { runScript, type MariaDb } from "../support/servers";

/**
 * Inputs an adversary or an unlucky operator controls: the operator's own MySQL option file, and
 * row data that looks like SQL the import rewrites. None may change what is migrated.
 */

const bucket = "ferry-hostile";
/** A source password of the bytes that break option files, shells and logs. */
const sourcePassword = `pw\n"q'\\ #h\tt $(id) ${Math.random().toString(36).slice(2)} `;
let plane: DataPlane;
let source: MariaDb;
let destination: MariaDb;

const seed = `
CREATE DATABASE notes CHARACTER SET utf8mb4;
CREATE TABLE notes.lines (id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB;
INSERT INTO notes.lines VALUES
  (1, 'CREATE DEFINER=\`root\`@\`localhost\` PROCEDURE p() SELECT 1'),
  (2, '/*!50013 DEFINER=\`admin\`@\`%\` SQL SECURITY DEFINER */'),
  (3, 'plain');
CREATE DEFINER = \`root\`@\`localhost\` VIEW notes.short AS SELECT id FROM notes.lines;
`;

function rows(server: MariaDb): string {
  return server.must("SELECT id, body FROM notes.lines ORDER BY id");
}

/** Dumps the database under runId, imports and verifies it, each step required to succeed. */
async function migrateVerified(runId: string, database: string): Promise<string> {
  const dumped = await runScript("dump.sh", plane.dumpEnv(runId, database));
  expect(dumped.status, dumped.stderr).toBe(0);
  const imported = await runScript("import.sh", plane.destinationEnv(runId));
  expect(imported.status, imported.stderr).toBe(0);
  const verified = await runScript("verify.sh", plane.destinationEnv(runId));
  expect(verified.status, verified.stderr).toBe(0);
  return verified.stderr;
}

/** A database on the destination that hostile names aim to drop. */
function plantVictim(): void {
  destination.must(`DROP DATABASE IF EXISTS victim; CREATE DATABASE victim;
    CREATE TABLE victim.kept (id INT PRIMARY KEY); INSERT INTO victim.kept VALUES (7);`);
}

beforeAll(async () => {
  plane = await DataPlane.start("hostile", bucket, sourcePassword);
  ({ source, destination } = plane);
  source.must(seed, "mysql");
}, 180_000);

afterAll(async () => {
  await plane?.stop();
});

beforeEach(() => destination.must("DROP DATABASE IF EXISTS notes; DROP DATABASE IF EXISTS ferry;"));

describe("hostile inputs", () => {
  it("uses only ferry's connection settings: an operator's ~/.my.cnf changes nothing", async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-hostile-home-"));
    // A wrong server, a wrong user, and a schema-only dump, for every client and dump tool.
    fs.writeFileSync(
      path.join(home, ".my.cnf"),
      "[client]\nhost=127.0.0.2\nport=1\nuser=nobody\npassword=wrong\n" +
        "[mysqldump]\nno-data\n[mariadb-dump]\nno-data\n[mysql]\ndatabase=mysql\n",
    );
    const withHome = (env: Record<string, string>) => ({ ...env, HOME: home });
    try {
      const dumped = await runScript("dump.sh", withHome(plane.dumpEnv("my-cnf", "notes")));
      expect(dumped.status, dumped.stderr).toBe(0);
      const imported = await runScript("import.sh", withHome(plane.destinationEnv("my-cnf")));
      expect(imported.status, imported.stderr).toBe(0);
      const verified = await runScript("verify.sh", withHome(plane.destinationEnv("my-cnf")));
      expect(verified.status, verified.stderr).toBe(0);
      expect(rows(destination)).toBe(rows(source));
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("strips definers from definitions only: a row holding DEFINER text arrives unchanged", async () => {
    expect((await runScript("dump.sh", plane.dumpEnv("definer-rows", "notes"))).status).toBe(0);
    const imported = await runScript("import.sh", {
      ...plane.destinationEnv("definer-rows"),
      STRIP_DEFINERS: "true",
    });
    expect(imported.status, imported.stderr).toBe(0);
    expect(rows(destination)).toBe(rows(source));
    expect(
      destination
        .must("SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'notes'")
        .trim(),
    ).toBe("ferry_root@127.0.0.1");
  });

  // Every command a step runs by name is found through PATH: with PATH a directory of shims that
  // record their own environment and arguments before running the real command, no child can go
  // unseen however short it lives (a sampler of /proc once missed mktemp).
  it("in local and SSH mode, no child process sees a secret in its arguments or environment", async () => {
    const runKey = randomBytes(32).toString("hex");
    const env: Record<string, string> = {
      ...plane.dumpEnv("stdin-mode", "notes"),
      SOURCE_PASSWORD: sourcePassword,
      S3_SECRET_KEY: plane.dataPlaneSecret,
      RUN_KEY: runKey,
    };
    delete env.SOURCE_PASSWORD_FILE;
    delete env.S3_SECRET_KEY_FILE;
    delete env.PATH;
    const program = stdinProgramText("dump.sh", env);
    const shims = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-shims-"));
    const seen = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-seen-"));
    try {
      for (const dir of (process.env.PATH ?? "").split(":").filter(Boolean).reverse()) {
        let names: string[] = [];
        try {
          names = fs.readdirSync(dir);
        } catch {
          continue;
        }
        for (const name of names) {
          const real = path.join(dir, name);
          try {
            fs.accessSync(real, fs.constants.X_OK);
            if (!fs.statSync(real).isFile()) continue;
          } catch {
            continue;
          }
          fs.writeFileSync(
            path.join(shims, name),
            `#!/bin/sh\n/bin/cat /proc/$$/environ > ${seen}/$$.env\n` +
              `/bin/cat /proc/$$/cmdline > ${seen}/$$.${name.replace(/[^A-Za-z0-9_.-]/g, "_")}\n` +
              `exec ${shellQuote(real)} "$@"\n`,
            { mode: 0o755 },
          );
        }
      }
      const child = spawn("/bin/sh", ["-s"], {
        env: { PATH: shims, HOME: process.env.HOME ?? "/root" },
      });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const finished = new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? -1)));
      child.stdin.end(program);
      expect(await finished, stderr).toBe(0);
      const records = fs.readdirSync(seen);
      const ran = records.filter((f) => !f.endsWith(".env")).map((f) => f.replace(/^\d+\./, ""));
      // The shims saw the children that matter: the shell's own, the program, the dump tool.
      for (const command of ["mktemp", "ferry-dataplane", "mariadb-dump"])
        expect(ran).toContain(command);
      const secrets = [sourcePassword, plane.dataPlaneSecret, runKey];
      // Each record named with the command its process ran: "environ of mktemp", "argv of date".
      const commandOf = (pid: string) =>
        records.find((f) => f.startsWith(`${pid}.`) && !f.endsWith(".env"))?.slice(pid.length + 1);
      const exposed = records
        .filter((f) => {
          const text = fs.readFileSync(path.join(seen, f), "utf8");
          return secrets.some((secret) => text.includes(secret));
        })
        .map((f) => {
          const pid = f.split(".")[0];
          return f.endsWith(".env") ? `environ of ${commandOf(pid)}` : `argv of ${commandOf(pid)}`;
        });
      expect(exposed).toEqual([]);
      for (const secret of secrets) expect(stderr).not.toContain(secret);
    } finally {
      fs.rmSync(shims, { recursive: true, force: true });
      fs.rmSync(seen, { recursive: true, force: true });
    }
    // The password of odd bytes worked: the dump is complete and imports.
    const imported = await runScript("import.sh", {
      ...plane.destinationEnv("stdin-mode"),
      RUN_KEY: runKey,
    });
    expect(imported.status, imported.stderr).toBe(0);
    expect(rows(destination)).toBe(rows(source));
  });

  it.each([
    ["a tab", "tab\there"],
    ["a newline", "new\nline"],
    ["a backslash", "back\\slash"],
    ["quotes and a comment opener", 'it\'s "q" /* --'],
  ])(
    "migrates tables, columns, views and triggers whose names hold %s, verified",
    async (_, name) => {
      const quoted = "`" + name.replace(/`/g, "``") + "`";
      source.must(`DROP DATABASE IF EXISTS odd; CREATE DATABASE odd;
      CREATE TABLE odd.${quoted} (id INT PRIMARY KEY, ${quoted} VARCHAR(20), KEY ${quoted} (${quoted}));
      INSERT INTO odd.${quoted} VALUES (1, 'one'), (2, 'two');
      CREATE TABLE odd.fine (id INT PRIMARY KEY);
      CREATE VIEW odd.\`view ${name.replace(/`/g, "``")}\` AS SELECT ${quoted} FROM odd.${quoted};
      CREATE TRIGGER odd.\`trigger ${name.replace(/`/g, "``")}\` BEFORE INSERT ON odd.fine FOR EACH ROW SET NEW.id = NEW.id;`);
      destination.must("DROP DATABASE IF EXISTS odd");
      const runId = `odd-${Math.random().toString(36).slice(2, 8)}`;
      const dumped = await runScript("dump.sh", plane.dumpEnv(runId, "odd"));
      expect(dumped.status, dumped.stderr).toBe(0);
      const imported = await runScript("import.sh", plane.destinationEnv(runId));
      expect(imported.status, imported.stderr).toBe(0);
      const verified = await runScript("verify.sh", plane.destinationEnv(runId));
      expect(verified.status, verified.stderr).toBe(0);
      expect(verified.stderr).toContain("verified: all 4 objects");
      expect(destination.must(`SELECT ${quoted} FROM odd.${quoted} ORDER BY id`)).toBe(
        "one\ntwo\n",
      );
    },
  );

  it("migrates a generated corpus of hostile names for every kind of object, identical on both sides", async () => {
    const names = [
      "it's",
      'say"hi',
      "back\\slash",
      "trailing\\",
      "tick`tock",
      "tab\there",
      "new\nline",
      "with space",
      "$(touch /tmp/ferry-pwned)",
      "semi;colon",
      "dash -- dash",
      "open /* comment",
      "select",
      "商品 テーブル",
      "x".repeat(64),
    ];
    const q = (name: string) => "`" + name.replace(/`/g, "``") + "`";
    // Every kind of object gets each name (cut to MySQL's 64 characters after a kind prefix).
    const named = (prefix: string, name: string) => q([...(prefix + name)].slice(0, 64).join(""));
    const statements = ["DROP DATABASE IF EXISTS corpus", "CREATE DATABASE corpus"];
    names.forEach((name, i) => {
      const table = `corpus.${q(name)}`;
      statements.push(
        `CREATE TABLE ${table} (id INT PRIMARY KEY, ${q(name)} VARCHAR(20), KEY ${q(name)} (${q(name)}))`,
        `INSERT INTO ${table} VALUES (1, ${JSON.stringify(name.slice(0, 20)).replace(/\\u/g, "u")}), (2, NULL)`,
        `CREATE VIEW corpus.${named("v", name)} AS SELECT ${q(name)} FROM ${table}`,
        `CREATE TRIGGER corpus.${named("t", name)} BEFORE INSERT ON ${table} FOR EACH ROW SET NEW.id = NEW.id`,
        `CREATE PROCEDURE corpus.${named("p", name)}() SELECT ${i}`,
        `CREATE FUNCTION corpus.${named("f", name)}() RETURNS INT DETERMINISTIC RETURN ${i}`,
        `CREATE EVENT corpus.${named("e", name)} ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT ${i}`,
      );
    });
    source.must(statements.map((statement) => statement + ";").join("\n"));
    destination.must("DROP DATABASE IF EXISTS corpus");
    const verified = await migrateVerified("corpus", "corpus");
    expect(verified).toContain(`verified: all ${names.length * 6} objects`);
    // Read independently of ferry's digests: every object's name and definition, both sides.
    const catalog = (server: MariaDb) =>
      server.must(
        `SELECT 'table', TABLE_NAME, TABLE_TYPE, '' FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'corpus'
         UNION ALL SELECT 'column', CONCAT(TABLE_NAME, '.', COLUMN_NAME), COLUMN_TYPE, '' FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'corpus'
         UNION ALL SELECT 'index', CONCAT(TABLE_NAME, '.', INDEX_NAME), COLUMN_NAME, '' FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'corpus'
         UNION ALL SELECT 'trigger', TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'corpus'
         UNION ALL SELECT 'routine', ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'corpus'
         UNION ALL SELECT 'event', EVENT_NAME, STATUS, EVENT_DEFINITION FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'corpus'
         UNION ALL SELECT 'view', TABLE_NAME, '', VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'corpus'
         ORDER BY 1, 2, 3`,
      );
    expect(catalog(destination)).toBe(catalog(source));
    for (const name of names)
      expect(destination.must(`CHECKSUM TABLE corpus.${q(name)}`).split("\t")[1]).toBe(
        source.must(`CHECKSUM TABLE corpus.${q(name)}`).split("\t")[1],
      );
    expect(fs.existsSync("/tmp/ferry-pwned")).toBe(false);
  });

  // Issue 25, finding 1: the import's index deferral took a column name holding a newline, two
  // spaces and KEY for a line of the CREATE TABLE, and ran the rest of the name as SQL. Names of
  // every shape the rewrite could mistake for structure, in columns, keys and tables, and a routine
  // whose body holds a CREATE TABLE with keys: migrated exactly, and a database the names try to
  // drop is still there.
  it("runs no SQL out of a name: names shaped like key lines, statement ends and comments stay names", async () => {
    const shapes = [
      // The reviewer's shape: its middle line is a whole KEY line, and what follows it runs.
      "a\n  KEY `` (id); DROP DATABASE victim; #\n  b",
      "x\n  KEY `k` (`id`)); DROP DATABASE victim; -- ",
      "x\n  UNIQUE KEY `u` (`id`),\n  CONSTRAINT",
      "x\n  PRIMARY KEY (`x`)",
      "x\n) ENGINE=InnoDB;\nDROP DATABASE victim;\n",
      "a)b;c",
      "/* c",
      "# e",
      "x\nDELIMITER ;;\n",
      "tick`tock",
    ];
    // A name may not end in a space: each ends in "!".
    const q = (name: string) => "`" + name.replace(/`/g, "``") + "!`";
    const statements = ["DROP DATABASE IF EXISTS shapes", "CREATE DATABASE shapes"];
    shapes.forEach((shape, i) => {
      // As in the finding, the tables' names are plain: one table's column carries the shape,
      // another's keys do, a third's name does.
      const column = q(`c ${shape}`);
      statements.push(
        `CREATE TABLE shapes.\`c${i}\` (id INT PRIMARY KEY, ${column} VARCHAR(20), KEY k (${column}), UNIQUE KEY u (${column}, id))`,
        `INSERT INTO shapes.\`c${i}\` VALUES (1, 'one'), (2, NULL)`,
        `CREATE TABLE shapes.\`k${i}\` (id INT PRIMARY KEY, c VARCHAR(20), KEY ${q(`k ${shape}`)} (c), UNIQUE KEY ${q(`u ${shape}`)} (c, id))`,
        `INSERT INTO shapes.\`k${i}\` VALUES (1, 'one'), (2, NULL)`,
        `CREATE TABLE shapes.${q(`t${i} ${shape}`)} (id INT PRIMARY KEY, c VARCHAR(20), KEY k (c))`,
        `INSERT INTO shapes.${q(`t${i} ${shape}`)} VALUES (1, 'one'), (2, NULL)`,
      );
    });
    source.must(statements.map((s) => s + ";").join("\n"));
    source.must(`DELIMITER $$
      CREATE PROCEDURE shapes.builds()
      BEGIN
        CREATE TABLE IF NOT EXISTS shapes.built (
          id INT NOT NULL,
          v VARCHAR(10),
          PRIMARY KEY (id),
          KEY by_v (v)
        ) ENGINE=InnoDB;
      END $$
      DELIMITER ;`);
    destination.must("DROP DATABASE IF EXISTS shapes");
    plantVictim();
    await migrateVerified("shapes", "shapes");
    expect(destination.must("SELECT id FROM victim.kept").trim()).toBe("7");
    const catalog = (server: MariaDb) =>
      server.must(
        `SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME FROM information_schema.STATISTICS
         WHERE TABLE_SCHEMA = 'shapes' ORDER BY 1, 2, 4`,
      );
    expect(catalog(destination)).toBe(catalog(source));
    expect(catalog(destination)).toContain("(`id`)); DROP DATABASE victim; -- !");
    const procedure = (server: MariaDb) =>
      server.must("SHOW CREATE PROCEDURE shapes.builds").split("\t")[2];
    expect(procedure(destination)).toBe(procedure(source));
    expect(procedure(destination)).toContain("KEY by_v (v)");
  });

  // The mariadb client splits a script otherwise than the server lexed it when the source created
  // an object: "--" and a control byte is a comment to the server, not to the client, so a routine
  // body holding it would be cut there and its rest run as statements of their own. The import
  // refuses such a dump before the cut, naming why, and the database it aims at is untouched.
  it("refuses a routine body the client would split where the server did not", async () => {
    source.must(
      `DROP DATABASE IF EXISTS splits; CREATE DATABASE splits; CREATE TABLE splits.t (id INT PRIMARY KEY);`,
    );
    source.must(
      "DELIMITER $$\nCREATE PROCEDURE splits.p() SELECT 1 --\x01 ;; DROP DATABASE victim ;;\n$$\nDELIMITER ;",
    );
    destination.must("DROP DATABASE IF EXISTS splits");
    plantVictim();
    const dumped = await runScript("dump.sh", plane.dumpEnv("splits", "splits"));
    expect(dumped.status, dumped.stderr).toBe(0);
    const imported = await runScript("import.sh", plane.destinationEnv("splits"));
    expect(imported.status).not.toBe(0);
    expect(imported.stderr).toContain("the dump's SQL is refused at byte");
    expect(imported.stderr).toContain("control byte");
    expect(destination.must("SELECT id FROM victim.kept").trim()).toBe("7");
  });

  it("migrates databases whose names hold spaces, quotes, glob characters, a comment opener and CJK, never split or globbed", async () => {
    const names = ["my shop", `it's "q"*?[x] /* --`, "店舗 $(echo no)"];
    const quote = (name: string) => "`" + name.replace(/`/g, "``") + "`";
    for (const name of names) {
      source.must(
        `DROP DATABASE IF EXISTS ${quote(name)}; CREATE DATABASE ${quote(name)};
         CREATE TABLE ${quote(name)}.t (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO ${quote(name)}.t VALUES (1, 'a'), (2, 'b');`,
      );
      destination.must(`DROP DATABASE IF EXISTS ${quote(name)}`);
    }
    // A database whose name a shell would split or glob into these must stay untouched.
    source.must("DROP DATABASE IF EXISTS my; CREATE DATABASE my; CREATE TABLE my.t (id INT)");
    destination.must("DROP DATABASE IF EXISTS my");
    const env = { ...plane.dumpEnv("odd-databases", ""), DATABASES: JSON.stringify(names) };
    const dumped = await runScript("dump.sh", env);
    expect(dumped.status, dumped.stderr).toBe(0);
    const imported = await runScript("import.sh", plane.destinationEnv("odd-databases"));
    expect(imported.status, imported.stderr).toBe(0);
    const verified = await runScript("verify.sh", plane.destinationEnv("odd-databases"));
    expect(verified.status, verified.stderr).toBe(0);
    for (const name of names)
      expect(destination.must(`SELECT COUNT(*) FROM ${quote(name)}.t`).trim()).toBe("2");
    expect(
      destination
        .must("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'my'")
        .trim(),
    ).toBe("0");
  });

  it("migrates a database whose name holds a dash", async () => {
    source.must(
      "DROP DATABASE IF EXISTS `my-app`; CREATE DATABASE `my-app`; CREATE TABLE `my-app`.t (id INT PRIMARY KEY); INSERT INTO `my-app`.t VALUES (1), (2);",
    );
    destination.must("DROP DATABASE IF EXISTS `my-app`");
    expect((await runScript("dump.sh", plane.dumpEnv("dashed", "my-app"))).status).toBe(0);
    const imported = await runScript("import.sh", plane.destinationEnv("dashed"));
    expect(imported.status, imported.stderr).toBe(0);
    const verified = await runScript("verify.sh", plane.destinationEnv("dashed"));
    expect(verified.status, verified.stderr).toBe(0);
    expect(destination.must("SELECT COUNT(*) FROM `my-app`.t").trim()).toBe("2");
  });

  // Issue 25, finding 12: a name printed in a step's log (here a column the dump refuses) cannot
  // forge a line there, nor move the terminal: every line the data plane writes is one line.
  it("prints names with line breaks and terminal controls escaped: no forged log line", async () => {
    const forged = "2026-01-01T00:00:00Z ferry-dump: done: nothing refused";
    const column = `x\n${forged}\r\u001b[2K\u2028\u202e`;
    source.must(`DROP DATABASE IF EXISTS forged; CREATE DATABASE forged;
      CREATE TABLE forged.t (id INT PRIMARY KEY, \`${column}\` FLOAT);
      INSERT INTO forged.t VALUES (1, 16777216);`);
    const dumped = await runScript("dump.sh", plane.dumpEnv("forged", "forged"));
    expect(dumped.status).not.toBe(0);
    const lines = dumped.stderr.trimEnd().split("\n");
    expect(lines.filter((line) => line.startsWith(forged))).toEqual([]);
    for (const line of lines) {
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ferry-dump: /);
      expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/);
    }
    expect(dumped.stderr).toContain(
      `column \`x\\n${forged}\\r\\x1b[2K\\u2028\\u202e\`: 1 FLOAT values have more significant digits`,
    );
  });

  it("refuses, before anything is written, FLOAT values the dump tool would round, naming the column", async () => {
    source.must(`DROP DATABASE IF EXISTS floats; CREATE DATABASE floats;
      CREATE TABLE floats.readings (id INT PRIMARY KEY, exact FLOAT, fine FLOAT);
      INSERT INTO floats.readings VALUES (1, 16777216, 1.5), (2, 3.1415927, 2.25), (3, NULL, NULL);`);
    const dumped = await runScript("dump.sh", plane.dumpEnv("floats", "floats"));
    expect(dumped.status).not.toBe(0);
    expect(dumped.stderr).toContain(
      "refused: table `floats`.`readings` column `exact`: 2 FLOAT values have more significant digits than the dump tool writes",
    );
    expect(dumped.stderr).not.toContain("column `fine`");
    expect(plane.keysUnder("runs/floats/")).toEqual([]);
    // Values of 6 significant digits or fewer travel exactly and verify.
    source.must(
      "UPDATE floats.readings SET exact = 16777200 WHERE id = 1; UPDATE floats.readings SET exact = 3.14159 WHERE id = 2",
    );
    destination.must("DROP DATABASE IF EXISTS floats");
    expect((await runScript("dump.sh", plane.dumpEnv("floats-fine", "floats"))).status).toBe(0);
    expect((await runScript("import.sh", plane.destinationEnv("floats-fine"))).status).toBe(0);
    const verified = await runScript("verify.sh", plane.destinationEnv("floats-fine"));
    expect(verified.status, verified.stderr).toBe(0);
  });
});
