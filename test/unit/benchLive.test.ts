import { describe, expect, it } from "vitest";
import { gtidDistance } from "../../bench/live";

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
