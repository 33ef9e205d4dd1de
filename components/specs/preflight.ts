import type * as pulumi from "@pulumi/pulumi";
import { sourceCaEnvironment, type StepEnvironment } from "./dataPlane";
import type { TlsSettings } from "./databaseAccess";

/** What the preflight checks the source against, from the destination's configuration. */
export interface PreflightSettings {
  /** "mariadb 10.11" or "mysql 8.4"; "" when ferry does not run the destination server. */
  readonly destinationFlavour: string;
  /** The data volume's size; 0 when ferry does not size it. */
  readonly storageBytes: number;
  readonly stripDefiners: boolean;
  /** Live mode: what the destination's replica will need of the source (preflight.LiveSource). */
  readonly live?: {
    /** The server id of the server that will replicate (replicaServerId). */
    readonly destinationServerId: number;
    /** How long the copy may take: the dump's, import's and verification's timeouts. */
    readonly copySeconds: number;
  };
}

/**
 * The server flavour and version an image reference names, as the preflight reads it:
 * `registry.example.com/db/mariadb:10.11.6-jammy` is "mariadb 10.11". "" for anything else (a
 * digest, an unfamiliar name): the collation check then has nothing to compare with.
 */
export function imageFlavour(image: string): string {
  const last = image.split("/").pop() ?? "";
  const [name, tag = ""] = last.split("@")[0].split(":");
  const version = /^(\d+)\.(\d+)/.exec(tag);
  if ((name !== "mariadb" && name !== "mysql") || !version) return "";
  return `${name} ${version[1]}.${version[2]}`;
}

/** preflight.sh's environment: the source's connection and what the destination can take. */
export function preflightEnvironment(
  source: {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: pulumi.Input<string>;
    readonly tls: TlsSettings;
    readonly databases: string[];
  },
  settings: PreflightSettings,
): StepEnvironment {
  const plain: Record<string, pulumi.Input<string>> = {
    SOURCE_HOST: source.host,
    SOURCE_PORT: String(source.port),
    SOURCE_USER: source.user,
    SOURCE_TLS: source.tls.mode,
    DATABASES: JSON.stringify(source.databases),
    DEST_FLAVOUR: settings.destinationFlavour,
    DEST_STORAGE_BYTES: String(settings.storageBytes),
    STRIP_DEFINERS: String(settings.stripDefiners),
    ...(settings.live
      ? {
          LIVE: "true",
          LIVE_DEST_SERVER_ID: String(settings.live.destinationServerId),
          LIVE_COPY_SECONDS: String(settings.live.copySeconds),
        }
      : {}),
  };
  return {
    plain,
    all: { ...plain, SOURCE_PASSWORD: source.password, ...sourceCaEnvironment(source.tls) },
  };
}
