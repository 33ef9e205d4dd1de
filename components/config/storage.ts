import { z } from "zod";
import { dnsLabel, httpUrl, nonEmpty, stringMap } from "./fields";

/** `ferry:storage`: the new storage ferry installs, or a class someone else installed. */

/** The storage keys only an install reads. */
export const installedStorageKeys = [
  "namespace",
  "crds",
  "system",
  "csi",
  "licenseKeyValue",
  "makeDefault",
  "previousDefaultClass",
] as const;

export const releaseSchema = z
  .strictObject({
    chart: nonEmpty.describe("chart name, or a local path when there is no repo"),
    repo: httpUrl("https://charts.example.com").optional().describe("chart repository URL"),
    version: nonEmpty.optional().describe("chart version; required with repo"),
    values: z.record(z.string(), z.unknown()).default({}).describe("the release's values"),
  })
  .superRefine((release, ctx) => {
    if (release.repo && !release.version) {
      ctx.addIssue({
        code: "custom",
        path: ["version"],
        message:
          "is required when repo is set: pin the chart version so every run installs the same thing",
      });
    }
  });

export const storageSchema = z
  .strictObject({
    install: z
      .boolean({ error: "must be true or false" })
      .default(true)
      .describe(
        "install the storage system, its CSI driver and the class here; false: use storageClass.name as someone else installed it (the vendor's install, or another stack's)",
      ),
    namespace: dnsLabel.default("storage-system").describe("namespace of the Helm releases"),
    crds: releaseSchema
      .optional()
      .describe("the storage system's CRDs, a Helm chart installed first (required with install)"),
    system: releaseSchema
      .optional()
      .describe("the storage system, a Helm chart (required with install)"),
    csi: releaseSchema
      .optional()
      .describe("its CSI driver, a Helm chart installed last (required with install)"),
    licenseKeyValue: nonEmpty
      .default("license.key")
      .describe("where the secret storageLicenseKey goes in the system chart's values"),
    storageClass: z
      .strictObject({
        name: dnsLabel.describe("the class the database's volume is made from"),
        create: z
          .boolean({ error: "must be true or false" })
          .default(true)
          .describe("create the class (false: a chart creates it)"),
        provisioner: nonEmpty
          .optional()
          .describe("the CSI driver's name (required when ferry installs and creates the class)"),
        parameters: stringMap.default({}).describe("the class's parameters"),
        reclaimPolicy: z
          .enum(["Retain", "Delete"], { error: "must be Retain or Delete" })
          .default("Retain")
          .describe("Retain keeps a volume whose claim is deleted"),
        volumeBindingMode: z
          .enum(["Immediate", "WaitForFirstConsumer"], {
            error: "must be Immediate or WaitForFirstConsumer",
          })
          .default("WaitForFirstConsumer")
          .describe("when volumes are bound"),
        allowVolumeExpansion: z
          .boolean({ error: "must be true or false" })
          .default(true)
          .describe("whether claims may grow"),
      })
      .describe("the StorageClass"),
    makeDefault: z
      .boolean({ error: "must be true or false" })
      .default(true)
      .describe("make the class the cluster's default (a patch kept on destroy)"),
    previousDefaultClass: dnsLabel
      .optional()
      .describe("the class that is the default today, stepped down first"),
  })
  .describe("the new storage: Helm releases, the StorageClass, and the default class");
