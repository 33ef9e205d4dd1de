import { z } from "zod";

/** `ferry:verification`: the checks after the import. */

export const verificationSchema = z
  .strictObject({
    enabled: z
      .boolean({ error: "must be true or false" })
      .default(true)
      .describe("compare every table with the dump; without it the dump is never removed"),
    readWriteTest: z
      .boolean({ error: "must be true or false" })
      .default(true)
      .describe("a Deployment that proves read/write on a fresh volume of the new class"),
  })
  .describe("the checks after the import");
