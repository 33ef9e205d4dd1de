import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataPlane } from "../support/fixture";
import { runScript } from "../support/servers";

/**
 * The object store changed under a run by someone else: its bucket deleted, a bucket user's
 * credentials turned off. Each step must say so, name what to do, and not take it for something
 * else (a missing bucket is not "the dump never completed"); nothing partial may look complete.
 */

let plane: DataPlane;

beforeAll(async () => {
  plane = await DataPlane.start("storefaults", "ferry-storefaults", `s'pw ${Math.random()}`);
  plane.source.must(`CREATE DATABASE app;
    CREATE TABLE app.notes (id INT PRIMARY KEY, body VARCHAR(20));
    INSERT INTO app.notes VALUES (1, 'kept'), (2, 'whole');`);
}, 120_000);

afterAll(async () => {
  await plane?.stop();
});

async function dump(runId: string) {
  const dumped = await runScript("dump.sh", plane.dumpEnv(runId, "app"));
  expect(dumped.status, dumped.stderr).toBe(0);
}

/**
 * The operator's watch of the import's lines (pulumi up waits for it) meets the same refusal as the
 * import, and ends with it at once instead of waiting out its start time for lines that can never
 * come.
 */
async function expectWatchRefused(runId: string, refusal: string) {
  const started = Date.now();
  const watched = await runScript("watch.sh", {
    ...plane.destinationEnv(runId),
    WATCH_STEP: "import",
    WATCH_START_SECONDS: "600",
  });
  expect(watched.status).not.toBe(0);
  expect(watched.stderr).toContain(`watch import: ${refusal}`);
  expect(Date.now() - started).toBeLessThan(20_000);
}

describe("the object store changed by someone else", () => {
  it("a bucket user turned off between dump and import: the import is refused at once, naming the user, and imports nothing", async () => {
    await dump("revoked");
    plane.minio.mustMc(["admin", "user", "disable", "admin", "ferry-dp-read"]);
    try {
      const started = Date.now();
      const imported = await runScript("import.sh", plane.destinationEnv("revoked"));
      expect(imported.status).not.toBe(0);
      expect(imported.stderr).toContain("the object store refused bucket user ferry-dp-read");
      expect(imported.stderr).toContain("revoked");
      expect(imported.stderr).not.toContain("never completed");
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(plane.destination.must("SHOW DATABASES LIKE 'app'")).toBe("");
      await expectWatchRefused("revoked", "the object store refused bucket user ferry-dp-read");
    } finally {
      plane.minio.mustMc(["admin", "user", "enable", "admin", "ferry-dp-read"]);
    }
  }, 120_000);

  it("the bucket deleted between dump and import: the import says the bucket is gone, not that the dump never completed", async () => {
    await dump("gone");
    plane.minio.mustMc(["rb", "--force", `admin/${plane.bucket}`]);
    try {
      for (const script of ["import.sh", "verify.sh"]) {
        const ran = await runScript(script, plane.destinationEnv("gone"));
        expect(ran.status, script).not.toBe(0);
        expect(ran.stderr, script).toContain(`the bucket ${plane.bucket} does not exist`);
        expect(ran.stderr, script).toContain("pulumi up --refresh");
        expect(ran.stderr, script).not.toContain("never completed");
      }
      const dumped = await runScript("dump.sh", plane.dumpEnv("gone-again", "app"));
      expect(dumped.status).not.toBe(0);
      expect(dumped.stderr).toContain(`the bucket ${plane.bucket} does not exist`);
      expect(plane.destination.must("SHOW DATABASES LIKE 'app'")).toBe("");
      await expectWatchRefused("gone", `the bucket ${plane.bucket} does not exist`);
    } finally {
      plane.minio.mustMc(["mb", `admin/${plane.bucket}`]);
    }
  }, 120_000);

  it("a step's failed attempt retried by its Job: the watch shows the next attempt's lines too, then ends", async () => {
    const env = { ...plane.destinationEnv("retried"), FERRY_BEACON: "true" };
    // The watch must have read the bucket once before the first attempt: an attempt that had
    // failed before the watch began is an earlier up's, and is not shown (watch.go).
    let watchWaiting: () => void = () => undefined;
    const waiting = new Promise<void>((resolve) => (watchWaiting = resolve));
    const watching = runScript("watch.sh", { ...env, WATCH_STEP: "import" }, undefined, (log) => {
      if (log.includes("waiting for the import step's lines")) watchWaiting();
    });
    await Promise.race([waiting, watching]);
    // No dump of this run: each attempt fails at once, as a Job's two pods would, 10 s apart.
    const first = await runScript("import.sh", env);
    expect(first.status).not.toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const second = await runScript("import.sh", env);
    expect(second.status).not.toBe(0);
    const watched = await watching;
    expect(watched.status, watched.stderr).toBe(0);
    const errors = watched.stderr
      .split("\n")
      .filter((line) => /ferry-import: ERROR: no manifest/.test(line));
    expect(errors.length).toBe(2);
  }, 120_000);
});
