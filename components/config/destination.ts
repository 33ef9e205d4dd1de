import { z } from "zod";
import { tlsKeyTypes } from "../values";
import {
  cpuCores,
  dnsLabel,
  dnsPodsSchema,
  image,
  memorySize,
  nonEmpty,
  podSelector,
  port,
  pullPolicy,
  quantity,
  serviceNameLabel,
  tlsSchema,
} from "./fields";

/** `ferry:destination`: the destination cluster and the database ferry runs there or uses. */

export const databaseModes = {
  managed:
    "ferry runs MySQL on a volume of the new class (mysqlImage, storageSize, cpu, memory, serviceName)",
  existing:
    "a server the user already runs (their chart or operator); ferry imports and verifies there and never deletes it",
} as const;

/** The keys only a database ferry runs reads. */
export const managedDatabaseKeys = [
  "mysqlImage",
  "storageSize",
  "cpu",
  "memory",
  "serviceName",
  "allowFrom",
  "tls",
] as const;

export const databaseSchema = z
  .discriminatedUnion(
    "mode",
    [
      z.strictObject({ mode: z.literal("managed").describe(databaseModes.managed) }),
      z.strictObject({
        mode: z.literal("existing").describe(databaseModes.existing),
        host: nonEmpty.describe(
          "the server's address as the Jobs reach it, such as mariadb.apps.svc",
        ),
        port: port.default(3306).describe("its port"),
        user: nonEmpty.describe(
          "the user the import and verification log in as; its password is the secret destinationPassword",
        ),
        tls: tlsSchema.describe("TLS of the import's and verification's sessions with the server"),
      }),
    ],
    {
      error: (issue) =>
        issue.code === "invalid_union" ? "must be managed or existing" : undefined,
    },
  )
  .default({ mode: "managed" })
  .describe("the destination database: mode managed (the default) or existing");

export const destinationSchema = z
  .strictObject({
    database: databaseSchema,
    kubeconfig: nonEmpty.optional().describe("kubeconfig file of the destination cluster"),
    context: nonEmpty.optional().describe("its context"),
    namespace: dnsLabel
      .default("ferry")
      .describe(
        "namespace of the database and the Jobs; created by ferry and kept on destroy (not one the cluster owns, nor storage.namespace)",
      ),
    mysqlImage: image.default("mariadb:10.11").describe("the MySQL or MariaDB server image"),
    toolsImage: image.describe("the image the import, verify and cleanup Jobs run"),
    imagePullPolicy: pullPolicy.describe("the pull policy of both images"),
    storageSize: quantity.default("10Gi").describe("the data volume's size, at least 1Gi"),
    cpu: cpuCores.default("500m").describe("the database's CPU request"),
    memory: memorySize.default("1Gi").describe("the database's memory request and limit"),
    serviceName: serviceNameLabel
      .default("mysql")
      .describe("the database's Service, which applications connect to"),
    dnsPods: dnsPodsSchema,
    allowFrom: z
      .array(
        z
          .strictObject({
            namespace: dnsLabel.optional().describe("a namespace, by name"),
            podLabels: podSelector(
              "must name at least one label (an empty map selects every pod); to admit a whole namespace, give namespace alone",
            )
              .optional()
              .describe("pods with these labels (in namespace, or in ferry's own without one)"),
          })
          .refine((client) => client.namespace !== undefined || client.podLabels !== undefined, {
            error: "must give a namespace, podLabels or both",
          }),
        { error: "must be a list of {namespace, podLabels}" },
      )
      .default([])
      .describe(
        "who besides ferry's Jobs may connect to the database: the applications that will use it (NetworkPolicy)",
      ),
    tls: z
      .strictObject({
        keyType: z
          .enum(tlsKeyTypes, { error: `must be one of ${tlsKeyTypes.join(", ")}` })
          .default("ecdsa-p256")
          .describe("the key type of the server's CA and certificate"),
        validityDays: z
          .number({ error: "must be a number of days" })
          .int({ error: "must be a whole number of days" })
          .min(7, { error: "must be between 7 and 3650 days" })
          .max(3650, { error: "must be between 7 and 3650 days" })
          .default(365)
          .describe("their lifetime; each is renewed by the pulumi up after a third is left"),
      })
      .default({ keyType: "ecdsa-p256", validityDays: 365 })
      .describe(
        "the server's TLS certificate, made and kept in the destination namespace (clients trust ConfigMap <serviceName>-ca)",
      ),
  })
  .describe("the destination cluster and the database ferry runs there");
