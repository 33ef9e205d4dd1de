import { describe, expect, it } from "vitest";
import { gtidDistance, pausesBySteps } from "../../bench/live";

// The live benchmark's lag in transactions: what the source has logged that the replica has not
// applied, domain by domain (MariaDB's GTID positions).
describe("gtidDistance", () => {
  it("counts the transactions the replica has still to apply, domain by domain", () => {
    expect(gtidDistance("0-1-120", "0-1-100")).toBe(20);
    expect(gtidDistance("0-1-120", "0-1-120")).toBe(0);
    expect(gtidDistance("0-1-120,1-5-7", "0-1-118,1-5-2")).toBe(7);
    // A domain the replica has never applied counts whole; one only the replica has, not at all.
    expect(gtidDistance("0-1-10,2-1-4", "0-1-10")).toBe(4);
    expect(gtidDistance("0-1-10", "0-1-10,3-2-9")).toBe(0);
    // Nothing applied yet, and a replica ahead (its own writes): never negative.
    expect(gtidDistance("0-1-10", "")).toBe(10);
    expect(gtidDistance("0-1-10", "0-1-12")).toBe(0);
  });
});

describe("pausesBySteps", () => {
  const at = (ms: number) => new Date(Date.UTC(2026, 11, 7, 9, 0, 0) + ms).toISOString();
  const t0 = Date.UTC(2026, 11, 7, 9, 0, 0);
  const phases = [
    { name: "dump", from: t0, to: t0 + 10_000 },
    { name: "import", from: t0 + 10_000, to: t0 + 30_000 },
    { name: "cutover", from: t0 + 40_000, to: t0 + 42_000 },
  ];
  it("takes the longest pause that overlaps the cutover as its window, and names the step of the longest other", () => {
    const { atCutover, elsewhere } = pausesBySteps(
      [
        { from: at(2_000), ms: 650 },
        { from: at(12_000), ms: 300 },
        // Begun before the cutover, ended inside it: the cutover's.
        { from: at(39_900), ms: 400 },
        { from: at(41_000), ms: 150 },
      ],
      phases,
    );
    expect(atCutover).toBe(400);
    expect(elsewhere).toEqual({ ms: 650, during: "dump" });
  });
  it("says none when nothing paused, and when a pause fell between steps", () => {
    expect(pausesBySteps(null, phases)).toEqual({
      atCutover: 0,
      elsewhere: { ms: 0, during: "none" },
    });
    expect(pausesBySteps([{ from: at(35_000), ms: 200 }], phases).elsewhere).toEqual({
      ms: 200,
      during: "none",
    });
  });
});
