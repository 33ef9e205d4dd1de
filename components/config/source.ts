import { z } from "zod";
import { mysqlPort } from "../values";
import {
  dnsLabel,
  dnsPodsSchema,
  dnsSubdomain,
  httpUrl,
  image,
  mysqlIdentifier,
  nonEmpty,
  otherModeOnly,
  podSelector,
  port,
  pullPolicy,
  sshPublicKey,
  systemDatabases,
  tlsSchema,
} from "./fields";

/** `ferry:source`: the source database and where its dump runs, one variant a mode. */

export const sourceFields = {
  host: nonEmpty.describe("the source server as the dump reaches it"),
  port: port.default(mysqlPort).describe("the source server's port"),
  user: nonEmpty.describe(
    "needs SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE, LOCK TABLES, RELOAD, PROCESS, REPLICATION CLIENT (EXECUTE: a view may call a stored function)",
  ),
  databases: z
    .array(mysqlIdentifier, { error: "must be a list of database names" })
    .min(1, { error: "must list at least one database" })
    .refine((names) => new Set(names).size === names.length, {
      error: "lists a database twice",
    })
    .refine((names) => names.every((n) => !systemDatabases.includes(n.toLowerCase())), {
      error: `must not include the system databases (${systemDatabases.join(", ")})`,
    })
    .describe("the databases to migrate (not the system ones)"),
  tls: tlsSchema.describe("TLS of the dump's sessions with the source"),
};

/** A numeric user or group id a pod may run as under the restricted Pod Security Standard. */
const nonRootId = (kind: "user" | "group") =>
  z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number" })
    .min(1, { error: `must be a ${kind} id other than root's (0)` });

/**
 * The claim holding a source server's data directory in its pod, for the physical method: the
 * copy Job mounts it read-only on the server's node, as the files' owner, where mariadb-backup
 * reads it beside the running server.
 */
export const dataVolumeSchema = z
  .strictObject(
    {
      claim: dnsSubdomain.describe(
        "the PersistentVolumeClaim of the server's data directory, in source.kubernetes.namespace",
      ),
      subPath: z
        .string({ error: "must be a string" })
        .regex(/^(?!\/)(?!.*(^|\/)\.\.(\/|$)).*$/, {
          error: "must be a relative path inside the claim, without ..",
        })
        .default("")
        .describe("where the data directory is inside the claim (empty: its root)"),
      mountPath: z
        .string({ error: "must be a string" })
        .regex(/^\/[^\s]*$/, { error: "must be an absolute path" })
        .default("/var/lib/mysql")
        .describe("the data directory as the server names it (its datadir)"),
      user: nonRootId("user")
        .default(999)
        .describe("the user id owning the data files (999 in the official MariaDB image)"),
      group: nonRootId("group")
        .optional()
        .describe("the group id of the data files (default: user)"),
      serverPodLabels: podSelector(
        "must name at least one label of the server's pod (an empty map would select every pod)",
      ).describe(
        "the server's pod's labels: the copy Job runs on that pod's node, where its claim is attached",
      ),
    },
    { error: "must be a map" },
  )
  .describe(
    "the server's data volume, for migration.method physical (the copy reads it beside the server)",
  );

export const kubernetesSourceSchema = z
  .strictObject(
    {
      kubeconfig: nonEmpty.optional().describe("kubeconfig file of the source cluster"),
      context: nonEmpty.optional().describe("its context"),
      namespace: dnsLabel.default("default").describe("where the dump Job runs"),
      toolsImage: image.describe("the image the dump Job runs"),
      imagePullPolicy: pullPolicy.describe("the dump Job's image pull policy"),
      objectStoreEndpoint: httpUrl("http://minio.storage:9000")
        .optional()
        .describe("the object store's URL as pods of the source cluster reach it"),
      dnsPods: dnsPodsSchema,
      dataVolume: dataVolumeSchema.optional(),
    },
    {
      error: (issue) =>
        issue.input === undefined
          ? "is required when mode is kubernetes (set toolsImage, and context or kubeconfig)"
          : "must be a map",
    },
  )
  .describe("where the dump Job runs (mode kubernetes)");

export const sshSourceSchema = z
  .strictObject(
    {
      host: nonEmpty.describe("the source host's SSH address"),
      port: port.default(22).describe("its SSH port"),
      user: nonEmpty.describe("the SSH user"),
      hostKey: sshPublicKey
        .optional()
        .describe(
          "the source host's SSH public host key, the only one accepted; required unless insecureIgnoreHostKey",
        ),
      insecureIgnoreHostKey: z
        .boolean({ error: "must be true or false" })
        .default(false)
        .describe("accept any host key (no hostKey): an explicit, warned opt-out"),
      objectStoreEndpoint: httpUrl("http://10.0.0.5:9000")
        .optional()
        .describe("the object store's URL as the source host reaches it"),
    },
    {
      error: (issue) =>
        issue.input === undefined
          ? "is required when mode is ssh (set host and user, and the secret ferry:sshPrivateKey)"
          : "must be a map",
    },
  )
  .describe("the source host (mode ssh); the key is the secret sshPrivateKey");

export const sourceModes = {
  kubernetes: "a Job in the source cluster",
  ssh: "a command on the source host over SSH",
  local: "a command on this machine",
} as const;

export const sourceSchema = z
  .discriminatedUnion(
    "mode",
    [
      z.strictObject({
        mode: z.literal("kubernetes").describe(sourceModes.kubernetes),
        ...sourceFields,
        kubernetes: kubernetesSourceSchema,
        ssh: otherModeOnly("ssh"),
      }),
      z.strictObject({
        mode: z.literal("ssh").describe(sourceModes.ssh),
        ...sourceFields,
        ssh: sshSourceSchema,
        kubernetes: otherModeOnly("kubernetes"),
      }),
      z.strictObject({
        mode: z.literal("local").describe(sourceModes.local),
        ...sourceFields,
        kubernetes: otherModeOnly("kubernetes"),
        ssh: otherModeOnly("ssh"),
      }),
    ],
    {
      error: (issue) =>
        issue.code === "invalid_union" ? "must be kubernetes, ssh or local" : undefined,
    },
  )
  .describe("the source database and where its dump runs");
