// Stryker over the TypeScript config and spec builders, one file a run, so that a run stopped
// half-way (hours on a 2-core machine) keeps what it measured: each file's report is stored under
// .ferry/stryker/files/, keyed by the content of components/ and test/unit/ (a change to either
// measures again), and a file with a report of this key is not run again. Prints each file's
// figures and the total; exits 1 below the threshold (stryker.config.json's thresholds.break).
//
// Usage: node scripts/dev/mutation-ts.mjs [file...]   (default: stryker.config.json's "mutate")
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
process.chdir(root);
const config = JSON.parse(fs.readFileSync("stryker.config.json", "utf8"));
const threshold = config.thresholds.break;

/** Every file under dir, sorted, recursively. */
function filesUnder(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? filesUnder(full) : [full];
    })
    .sort();
}

/** What a file's figures depend on: the code it mutates and the tests that judge it. */
const key = (() => {
  const hash = createHash("sha256");
  for (const file of [
    ...filesUnder("components"),
    ...filesUnder("test/unit"),
    "stryker.config.json",
  ]) {
    hash.update(file).update("\0").update(fs.readFileSync(file)).update("\0");
  }
  return hash.digest("hex").slice(0, 12);
})();

/** The files stryker.config.json mutates (its patterns are a directory and `*.ts`). */
function configuredFiles() {
  return config.mutate.flatMap((pattern) => {
    const dir = path.dirname(pattern);
    const suffix = path.basename(pattern).replace(/^\*/, "");
    return fs
      .readdirSync(dir)
      .filter((name) => name.endsWith(suffix))
      .map((name) => path.join(dir, name))
      .sort();
  });
}

const files = process.argv.length > 2 ? process.argv.slice(2) : configuredFiles();
const stored = path.join(".ferry", "stryker", "files");
fs.mkdirSync(stored, { recursive: true });

const detected = new Set(["Killed", "Timeout"]);
const undetected = new Set(["Survived", "NoCoverage"]);
const total = { killed: 0, survived: 0, noCoverage: 0, timeout: 0 };
const survivors = [];
console.log(["file", "killed", "timeout", "survived", "uncovered", "score", "seconds"].join("\t"));
for (const file of files) {
  const report = path.join(stored, `${file.replaceAll("/", "_")}-${key}.json`);
  let seconds = "kept";
  if (!fs.existsSync(report)) {
    const started = Date.now();
    const run = spawnSync("npx", ["stryker", "run", "--mutate", file], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    if (run.status !== 0 && !fs.existsSync(config.jsonReporter.fileName)) {
      console.error(`mutation testing: stryker failed on ${file} (exit ${run.status})`);
      process.exit(1);
    }
    fs.renameSync(config.jsonReporter.fileName, report);
    seconds = String(Math.round((Date.now() - started) / 1000));
  }
  const mutants = Object.values(JSON.parse(fs.readFileSync(report, "utf8")).files).flatMap(
    (f) => f.mutants,
  );
  const count = (status) => mutants.filter((m) => m.status === status).length;
  const figures = {
    killed: count("Killed"),
    timeout: count("Timeout"),
    survived: count("Survived"),
    noCoverage: count("NoCoverage"),
  };
  for (const [name, value] of Object.entries(figures)) total[name] += value;
  for (const m of mutants.filter((m) => undetected.has(m.status))) {
    survivors.push(
      `${file}:${m.location.start.line} ${m.mutatorName} (${m.status}): ${m.replacement ?? ""}`,
    );
  }
  const judged = mutants.filter((m) => detected.has(m.status) || undetected.has(m.status)).length;
  const score = judged ? ((100 * (figures.killed + figures.timeout)) / judged).toFixed(1) : "-";
  console.log(
    [
      file,
      figures.killed,
      figures.timeout,
      figures.survived,
      figures.noCoverage,
      `${score}%`,
      seconds,
    ].join("\t"),
  );
}
const judged = total.killed + total.timeout + total.survived + total.noCoverage;
const score = judged ? (100 * (total.killed + total.timeout)) / judged : 0;
console.log(
  `total: ${total.killed + total.timeout} of ${judged} mutants detected (${score.toFixed(1)}%), ${total.survived} survived, ${total.noCoverage} not covered`,
);
if (survivors.length) console.log(`undetected:\n  ${survivors.join("\n  ")}`);
if (score < threshold) {
  console.error(`mutation testing: the TypeScript config and specs below ${threshold}%`);
  process.exit(1);
}
