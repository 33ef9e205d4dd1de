import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "./components/config";
import { Migration } from "./components/migration";

const config = loadConfig();
for (const warning of config.warnings) void pulumi.log.warn(warning);
const migration = new Migration("ferry", { config, now: new Date() });

export const report = migration.report;
export const bucket = migration.bucket;
export const storageClass = migration.storageClassName;
export const databaseEndpoint = migration.databaseEndpoint;
/** What applications trust to verify the database's TLS certificate (also ConfigMap <serviceName>-ca). */
export const databaseCaCertificate = migration.databaseCaCertificate;
