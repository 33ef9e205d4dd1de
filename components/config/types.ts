import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import type { destinationSchema } from "./destination";
import type { migrationSchema } from "./migration";
import type { objectStoreSchema } from "./objectStore";
import type { sourceSchema } from "./source";
import type { releaseSchema, storageSchema } from "./storage";
import type { verificationSchema } from "./verification";

/** The validated configuration's types, one variant a mode. */

export type ParsedSource = z.infer<typeof sourceSchema>;
export type ParsedSshSource = Extract<ParsedSource, { mode: "ssh" }>;
/** An ssh source carries its key, so nothing downstream checks that it is there. */
export type SshSourceConfig = Omit<ParsedSshSource, "ssh"> & {
  readonly ssh: ParsedSshSource["ssh"] & { readonly privateKey: pulumi.Output<string> };
};
/** The source, one variant a mode. */
export type SourceConfig = Exclude<ParsedSource, { mode: "ssh" }> | SshSourceConfig;
export type ParsedDestination = z.infer<typeof destinationSchema>;
export type ParsedDatabase = ParsedDestination["database"];
/** The destination database, one variant a mode, each with the password it is reached with. */
export type DatabaseConfig =
  | (Extract<ParsedDatabase, { mode: "managed" }> & {
      readonly rootPassword: pulumi.Output<string>;
    })
  | (Extract<ParsedDatabase, { mode: "existing" }> & { readonly password: pulumi.Output<string> });
export type DestinationConfig = Omit<ParsedDestination, "database"> & {
  readonly database: DatabaseConfig;
};
export type ObjectStoreConfig = z.infer<typeof objectStoreSchema>;
export type ParsedStorage = z.infer<typeof storageSchema>;
export type ParsedMigration = z.infer<typeof migrationSchema>;
/** The storage ferry installs: its charts and, when it creates the class, the provisioner. */
export type InstalledStorageConfig = ParsedStorage & {
  readonly install: true;
  readonly crds: ReleaseConfig;
  readonly system: ReleaseConfig;
  readonly csi: ReleaseConfig;
};
/** A class someone else installed, used as it is. */
export interface ExistingStorageConfig {
  readonly install: false;
  readonly storageClass: { readonly name: string };
}
export type StorageConfig = InstalledStorageConfig | ExistingStorageConfig;
export type ReleaseConfig = z.infer<typeof releaseSchema>;
/** How the destination replicates from the source in live mode, with the account's password. */
export type LiveConfig = NonNullable<ParsedMigration["live"]> & {
  readonly replicationPassword: pulumi.Output<string>;
  /** migration.cutover: move the writes to the destination in this pulumi up. */
  readonly cutover: boolean;
};
/**
 * How the data crosses (config/method.ts): logical, or a graph that restores a physical copy on the
 * new volume, where the preflight confirms (physical) or chooses (auto) the method at run time.
 */
export type CopyMethod =
  | {
      readonly kind: "logical";
      readonly requested: "logical" | "auto";
      /** Why, in words for preview and the report. */
      readonly reason: string;
    }
  | {
      readonly kind: "physical";
      readonly requested: "physical" | "auto";
      /** The destination server's version ("mariadb 10.11"), which the source's must be. */
      readonly destinationVersion: string;
      readonly reason: string;
    };
/** The run's settings, writeBinlog and the method resolved; one variant a mode. */
export type MigrationConfig = Omit<
  ParsedMigration,
  "writeBinlog" | "mode" | "live" | "cutover" | "method"
> & {
  readonly writeBinlog: boolean;
  readonly method: CopyMethod;
} & ({ readonly mode: "snapshot" } | { readonly mode: "live"; readonly live: LiveConfig });
export type VerificationConfig = z.infer<typeof verificationSchema>;

export interface FerryConfig {
  readonly stack: string;
  readonly source: SourceConfig;
  readonly destination: DestinationConfig;
  readonly objectStore: ObjectStoreConfig;
  readonly storage: StorageConfig;
  readonly migration: MigrationConfig;
  readonly verification: VerificationConfig;
  readonly secrets: {
    readonly sourcePassword: pulumi.Output<string>;
    readonly objectStoreSecretKey: pulumi.Output<string>;
    readonly storageLicenseKey?: pulumi.Output<string>;
    readonly registryCredentials?: pulumi.Output<string>;
  };
  /** What the configuration leaves undone, for `pulumi up` to show as warnings. */
  readonly warnings: string[];
}
