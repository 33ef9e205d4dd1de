import type * as pulumi from "@pulumi/pulumi";
import type { TlsMode } from "../values";

/**
 * How a Job reaches a database and the files it reads its secrets from: the types both the Jobs'
 * specs (`jobs.ts`) and the data plane's environment (`dataPlane.ts`) use, below both.
 */

/** One secret file of a Job: a key of a Secret, named to the program by `<NAME>_FILE`. */
export interface SecretFile {
  readonly secretName: pulumi.Input<string>;
  /** The key in the Secret, which is also the file's name under the mount. */
  readonly key: string;
}

/** TLS settings as configured: the mode, and the CA's certificate (PEM) when one is given. */
export interface TlsSettings {
  readonly mode: TlsMode;
  readonly caCert?: string;
}

/** The file name of a configured CA certificate in a Secret, and so under the Jobs' mount. */
export const caCertKey = "ca.crt";

/** How the Jobs protect their sessions with a database, and the CA they check it against. */
export interface DatabaseTls {
  readonly mode: TlsMode;
  /** The CA's certificate, as a key of a Secret in the Jobs' namespace; none trusts the system's. */
  readonly caFile?: SecretFile;
}

/** How the destination's Jobs log in to the database, whichever runs it. */
export interface DatabaseAccess {
  /** Its address as pods reach it: the Service ferry runs, or the existing server's host. */
  readonly host: pulumi.Input<string>;
  readonly port: number;
  readonly user: string;
  /** The user's password, as a key of a Secret in the Jobs' namespace. */
  readonly passwordFile: SecretFile;
  readonly tls: DatabaseTls;
}
