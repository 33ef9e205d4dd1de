import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { destinationServerSettings } from "../../components/specs/database";
import { DataPlane } from "../support/fixture";
import { runScript, type MariaDb } from "../support/servers";

/**
 * Verification that means it: every object the dump carries is in the manifest with a digest of
 * its definition and, for tables and sequences, of its content, read exactly. A destination that
 * differs in any of them fails verification naming the object; one that matches passes, whatever
 * its time zone and whatever the objects are called.
 */

const bucket = "ferry-verify";
let plane: DataPlane;
let source: MariaDb;
let destination: MariaDb;

/** Two different 128-byte values with one MD5 (Wang and Yu's collision, 2005). */
const md5Twins = [
  "d131dd02c5e6eec4693d9a0698aff95c2fcab58712467eab4004583eb8fb7f8955ad340609f4b30283e488832571415a085125e8f7cdc99fd91dbdf280373c5bd8823e3156348f5bae6dacd436c919c6dd53e2b487da03fd02396306d248cda0e99f33420f577ee8ce54b67080a80d1ec69821bcb6a8839396f9652b6ff72a70",
  "d131dd02c5e6eec4693d9a0698aff95c2fcab50712467eab4004583eb8fb7f8955ad340609f4b30283e4888325f1415a085125e8f7cdc99fd91dbd7280373c5bd8823e3156348f5bae6dacd436c919c6dd53e23487da03fd02396306d248cda0e99f33420f577ee8ce54b67080280d1ec69821bcb6a8839396f965ab6ff72a70",
];

const seed = `
CREATE DATABASE app CHARACTER SET utf8mb4;
CREATE TABLE app.measures (id INT PRIMARY KEY, f FLOAT, d DOUBLE, at TIMESTAMP(6) NULL,
  label VARCHAR(50) COLLATE utf8mb4_unicode_ci, KEY by_label (label)) ENGINE=InnoDB;
INSERT INTO app.measures VALUES (1, 1.25, 0.1, '2026-03-04 05:06:07.123456', 'a'),
  (2, -3.5, 1e300, '2000-01-01 00:00:00.000001', 'b'), (3, NULL, NULL, NULL, NULL);
CREATE TABLE app.mixed (id INT PRIMARY KEY, l VARCHAR(20) CHARACTER SET latin1,
  u VARCHAR(20) CHARACTER SET utf8mb4, b VARBINARY(20), g VARCHAR(20) CHARACTER SET greek) ENGINE=InnoDB;
INSERT INTO app.mixed VALUES (1, 'café', '雪 ☃', 0x00ff, 'αβγ');
CREATE TABLE app.prices (id INT PRIMARY KEY, price DECIMAL(10,2)) ENGINE=InnoDB WITH SYSTEM VERSIONING;
INSERT INTO app.prices VALUES (1, 10.00), (2, 20.00);
UPDATE app.prices SET price = 11.00 WHERE id = 1;
DELETE FROM app.prices WHERE id = 2;
CREATE TABLE app.rates (id INT PRIMARY KEY, rate INT,
  valid_from TIMESTAMP(6) GENERATED ALWAYS AS ROW START, valid_to TIMESTAMP(6) GENERATED ALWAYS AS ROW END,
  PERIOD FOR SYSTEM_TIME (valid_from, valid_to)) ENGINE=InnoDB WITH SYSTEM VERSIONING;
INSERT INTO app.rates (id, rate) VALUES (1, 5);
UPDATE app.rates SET rate = 6 WHERE id = 1;
CREATE SEQUENCE app.invoice_numbers START WITH 1000 INCREMENT BY 10;
CREATE TABLE app.parents (id INT PRIMARY KEY) ENGINE=InnoDB;
CREATE TABLE app.children (id INT PRIMARY KEY, parent INT,
  CONSTRAINT child_parent FOREIGN KEY (parent) REFERENCES app.parents (id)) ENGINE=InnoDB;
INSERT INTO app.parents VALUES (1), (2); INSERT INTO app.children VALUES (1, 1), (2, 2);
CREATE VIEW app.labels AS SELECT id, label FROM app.measures;
CREATE TRIGGER app.no_negative BEFORE INSERT ON app.measures FOR EACH ROW SET NEW.f = ABS(NEW.f);
CREATE PROCEDURE app.tidy() DELETE FROM app.measures WHERE f IS NULL;
CREATE FUNCTION app.double_it(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
CREATE EVENT app.hourly ON SCHEDULE EVERY 1 HOUR DISABLE DO DELETE FROM app.children WHERE parent IS NULL;
CREATE VIEW app.doubled AS SELECT app.double_it(id) AS d FROM app.parents;
CREATE FUNCTION app.roll() RETURNS INT NOT DETERMINISTIC MODIFIES SQL DATA RETURN FLOOR(RAND() * 6);
DELIMITER //
CREATE PROCEDURE app.commented() BEGIN
  /* a comment the import must keep */ SELECT 1; -- and this one
END //
DELIMITER ;
CREATE TABLE app.big (id INT PRIMARY KEY, payload LONGBLOB) ENGINE=InnoDB;
INSERT INTO app.big VALUES (1, REPEAT(UNHEX('00FF'), 4 * 1024 * 1024));
CREATE TABLE app.\`café ☕ 雪\` (id INT PRIMARY KEY) ENGINE=InnoDB;
INSERT INTO app.\`café ☕ 雪\` VALUES (1);
CREATE TABLE app.\`it's\` (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=InnoDB;
INSERT INTO app.\`it's\` VALUES (1, 'x');
CREATE TABLE app.\`say"hi\` (id INT PRIMARY KEY) ENGINE=InnoDB;
INSERT INTO app.\`say"hi\` VALUES (7);
CREATE TABLE app.\`x', (SELECT GROUP_CONCAT(User) FROM mysql.user), 1, 2 /*\` (
  \`*/ FROM DUAL;#\` INT PRIMARY KEY) ENGINE=InnoDB;
INSERT INTO app.\`x', (SELECT GROUP_CONCAT(User) FROM mysql.user), 1, 2 /*\` VALUES (1), (2);
CREATE TABLE app.tags (v VARCHAR(20) PRIMARY KEY) ENGINE=InnoDB;
INSERT INTO app.tags VALUES ('a2011215'), ('b2671576');
CREATE TABLE app.files (id INT PRIMARY KEY, body BLOB) ENGINE=InnoDB;
INSERT INTO app.files VALUES (1, 0x${md5Twins[0]});
CREATE TABLE app.choices (id INT PRIMARY KEY, m ENUM('', 'a'), s SET('x', 'y')) ENGINE=InnoDB;
INSERT INTO app.choices VALUES (1, '', 'x,y'), (2, 'a', '');
`;

