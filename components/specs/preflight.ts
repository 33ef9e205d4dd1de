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
  /** ferry:migration.method as the graph asks it of the preflight: logical, physical or auto. */
  readonly method: "logical" | "physical" | "auto";
  /** Live mode: what the destination's replica will need of the source (preflight.LiveSource). */
  readonly live?: {
    /** The server id of the server that will replicate (replicaServerId). */
    readonly destinationServerId: number;
    /** How long the copy may take: the dump's, import's and verification's timeouts. */
    readonly copySeconds: number;
    /** The cutover closes the applications' sessions on the source, as the source user. */
    readonly closesSessions: boolean;
  };
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
    METHOD: settings.method,
    ...(settings.live
      ? {
          LIVE: "true",
          LIVE_DEST_SERVER_ID: String(settings.live.destinationServerId),
          LIVE_COPY_SECONDS: String(settings.live.copySeconds),
          ...(settings.live.closesSessions ? { LIVE_CLOSES_SESSIONS: "true" } : {}),
        }
      : {}),
  };
  return {
    plain,
    all: { ...plain, SOURCE_PASSWORD: source.password, ...sourceCaEnvironment(source.tls) },
  };
}

/** The copy method a run takes, as the preflight decided it (preflight.Decide). */
export interface MethodDecision {
  readonly method: "logical" | "physical";
  readonly reason: string;
}

/**
 * The decision a preflight printed: the last line of its stdout. Anything else is refused: the
 * dump, the restore and the import must agree on the method, so none of them guesses it.
 */
export function parseDecision(stdout: string): MethodDecision {
  const last = stdout.trim().split("\n").pop() ?? "";
  let decision: unknown;
  try {
    decision = JSON.parse(last);
  } catch {
    decision = undefined;
  }
  const { method, reason } = (decision ?? {}) as Record<string, unknown>;
  if ((method !== "logical" && method !== "physical") || typeof reason !== "string") {
    throw new Error(
      `the preflight printed no method decision (its last line: ${JSON.stringify(last.slice(0, 200))}); run it again with pulumi up --replace and the preflight's URN (pulumi stack --show-urns lists it)`,
    );
  }
  return { method, reason };
}
