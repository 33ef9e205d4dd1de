import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawn } from "child_process";
import { randomBytes } from "crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { shellQuote } from "../../components/specs/dataPlane";
import { DataPlane } from "../support/fixture";
import { dataPlaneDir, descendsFrom, runScript, type MariaDb } from "../support/servers";

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

  it("in local and SSH mode, no child process sees a secret in its arguments or environment", async () => {
    const runKey = randomBytes(32).toString("hex");
    // As the command provider runs it: the settings and secrets exported at the top of the
    // program that sh reads on stdin.
    const env: Record<string, string> = {
      ...plane.dumpEnv("stdin-mode", "notes"),
      SOURCE_PASSWORD: sourcePassword,
      S3_SECRET_KEY: plane.dataPlaneSecret,
      RUN_KEY: runKey,
    };
    delete env.SOURCE_PASSWORD_FILE;
    delete env.S3_SECRET_KEY_FILE;
    const program = [
      "set -eu",
      ...Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}; export ${k}`),
      fs.readFileSync(path.join(dataPlaneDir, "lib.sh"), "utf8"),
      fs.readFileSync(path.join(dataPlaneDir, "dump.sh"), "utf8"),
    ].join("\n");
    const secrets = [sourcePassword, plane.dataPlaneSecret, runKey];
    const exposed: string[] = [];
    const child = spawn("sh", ["-s"], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" },
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const finished = new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? -1)));
    let running = true;
    void finished.then(() => (running = false));
    child.stdin.end(program);
    while (running) {
      for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
        if (!descendsFrom(Number(pid), child.pid!)) continue;
        for (const part of ["cmdline", "environ"]) {
          try {
            const text = fs.readFileSync(`/proc/${pid}/${part}`, "utf8");
            if (secrets.some((secret) => text.includes(secret)))
              exposed.push(
                `${part} of ${fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]}`,
              );
          } catch {
            // The process ended while we looked.
          }
        }
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await finished, stderr).toBe(0);
    expect(exposed).toEqual([]);
    for (const secret of secrets) expect(stderr).not.toContain(secret);
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
    const dumped = await runScript("dump.sh", plane.dumpEnv("corpus", "corpus"));
    expect(dumped.status, dumped.stderr).toBe(0);
    const imported = await runScript("import.sh", plane.destinationEnv("corpus"));
    expect(imported.status, imported.stderr).toBe(0);
    const verified = await runScript("verify.sh", plane.destinationEnv("corpus"));
    expect(verified.status, verified.stderr).toBe(0);
    expect(verified.stderr).toContain(`verified: all ${names.length * 6} objects`);
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
