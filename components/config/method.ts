import { imageFlavour } from "../values";
import type { CopyMethod, ParsedDestination, ParsedMigration, ParsedSource } from "./types";

/**
 * `ferry:migration.method`: how the data crosses. One rule, here: what makes a physical copy
 * impossible for a configuration, which refuses `physical` and turns `auto` to logical. What only
 * the source can tell (its version, its binary log, its data directory) the preflight decides at
 * run time (preflight.Method): the graph then holds both ways, and the one not taken does nothing.
 */

/** Why this configuration cannot be copied physically, each with what would allow it; [] when it can. */
export function physicalObstacles(
  source: ParsedSource,
  destination: ParsedDestination,
  migration: ParsedMigration,
): string[] {
  const obstacles: string[] = [];
  if (destination.database.mode === "existing") {
    obstacles.push(
      "the destination is a server ferry does not run (destination.database.mode existing): a physical copy becomes a server's data files, which only the server ferry starts on the new volume can take",
    );
  } else if (!imageFlavour(destination.mysqlImage).startsWith("mariadb ")) {
    obstacles.push(
      `destination.mysqlImage (${destination.mysqlImage}) names no MariaDB version (mariadb:<major>.<minor>...): the copy is restored and prepared by the destination's own version, which must be the source's`,
    );
  }
  if (source.mode === "kubernetes" && !source.kubernetes.dataVolume) {
    obstacles.push(
      "the source runs in a pod (source.mode kubernetes) and source.kubernetes.dataVolume does not name the claim of its data directory (claim, serverPodLabels, user), which the copy Job mounts read-only on the server's node",
    );
  } else if (source.mode === "kubernetes" && migration.method === "auto") {
    // A Job's output is not read back into the graph, so nothing could tell it which way the
    // preflight went: the graph must be built for the one method the Job may take.
    obstacles.push(
      "the source runs in a pod (source.mode kubernetes), whose preflight Job cannot choose the method for the graph; set migration.method to physical to copy the files of source.kubernetes.dataVolume",
    );
  }
  if (migration.overwrite) {
    obstacles.push(
      "migration.overwrite replaces the dump's databases in a server that holds others, while a physical copy becomes a whole data directory and never writes over one",
    );
  }
  if (migration.stripDefiners) {
    obstacles.push(
      "migration.stripDefiners rewrites the objects' definitions, which a copy of the data files carries as they are",
    );
  }
  if (migration.mode === "live") {
    obstacles.push(
      "live mode starts its replication after a logical import; a physical copy does not start one yet",
    );
  }
  return obstacles;
}

/** `physical` refused where it cannot be, naming the key and the way out. */
export function methodChecks(
  source: ParsedSource | undefined,
  destination: ParsedDestination | undefined,
  migration: ParsedMigration | undefined,
): string[] {
  if (!source || !destination || migration?.method !== "physical") return [];
  return physicalObstacles(source, destination, migration).map(
    (obstacle) =>
      `ferry:migration.method: is physical, but ${obstacle}; set migration.method to logical (or auto, which copies physically where it can)`,
  );
}

/** The method the graph is built for, and why (preview and the report say it). */
export function copyMethod(
  source: ParsedSource,
  destination: ParsedDestination,
  migration: ParsedMigration,
): CopyMethod {
  const requested = migration.method;
  if (requested === "logical") {
    return { kind: "logical", requested, reason: "migration.method is logical" };
  }
  const obstacles = physicalObstacles(source, destination, migration);
  if (obstacles.length > 0) {
    // methodChecks refuses physical with obstacles before the graph is built: a physical copy
    // asked for is never turned logical in silence.
    if (requested === "physical") {
      throw new Error(`migration.method is physical, but ${obstacles.join("; ")}`);
    }
    return { kind: "logical", requested, reason: `auto chose logical: ${obstacles.join("; ")}` };
  }
  const version = imageFlavour(destination.mysqlImage);
  return {
    kind: "physical",
    requested: requested === "auto" ? "auto" : "physical",
    destinationVersion: version,
    reason:
      requested === "auto"
        ? `auto: physical if the preflight finds the source ${version} with its binary log on and its data directory readable where the dump runs, logical otherwise (the preflight says which)`
        : `migration.method is physical: the preflight refuses a source that is not ${version}, has its binary log off or its data directory unreadable where the dump runs`,
  };
}
