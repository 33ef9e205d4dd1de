import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // ferry's own scratch space: a Stryker sandbox there holds a copy of every test.
    exclude: [...configDefaults.exclude, ".ferry/**"],
  },
});