async function run(script: string, env: Record<string, string>) {
  const result = await runScript(script, env);
  if (process.env.FERRY_DEBUG && result.status !== 0) console.error(`${script}: ${result.stderr}`);
  return result;
}

function resetDestination(): void {
  destination.must("DROP DATABASE IF EXISTS app; DROP DATABASE IF EXISTS ferry;");
  destination.must("SET GLOBAL time_zone = SYSTEM");
}

async function importRun(runId: string): Promise<void> {
  const imported = await run("import.sh", plane.destinationEnv(runId));
  expect(imported.status, imported.stderr).toBe(0);
}

beforeAll(async () => {
  // The destination runs with the settings ferry gives the server it deploys; the source with a
  // DBA's (it holds a non-deterministic function, which needs the same trust of its creators).
  plane = await DataPlane.start("verification", bucket, `v'pw ${Math.random()}`, [
    ...destinationServerSettings,
  ]);
  ({ source, destination } = plane);
  source.must(seed, "mysql");
  const dumped = await run("dump.sh", plane.dumpEnv("digests", "app"));
  expect(dumped.status, dumped.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  await plane?.stop();
});

beforeEach(() => resetDestination());

describe("verification", () => {
  it("passes for an exact migration: history (with hidden and with named period columns), sequence state, odd names, mixed character sets, an 8 MiB BLOB, a view over a function, a non-deterministic function, comments in a body", async () => {
    await importRun("digests");
    const verified = await run("verify.sh", plane.destinationEnv("digests"));
    expect(verified.stderr).toMatch(
      /verified: all 23 objects, 14 tables \(\d+ rows\), match the dump/,
    );
    expect(verified.status).toBe(0);
    // The history came along: every version of app.prices, with its period.
    const history = (server: MariaDb) =>
      server.must(
        "SELECT id, price, ROW_START, ROW_END FROM app.prices FOR SYSTEM_TIME ALL ORDER BY 1, 3",
      );
    expect(history(destination)).toBe(history(source));
    expect(history(destination).trim().split("\n")).toHaveLength(3);
    const body = (server: MariaDb) =>
      server.must(
        "SELECT ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_NAME = 'commented'",
      );
    expect(body(destination)).toContain("/* a comment the import must keep */");
    expect(body(destination)).toBe(body(source));
    expect(destination.must("SELECT LENGTH(payload) FROM app.big").trim()).toBe("8388608");
  });

  it("passes when the destination's time zone differs from the source's", async () => {
    await importRun("digests");
    destination.must("SET GLOBAL time_zone = '+09:30'");
    const verified = await run("verify.sh", plane.destinationEnv("digests"));
    expect(verified.status, verified.stderr).toBe(0);
  });

  const tampering: [string, string, RegExp][] = [
    [
      "a history row deleted",
      "DELETE HISTORY FROM app.prices",
      /table `app`\.`prices`: 1 rows on the destination, 3 in the dump/,
    ],
    [
      "a history row deleted from a table with named period columns",
      "DELETE HISTORY FROM app.rates",
      /table `app`\.`rates`: 1 rows on the destination, 2 in the dump/,
    ],
    [
      "a sequence moved on",
      "SELECT SETVAL(app.invoice_numbers, 5000)",
      /sequence `app`\.`invoice_numbers`: its state .* differs from the dump's/,
    ],
    ["a trigger dropped", "DROP TRIGGER app.no_negative", /trigger `app`\.`no_negative`: missing/],
    ["a view dropped", "DROP VIEW app.labels", /view `app`\.`labels`: missing/],
    ["a procedure dropped", "DROP PROCEDURE app.tidy", /procedure `app`\.`tidy`: missing/],
    ["a function dropped", "DROP FUNCTION app.double_it", /function `app`\.`double_it`: missing/],
    ["an event dropped", "DROP EVENT app.hourly", /event `app`\.`hourly`: missing/],
    [
      "an index dropped",
      "ALTER TABLE app.measures DROP INDEX by_label",
      /table `app`\.`measures`: its definition differs/,
    ],
    [
      "a foreign key dropped",
      "ALTER TABLE app.children DROP FOREIGN KEY child_parent",
      /table `app`\.`children`: its definition differs/,
    ],
    [
      "a collation changed",
      "ALTER TABLE app.measures MODIFY label VARCHAR(50) COLLATE utf8mb4_bin",
      /table `app`\.`measures`: its definition differs/,
    ],
    [
      "a FLOAT changed in its 7th digit",
      "UPDATE app.measures SET f = 1.250001 WHERE id = 1",
      /table `app`\.`measures`: its 3 rows differ/,
    ],
    [
      "a TIMESTAMP moved 1 µs",
      "UPDATE app.measures SET at = at + INTERVAL 1 MICROSECOND WHERE id = 2",
      /table `app`\.`measures`: its 3 rows differ/,
    ],
    [
      "a procedure's body changed",
      "DROP PROCEDURE app.tidy; CREATE PROCEDURE app.tidy() DELETE FROM app.measures WHERE f IS NOT NULL",
      /procedure `app`\.`tidy`: its definition differs/,
    ],
    [
      "a NULL became an empty string",
      "UPDATE app.measures SET label = '' WHERE id = 3",
      /table `app`\.`measures`: its 3 rows differ/,
    ],
    [
      "a NULL became the text NULL",
      "UPDATE app.measures SET label = 'NULL' WHERE id = 3",
      /table `app`\.`measures`: its 3 rows differ/,
    ],
    [
      "bytes moved from one column into the next",
      // u was '雪 ☃' (E9 9B AA 20 E2 98 83) and b 0x00FF: the row's bytes in a row stay the same.
      "UPDATE app.mixed SET u = '雪 ', b = 0xE2988300FF WHERE id = 1",
      /table `app`\.`mixed`: its 1 rows differ/,
    ],
    [
      "a BLOB's last byte changed",
      "UPDATE app.big SET payload = CONCAT(LEFT(payload, LENGTH(payload) - 1), 0x00)",
      /table `app`\.`big`: its 1 rows differ/,
    ],
    [
      "a row of an oddly named table changed",
      "UPDATE app.`it's` SET v = 'y'",
      /table `app`\.`it's`: its 1 rows differ/,
    ],
    [
      // Their 64-bit MD5 prefixes sum alike (a four-list birthday search, seconds of CPU): a sum of
      // public row hashes could not tell the two sets apart.
      "two rows replaced by two others chosen to sum alike",
      "DELETE FROM app.tags; INSERT INTO app.tags VALUES ('c1572201'), ('d3348516')",
      /table `app`\.`tags`: its 2 rows differ/,
    ],
    [
      "a BLOB replaced by another of the same length and MD5",
      `UPDATE app.files SET body = 0x${md5Twins[1]}`,
      /table `app`\.`files`: its 1 rows differ/,
    ],
    [
      // Both read as '': the empty member (1) and the value an invalid one is stored as (0).
      "an ENUM's value moved to another that reads alike",
      "SET SESSION sql_mode = ''; UPDATE app.choices SET m = 'not a member' WHERE id = 1",
      /table `app`\.`choices`: its 2 rows differ/,
    ],
    [
      "an object added",
      "CREATE TABLE app.stray (id INT)",
      /table `app`\.`stray`: on the destination but not in the dump/,
    ],
  ];

  it.each(tampering)("fails when %s, naming the object", async (_, change, named) => {
    await importRun("digests");
    destination.must(change, "mysql");
    const verified = await run("verify.sh", plane.destinationEnv("digests"));
    expect(verified.status).not.toBe(0);
    expect(verified.stderr).toMatch(/verification failed: 1 of 23 objects differ from the dump/);
    expect(verified.stderr).toMatch(named);
  });
});
