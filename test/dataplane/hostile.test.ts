import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DataPlane } from "../support/fixture";
import { runScript, type MariaDb } from "../support/servers";

/**
 * Inputs an adversary or an unlucky operator controls: the operator's own MySQL option file, and
 * row data that looks like SQL the import rewrites. None may change what is migrated.
 */

const bucket = "ferry-hostile";
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
  plane = await DataPlane.start("hostile", bucket, `h'pw ${Math.random()}`);
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
    const dumped = await runScript("dump.sh", withHome(plane.dumpEnv("my-cnf", "notes")));
    expect(dumped.status, dumped.stderr).toBe(0);
    const imported = await runScript("import.sh", withHome(plane.destinationEnv("my-cnf")));
    expect(imported.status, imported.stderr).toBe(0);
    const verified = await runScript("verify.sh", withHome(plane.destinationEnv("my-cnf")));
    expect(verified.status, verified.stderr).toBe(0);
    expect(rows(destination)).toBe(rows(source));
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
});
