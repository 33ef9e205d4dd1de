import { z } from "zod";
import { httpUrl, nonEmpty, pemCertificates } from "./fields";

/** `ferry:objectStore`: the S3/MinIO store the dump travels through. */

/** host:port with a DNS name, an IPv4 address or a bracketed IPv6 literal, and a real port. */
export const hostPort =
  /^(?:\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):([0-9]{1,5})$/;
export const endpointError =
  "must be host:port as the operator's machine reaches it, such as 127.0.0.1:9000 or [fd00::5]:9000, with a port between 1 and 65535";

export const objectStoreSchema = z
  .strictObject({
    endpoint: nonEmpty
      .refine(
        (endpoint) => {
          const match = hostPort.exec(endpoint);
          return match !== null && Number(match[1]) >= 1 && Number(match[1]) <= 65535;
        },
        { error: endpointError },
      )
      .describe("host:port of the S3/MinIO store as this machine reaches it"),
    useTls: z.boolean({ error: "must be true or false" }).default(false).describe("https"),
    insecureSkipVerify: z
      .boolean({ error: "must be true or false" })
      .default(false)
      .describe("skip the check of the store's TLS certificate (warned at every run)"),
    caCert: pemCertificates
      .optional()
      .describe(
        "the CA that signs the store's certificate (PEM), trusted by every client of the store: this machine, the pods, the SSH host; none trusts the system's CAs",
      ),
    accessKey: nonEmpty.describe(
      "the store's admin access key (ferry creates bucket-scoped users for the data)",
    ),
    region: nonEmpty.default("us-east-1").describe("the store's region"),
    bucketPrefix: z
      .string({ error: "must be a string" })
      .regex(/^[a-z0-9][a-z0-9-]{0,35}$/, {
        error: "must be lowercase letters, digits and dashes, at most 36 characters",
      })
      // S3's bucket naming rules keep these beginnings for names of its own.
      .refine((prefix) => !/^(xn--|sthree-|amzn-s3-demo-)/.test(prefix), {
        error:
          "must not start with xn--, sthree- or amzn-s3-demo- (S3 reserves them for its own names)",
      })
      .default("ferry-")
      .describe("prefix of the bucket's generated name"),
    expiryDays: z
      .number({ error: "must be a number" })
      .int({ error: "must be a whole number of days" })
      .min(1, { error: "must be between 1 and 3650 days" })
      .max(3650, { error: "must be between 1 and 3650 days" })
      .default(7)
      .describe("days after which the store itself deletes a run's objects"),
    clusterEndpoint: httpUrl("http://minio.storage:9000")
      .optional()
      .describe("the store's URL as pods reach it; required when endpoint is a loopback address"),
  })
  .superRefine((store, context) => {
    if (!store.useTls && store.caCert !== undefined) {
      context.addIssue({
        code: "custom",
        path: ["caCert"],
        message:
          "is not used while useTls is false (http://, no certificate); set useTls: true, or remove it",
      });
    }
    if (!store.useTls && store.insecureSkipVerify) {
      context.addIssue({
        code: "custom",
        path: ["insecureSkipVerify"],
        message:
          "is not used while useTls is false (http://, no certificate); set useTls: true, or remove it",
      });
    }
    if (store.insecureSkipVerify && store.caCert !== undefined) {
      context.addIssue({
        code: "custom",
        path: ["insecureSkipVerify"],
        message:
          "is true while caCert is set: a CA to check the store against, and no check; remove insecureSkipVerify so the certificate is checked against caCert",
      });
    }
  })
  .describe("the S3/MinIO store the dump travels through");
