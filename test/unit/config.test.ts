import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  configSchemas,
  FerryConfigError,
  secretKeys,
  undeclaredSecretKeys,
} from "../../components/config";
import { copyMethod } from "../../components/config/method";
import { destinationSchema } from "../../components/config/destination";
import { migrationSchema } from "../../components/config/migration";
import { sourceSchema } from "../../components/config/source";
import { testCertificates } from "../support/certificates";
import { configFrom, rawConfig, secretsWithout, secretValues } from "./harness";

type Raw = Record<string, any>;

function withChange(mode: "kubernetes" | "ssh" | "local", change: (raw: Raw) => void): Raw {
  const raw = structuredClone(rawConfig(mode)) as Raw;
  change(raw);
  return raw;
}

function problemsOf(raw: Raw, secrets: Record<string, string> = secretValues): string[] {
  try {
    configFrom(raw, secrets);
  } catch (error) {
    expect(error).toBeInstanceOf(FerryConfigError);
    return (error as FerryConfigError).problems;
  }
  throw new Error("the configuration was accepted");
}

describe("valid configuration", () => {
  it.each(["kubernetes", "ssh", "local"] as const)(
    "parses the %s mode and fills in defaults",
    (mode) => {
      const config = configFrom(rawConfig(mode));
      expect(config.source.mode).toBe(mode);
      expect(config.source.port).toBe(3306);
      expect(config.destination.namespace).toBe("ferry");
      expect(config.destination.mysqlImage).toBe("mariadb:10.11");
      expect(config.destination.storageSize).toBe("10Gi");
      expect(config.objectStore.bucketPrefix).toBe("ferry-");
      expect(config.objectStore.expiryDays).toBe(7);
      if (!config.storage.install) throw new Error("storage.install defaults to true");
      expect(config.storage.storageClass.reclaimPolicy).toBe("Retain");
      expect(config.storage.makeDefault).toBe(true);
      expect(config.migration).toEqual({
        mode: "snapshot",
        runId: "run-1",
        compression: "zstd",
        parallelism: 2,
        chunkMiB: 32,
        keepDump: false,
        overwrite: false,
        stripDefiners: false,
        writeBinlog: false,
        retainData: true,
        dumpTimeoutMinutes: 60,
        importTimeoutMinutes: 120,
        verifyTimeoutMinutes: 60,
        method: { kind: "logical", requested: "logical", reason: "migration.method is logical" },
      });
      expect(config.verification).toEqual({ enabled: true, readWriteTest: true });
    },
  );

  it.each(["kubernetes", "ssh", "local"] as const)(
    "parses live mode in %s mode: the replication settings with their password",
    (mode) => {
      const raw = withChange(mode, (r) => {
        r.migration.mode = "live";
        r.migration.live = { sourceHost: "10.90.0.2", sourcePort: 30306, replicationUser: "repl" };
        r.source.tls = { mode: "verify-identity", caCert: sampleCa };
      });
      const config = configFrom(raw, { ...secretValues, sourceReplicationPassword: "repl-pw" });
      if (config.migration.mode !== "live") throw new Error("not live");
      expect(config.migration.live).toMatchObject({
        sourceHost: "10.90.0.2",
        sourcePort: 30306,
        replicationUser: "repl",
        catchUpCheckSeconds: 30,
        cutover: false,
      });
      expect(pulumi.Output.isInstance(config.migration.live.replicationPassword)).toBe(true);
    },
  );

  it.each(["ssh", "local"] as const)(
    "takes migration.method physical and auto in %s mode: the graph restores, the preflight confirms or chooses",
    (mode) => {
      const withMethod = (method: string) =>
        configFrom(withChange(mode, (r) => (r.migration.method = method))).migration.method;
      expect(withMethod("physical")).toEqual({
        kind: "physical",
        requested: "physical",
        destinationVersion: "mariadb 10.11",
        reason:
          "migration.method is physical: the preflight refuses a source that is not mariadb 10.11, has its binary log off or its data directory unreadable where the dump runs",
      });
      expect(withMethod("auto")).toMatchObject({
        kind: "physical",
        requested: "auto",
        destinationVersion: "mariadb 10.11",
        reason: expect.stringMatching(
          /^auto: physical if the preflight finds the source mariadb 10\.11 /,
        ),
      });
    },
  );

  it("refuses migration.method physical where no physical copy can be made, naming why and the way out; auto copies logically there, saying why", () => {
    const physical = (mode: "kubernetes" | "ssh" | "local", change: (raw: Raw) => void) =>
      withChange(mode, (r) => {
        r.migration.method = "physical";
        change(r);
      });
    const wayOut =
      "; set migration.method to logical (or auto, which copies physically where it can)";
    const inPod =
      "the source runs in a pod (source.mode kubernetes) and source.kubernetes.dataVolume does not name the claim of its data directory (claim, serverPodLabels, user), which the copy Job mounts read-only on the server's node";
    expect(problemsOf(physical("kubernetes", () => {}))).toEqual([
      `ferry:migration.method: is physical, but ${inPod}${wayOut}`,
    ]);
    const notMariaDb =
      "destination.mysqlImage (mysql:8.4) names no MariaDB version (mariadb:<major>.<minor>...): the copy is restored and prepared by the destination's own version, which must be the source's";
    expect(problemsOf(physical("local", (r) => (r.destination.mysqlImage = "mysql:8.4")))).toEqual([
      `ferry:migration.method: is physical, but ${notMariaDb}${wayOut}`,
    ]);
    expect(
      problemsOf(
        physical("ssh", (r) => {
          r.migration.mode = "live";
          r.migration.live = { sourceHost: "10.90.0.2", replicationUser: "repl" };
          r.source.tls = { mode: "verify-identity", caCert: sampleCa };
        }),
        { ...secretValues, sourceReplicationPassword: "r" },
      ),
    ).toEqual([
      `ferry:migration.method: is physical, but live mode starts its replication after a logical import; a physical copy does not start one yet${wayOut}`,
    ]);
    expect(
      problemsOf(
        physical("local", (r) => {
          r.destination.database = { mode: "existing", host: "db.apps.svc", user: "u" };
          delete r.destination.mysqlImage;
        }),
        { ...secretsWithout("destinationRootPassword"), destinationPassword: "p" },
      ),
    ).toEqual([
      `ferry:migration.method: is physical, but the destination is a server ferry does not run (destination.database.mode existing): a physical copy becomes a server's data files, which only the server ferry starts on the new volume can take${wayOut}`,
    ]);
    for (const [key, says] of [
      [
        "overwrite",
        "migration.overwrite replaces the dump's databases in a server that holds others, while a physical copy becomes a whole data directory and never writes over one",
      ],
      [
        "stripDefiners",
        "migration.stripDefiners rewrites the objects' definitions, which a copy of the data files carries as they are",
      ],
    ]) {
      expect(problemsOf(physical("local", (r) => (r.migration[key] = true)))).toEqual([
        `ferry:migration.method: is physical, but ${says}${wayOut}`,
      ]);
      expect(
        configFrom(
          withChange("ssh", (r) => {
            r.migration.method = "auto";
            r.migration[key] = true;
          }),
        ).migration.method,
      ).toEqual({ kind: "logical", requested: "auto", reason: `auto chose logical: ${says}` });
    }
    // Two obstacles at once, each said.
    expect(
      problemsOf(physical("kubernetes", (r) => (r.destination.mysqlImage = "mysql:8.4"))),
    ).toHaveLength(2);
    expect(
      configFrom(
        withChange("kubernetes", (r) => {
          r.migration.method = "auto";
          r.destination.mysqlImage = "mysql:8.4";
        }),
      ).migration.method.reason,
    ).toBe(`auto chose logical: ${notMariaDb}; ${inPod}`);
    // A section that does not parse is said as such, and physical is not judged without it.
    expect(problemsOf(physical("local", (r) => (r.source.port = "x")))).toEqual([
      expect.stringMatching(/^ferry:source\.port: /),
    ]);
    expect(problemsOf(physical("local", (r) => (r.destination.storageSize = 7)))).toEqual([
      expect.stringMatching(/^ferry:destination\.storageSize: /),
    ]);
    expect(
      configFrom(withChange("kubernetes", (r) => (r.migration.method = "auto"))).migration.method,
    ).toEqual({ kind: "logical", requested: "auto", reason: `auto chose logical: ${inPod}` });
    // A source in a pod with its data volume named: physical is taken, auto is not (its Job's
    // decision cannot build the graph), and the volume's settings are checked.
    const withVolume = (method: string, volume: Record<string, unknown>) =>
      withChange("kubernetes", (r) => {
        r.migration.method = method;
        r.source.kubernetes.dataVolume = volume;
      });
    const volume = { claim: "data-mariadb-0", serverPodLabels: { app: "mariadb" } };
    expect(configFrom(withVolume("physical", volume)).migration.method).toMatchObject({
      kind: "physical",
      requested: "physical",
    });
    expect(configFrom(withVolume("physical", volume)).source).toMatchObject({
      kubernetes: {
        dataVolume: { ...volume, subPath: "", mountPath: "/var/lib/mysql", user: 999 },
      },
    });
    expect(configFrom(withVolume("auto", volume)).migration.method).toEqual({
      kind: "logical",
      requested: "auto",
      reason:
        "auto chose logical: the source runs in a pod (source.mode kubernetes), whose preflight Job cannot choose the method for the graph; set migration.method to physical to copy the files of source.kubernetes.dataVolume",
    });
    for (const [change, says] of [
      [
        { claim: "Data_0" },
        /^ferry:source\.kubernetes\.dataVolume\.claim: must be a DNS subdomain/,
      ],
      [
        { serverPodLabels: {} },
        /^ferry:source\.kubernetes\.dataVolume\.serverPodLabels: must name at least one label/,
      ],
      [
        { user: 0 },
        /^ferry:source\.kubernetes\.dataVolume\.user: must be a user id other than root's/,
      ],
      [{ group: 1.5 }, /^ferry:source\.kubernetes\.dataVolume\.group: must be a whole number/],
      [
        { subPath: "../other" },
        /^ferry:source\.kubernetes\.dataVolume\.subPath: must be a relative path/,
      ],
      [
        { subPath: "/abs" },
        /^ferry:source\.kubernetes\.dataVolume\.subPath: must be a relative path/,
      ],
      [
        { mountPath: "mysql" },
        /^ferry:source\.kubernetes\.dataVolume\.mountPath: must be an absolute path/,
      ],
    ] as const) {
      expect(problemsOf(withVolume("physical", { ...volume, ...change }))).toEqual([
        expect.stringMatching(says),
      ]);
    }
    expect(problemsOf(withVolume("physical", { claim: "data" }))).toEqual([
      expect.stringMatching(/^ferry:source\.kubernetes\.dataVolume\.serverPodLabels: /),
    ]);
    // Past the checks, a physical copy asked for where it cannot be is never made logical in
    // silence: the graph's method refuses it too.
    const raw = withChange("local", (r) => {
      r.migration.method = "physical";
      r.migration.overwrite = true;
    });
    expect(() =>
      copyMethod(
        sourceSchema.parse(raw.source),
        destinationSchema.parse(raw.destination),
        migrationSchema.parse(raw.migration),
      ),
    ).toThrow(/^migration\.method is physical, but migration\.overwrite replaces/);
    expect(problemsOf(withChange("local", (r) => (r.migration.method = "fast")))).toEqual([
      "ferry:migration.method: must be logical, physical or auto",
    ]);
  });

  it("refuses live mode without what it needs, and its settings without it", () => {
    const live = (change: (raw: Raw) => void) =>
      withChange("local", (r) => {
        r.migration.mode = "live";
        r.migration.live = { sourceHost: "10.90.0.2", replicationUser: "repl" };
        r.source.tls = { mode: "verify-identity", caCert: sampleCa };
        change(r);
      });
    const withPassword = { ...secretValues, sourceReplicationPassword: "repl-pw" };
    expect(
      problemsOf(
        live(() => {}),
        secretValues,
      ),
    ).toEqual([
      "ferry:sourceReplicationPassword: is required (the password of migration.live.replicationUser on the source (only when migration.mode is live)); set it with: pulumi config set --secret sourceReplicationPassword <value>",
    ]);
    expect(
      problemsOf(
        live((r) => delete r.migration.live),
        withPassword,
      ),
    ).toEqual([
      "ferry:migration.live: is required when migration.mode is live (set sourceHost and replicationUser)",
    ]);
    expect(
      problemsOf(
        live((r) => (r.migration.live.sourceHost = "LOCALHOST")),
        withPassword,
      ),
    ).toEqual([
      "ferry:migration.live.sourceHost: is LOCALHOST, this machine's loopback, which the destination's pods cannot reach; give the source's address as they reach it",
    ]);
    expect(
      problemsOf(
        live((r) => (r.source.tls = { mode: "required" })),
        withPassword,
      ),
    ).toEqual([
      "ferry:source.tls: live mode replicates over verified TLS only; set source.tls.mode to verify-identity (or verify-ca) and source.tls.caCert to the CA that signed the source's certificate",
    ]);
    expect(
      problemsOf(
        live(
          (r) => (r.destination.database = { mode: "existing", host: "db.apps.svc", user: "u" }),
        ),
        {
          ...secretsWithout("destinationRootPassword"),
          destinationPassword: "p",
          sourceReplicationPassword: "r",
        },
      ),
    ).toContain(
      "ferry:migration.mode: live needs destination.database.mode managed: ferry mounts the source's CA into the server it runs and gives it a server id of its own, which it cannot do for an existing server",
    );
    expect(
      problemsOf(
        withChange("local", (r) => (r.migration.live = { sourceHost: "h", replicationUser: "u" })),
        withPassword,
      ),
    ).toEqual([
      "ferry:sourceReplicationPassword: is only read when migration.mode is live; remove it with: pulumi config rm sourceReplicationPassword",
      "ferry:migration.live: is set while migration.mode is snapshot; set migration.mode to live, or remove migration.live",
    ]);
    expect(problemsOf(withChange("local", (r) => (r.migration.cutover = true)))).toEqual([
      "ferry:migration.cutover: is true while migration.mode is snapshot: a cutover moves the writes from a source the destination replicates, which only live mode does",
    ]);
    expect(problemsOf(withChange("local", (r) => (r.migration.mode = "online")))).toEqual([
      "ferry:migration.mode: must be snapshot or live",
    ]);
  });

  it("parses live mode's applications' Service, and refuses one that cannot list the source or takes the server's own name", () => {
    const live = (service: unknown, sourceHost = "10.90.0.2") =>
      withChange("local", (r) => {
        r.migration.mode = "live";
        r.migration.live = { sourceHost, replicationUser: "repl", applicationService: service };
        r.source.tls = { mode: "verify-identity", caCert: sampleCa };
      });
    const withPassword = { ...secretValues, sourceReplicationPassword: "repl-pw" };
    const config = configFrom(live({ name: "ledger-db" }), withPassword);
    if (config.migration.mode !== "live") throw new Error("not live");
    expect(config.migration.live.applicationService).toEqual({ name: "ledger-db", port: 3306 });
    const v6 = configFrom(live({ name: "ledger-db", port: 6033 }, "fd00::2"), withPassword);
    if (v6.migration.mode !== "live") throw new Error("not live");
    expect(v6.migration.live.applicationService).toEqual({ name: "ledger-db", port: 6033 });
    expect(problemsOf(live({ name: "ledger-db" }, "source.example.com"), withPassword)).toEqual([
      "ferry:migration.live.applicationService: needs migration.live.sourceHost to be an IP address (an EndpointSlice lists addresses, not names), not source.example.com; set sourceHost to the address the name resolves to, or remove applicationService",
    ]);
    expect(problemsOf(live({ name: "mysql" }), withPassword)).toEqual([
      "ferry:migration.live.applicationService.name: is mysql, the name of the destination server's own Service (destination.serviceName); give the applications' Service another name",
    ]);
    expect(problemsOf(live({ name: "Ledger_DB" }), withPassword)).toEqual([
      expect.stringMatching(
        /^ferry:migration\.live\.applicationService\.name: must be a DNS-1035 label/,
      ),
    ]);
    expect(problemsOf(live({ name: "ledger-db", namespace: "shop" }), withPassword)).toEqual([
      expect.stringMatching(/^ferry:migration\.live\.applicationService: .*namespace/),
    ]);
    expect(problemsOf(live("ledger-db"), withPassword)).toEqual([
      "ferry:migration.live.applicationService: must be a map (name, port)",
    ]);
    // A section that does not parse is not taken for another mode: a secret it would read is not
    // called unread.
    const existingWithTypo = withChange("local", (r) => {
      r.destination.database = { mode: "existing", host: "db.apps.svc", user: "u", port: "x" };
    });
    expect(
      problemsOf(existingWithTypo, {
        ...secretsWithout("destinationRootPassword"),
        destinationPassword: "p",
      }).filter((p) => p.startsWith("ferry:destinationPassword")),
    ).toEqual([]);
  });

  it("names each cluster's DNS pods, kube-system's kube-dns by default, and refuses a selector of every pod", () => {
    const config = configFrom(rawConfig("kubernetes"));
    const kubeDns = { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } };
    expect(config.destination.dnsPods).toEqual(kubeDns);
    expect(config.source.mode === "kubernetes" && config.source.kubernetes.dnsPods).toEqual(
      kubeDns,
    );
    const raw = withChange("kubernetes", (r) => {
      r.destination.dnsPods = { podLabels: {} };
      r.source.kubernetes.dnsPods = { namespace: "Not A Label", podLabels: { app: "dns" } };
    });
    expect(problemsOf(raw).join("\n")).toMatch(
      /ferry:destination\.dnsPods\.podLabels: must name at least one label \(an empty map would select every pod\)/,
    );
    expect(problemsOf(raw).join("\n")).toMatch(/ferry:source\.kubernetes\.dnsPods\.namespace: /);
  });

  it("accepts database names MySQL accepts: dashes, spaces, quotes, glob characters, CJK", () => {
    const raw = structuredClone(rawConfig("local")) as Raw;
    const names = ["my-app", "shop_2", "my shop", `it's "q"*?[x]`, "店舗", "x".repeat(64)];
    raw.source.databases = names;
    expect(configFrom(raw).source.databases).toEqual(names);
  });

  it("keeps every secret secret", async () => {
    const config = configFrom(rawConfig("ssh"));
    for (const value of Object.values(config.secrets).filter((v) => v !== undefined)) {
      expect(await pulumi.isSecret(value)).toBe(true);
    }
  });

  it("accepts any SSH host key only when told to, and warns", () => {
    const pinned = configFrom(rawConfig("ssh"));
    expect(pinned.warnings).toEqual([]);
    const raw = structuredClone(rawConfig("ssh")) as Raw;
    delete raw.source.ssh.hostKey;
    raw.source.ssh.insecureIgnoreHostKey = true;
    expect(configFrom(raw).warnings).toEqual([
      "ferry:source.ssh.insecureIgnoreHostKey is true: the dump's SSH connection accepts any host key, so a host that takes the source's address gets the source password and the bucket key",
    ]);
  });

  it("verifies TLS to the source by default, and warns of anything weaker at every run", () => {
    expect(configFrom(rawConfig("local")).source.tls).toEqual({ mode: "verify-identity" });
    const weaker = (mode: string) => {
      const raw = structuredClone(rawConfig("local")) as Raw;
      raw.source.tls = { mode };
      return configFrom(raw).warnings;
    };
    expect(weaker("disabled")).toEqual([
      "ferry:source.tls.mode is disabled: the source password and every row cross the network in plaintext",
    ]);
    expect(weaker("required")).toEqual([
      "ferry:source.tls.mode is required: the sessions are encrypted but the server's certificate is not checked, so a server that takes its address gets the source password and every row",
    ]);
  });

  it("checks the store's certificate against its CA, and warns of skipping the check at every run", () => {
    const raw = withChange("local", (r) => {
      r.objectStore.useTls = true;
      r.objectStore.caCert = sampleCa;
    });
    const config = configFrom(raw, secretValues);
    expect(config.objectStore.caCert).toBe(sampleCa);
    expect(config.warnings).toEqual([]);
    const unchecked = withChange("local", (r) => {
      r.objectStore.useTls = true;
      r.objectStore.insecureSkipVerify = true;
    });
    expect(configFrom(unchecked, secretValues).warnings).toEqual([
      "ferry:objectStore.insecureSkipVerify is true: no client checks the object store's certificate, so a server that takes its address receives every signed request and the sealed dump, and can answer in the store's place",
    ]);
  });

  it("takes an existing destination database with its user's password, and refuses what only a managed one reads", () => {
    const others = secretsWithout("destinationRootPassword");
    const raw = structuredClone(rawConfig("local")) as Raw;
    raw.destination.database = { mode: "existing", host: "mariadb.apps.svc", user: "ferry" };
    const config = configFrom(raw, { ...others, destinationPassword: "p" });
    expect(config.destination.database).toMatchObject({
      mode: "existing",
      port: 3306,
      user: "ferry",
    });
    expect(problemsOf(raw, others)).toEqual([
      "ferry:destinationPassword: is required (the password of destination.database.user (only when destination.database.mode is existing)); set it with: pulumi config set --secret destinationPassword <value>",
    ]);
    expect(problemsOf(raw, { ...secretValues, destinationPassword: "p" })).toEqual([
      "ferry:destinationRootPassword: is only read when destination.database.mode is managed; remove it with: pulumi config rm destinationRootPassword",
    ]);
    raw.destination.mysqlImage = "mariadb:11.4";
    raw.destination.storageSize = "5Gi";
    expect(problemsOf(raw, { ...others, destinationPassword: "p" })).toEqual([
      "ferry:destination.mysqlImage: is only read when destination.database.mode is managed (ferry does not run the existing server); remove it",
      "ferry:destination.storageSize: is only read when destination.database.mode is managed (ferry does not run the existing server); remove it",
    ]);
    const managed = structuredClone(rawConfig("local")) as Raw;
    expect(problemsOf(managed, { ...secretValues, destinationPassword: "p" })).toEqual([
      "ferry:destinationPassword: is only read when destination.database.mode is existing; remove it with: pulumi config rm destinationPassword",
    ]);
    const withoutRoot = secretsWithout("destinationRootPassword");
    expect(problemsOf(managed, withoutRoot)).toEqual([
      "ferry:destinationRootPassword: is required (the root password of the MySQL ferry runs (only when destination.database.mode is managed)); set it with: pulumi config set --secret destinationRootPassword <value>",
    ]);
  });

  it("refuses ferry's namespace where the existing server runs, however its address names it", () => {
    const secrets = { ...secretsWithout("destinationRootPassword"), destinationPassword: "p" };
    for (const host of ["mariadb.apps", "mariadb.apps.svc", "MariaDB.Apps.svc.cluster.local."]) {
      const raw = withChange("local", (r) => {
        r.destination.database = { mode: "existing", host, user: "ferry" };
        r.destination.namespace = "apps";
      });
      expect(problemsOf(raw, secrets)).toEqual([
        `ferry:destination.namespace: is "apps", the namespace of the existing server ${host}; ferry's NetworkPolicies there would cut the server off from its applications: give ferry a namespace of its own`,
      ]);
      raw.destination.namespace = "ferry";
      expect(configFrom(raw, secrets).destination.namespace).toBe("ferry");
    }
  });

  it("treats an empty optional secret as not set", () => {
    const config = configFrom(rawConfig("local"), {
      ...secretValues,
      storageLicenseKey: "",
      sshPrivateKey: "",
    });
    expect(config.secrets.storageLicenseKey).toBeUndefined();
    expect(config.source.mode).toBe("local");
  });
});

/** A CA certificate as a user would paste it. */
const sampleCa = testCertificates(["db"]).caCertificate;

const badConfigs: [string, Raw, string][] = [
  [
    "no databases",
    withChange("local", (r) => (r.source.databases = [])),
    "ferry:source.databases: must list at least one database",
  ],
  [
    "databases not a list",
    withChange("local", (r) => (r.source.databases = "shop")),
    "ferry:source.databases: must be a list of database names",
  ],
  [
    "a database twice",
    withChange("local", (r) => (r.source.databases = ["shop", "shop"])),
    "ferry:source.databases: lists a database twice",
  ],
  [
    "a system database",
    withChange("local", (r) => (r.source.databases = ["mysql"])),
    "ferry:source.databases: must not include the system databases (mysql, information_schema, performance_schema, sys, ferry)",
  ],
  [
    "a database name ending in a space",
    withChange("local", (r) => (r.source.databases = ["my shop "])),
    "ferry:source.databases.0: must not end with a space (MySQL does not allow it in a database name)",
  ],
  [
    "a database name of 65 characters",
    withChange("local", (r) => (r.source.databases = ["x".repeat(65)])),
    "ferry:source.databases.0: must be a database name of 1 to 64 characters",
  ],
  [
    "a database name with an emoji",
    withChange("local", (r) => (r.source.databases = ["shop🛒"])),
    "ferry:source.databases.0: must not contain characters beyond U+FFFF such as emoji (MySQL and MariaDB store names in 3-byte UTF-8)",
  ],
  [
    "unknown mode",
    withChange("local", (r) => (r.source.mode = "ftp")),
    "ferry:source.mode: must be kubernetes, ssh or local",
  ],
  ["no host", withChange("local", (r) => delete r.source.host), "ferry:source.host: is required"],
  ["no mode", withChange("local", (r) => delete r.source.mode), "ferry:source.mode: is required"],
  [
    "kubernetes settings in local mode",
    withChange("local", (r) => (r.source.kubernetes = { toolsImage: "tools:1" })),
    "ferry:source.kubernetes: is only read when mode is kubernetes; remove it, or set mode: kubernetes",
  ],
  [
    "ssh settings in kubernetes mode",
    withChange("kubernetes", (r) => (r.source.ssh = { host: "db", user: "u" })),
    "ferry:source.ssh: is only read when mode is ssh; remove it, or set mode: ssh",
  ],
  [
    "the new class as the previous default",
    withChange("local", (r) => (r.storage.previousDefaultClass = r.storage.storageClass.name)),
    'ferry:storage.previousDefaultClass: names the new class "neuronsan" itself; set it to the class that is the default today, or leave it out',
  ],

  [
    "empty user",
    withChange("local", (r) => (r.source.user = "")),
    "ferry:source.user: must not be empty",
  ],
  [
    "port as text",
    withChange("local", (r) => (r.source.port = "3306")),
    "ferry:source.port: must be a number",
  ],
  [
    "port out of range",
    withChange("local", (r) => (r.source.port = 70000)),
    "ferry:source.port: must be a port between 1 and 65535",
  ],
  [
    "port not whole",
    withChange("local", (r) => (r.source.port = 33.5)),
    "ferry:source.port: must be a whole number",
  ],
  [
    "misspelt source key",
    withChange("local", (r) => (r.source.databse = ["x"])),
    'ferry:source: unknown key "databse"; check the spelling against docs/configuration.md',
  ],
  [
    "kubernetes mode without its section",
    withChange("kubernetes", (r) => delete r.source.kubernetes),
    "ferry:source.kubernetes: is required when mode is kubernetes (set toolsImage, and context or kubeconfig)",
  ],
  [
    "ssh mode without its section",
    withChange("ssh", (r) => delete r.source.ssh),
    "ferry:source.ssh: is required when mode is ssh (set host and user, and the secret ferry:sshPrivateKey)",
  ],
  [
    "kubernetes namespace not a label",
    withChange("kubernetes", (r) => (r.source.kubernetes.namespace = "Legacy_NS")),
    "ferry:source.kubernetes.namespace: must be a DNS label: lowercase letters, digits and inner dashes, at most 63 characters",
  ],
  [
    "kubernetes without tools image",
    withChange("kubernetes", (r) => delete r.source.kubernetes.toolsImage),
    "ferry:source.kubernetes.toolsImage: is required",
  ],
  [
    "bad pull policy",
    withChange("kubernetes", (r) => (r.source.kubernetes.imagePullPolicy = "Sometimes")),
    "ferry:source.kubernetes.imagePullPolicy: must be Always, IfNotPresent or Never",
  ],
  [
    "ssh object store not a URL",
    withChange("ssh", (r) => (r.source.ssh.objectStoreEndpoint = "minio:9000")),
    "ferry:source.ssh.objectStoreEndpoint: must be an http or https URL such as http://10.0.0.5:9000",
  ],
  [
    "source TLS mode MySQL does not have",
    withChange("local", (r) => (r.source.tls = { mode: "preferred" })),
    "ferry:source.tls.mode: must be one of disabled, required, verify-ca, verify-identity",
  ],
  [
    "source verify-ca without the CA",
    withChange("local", (r) => (r.source.tls = { mode: "verify-ca" })),
    "ferry:source.tls.caCert: is required when mode is verify-ca (the MySQL and MariaDB clients check a chain only against a CA they are given)",
  ],
  [
    "source CA that is not a certificate",
    withChange(
      "local",
      (r) =>
        (r.source.tls = { caCert: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" }),
    ),
    "ferry:source.tls.caCert: must be the CA's certificate in PEM (-----BEGIN CERTIFICATE----- ...)",
  ],
  [
    "source CA given while TLS is disabled",
    withChange("local", (r) => (r.source.tls = { mode: "disabled", caCert: sampleCa })),
    "ferry:source.tls.caCert: is not used when mode is disabled, which checks no certificate; remove it, or set mode: verify-identity",
  ],
  [
    "existing destination CA given while TLS is only required",
    withChange("local", (r) => {
      r.destination.database = {
        mode: "existing",
        host: "db.apps",
        user: "u",
        tls: { mode: "required", caCert: sampleCa },
      };
    }),
    "ferry:destination.database.tls.caCert: is not used when mode is required, which checks no certificate; remove it, or set mode: verify-identity",
  ],
  [
    "ssh without a host key",
    withChange("ssh", (r) => delete r.source.ssh.hostKey),
    "ferry:source.ssh.hostKey: is required so the dump's SSH connection reaches the source host and no other: set it to the host's public key (ssh-keyscan -t ed25519 HOST prints it after the host name), or set source.ssh.insecureIgnoreHostKey to true to accept any key",
  ],
  [
    "ssh host key that is a fingerprint, not a key",
    withChange(
      "ssh",
      (r) => (r.source.ssh.hostKey = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"),
    ),
    "ferry:source.ssh.hostKey: must be the host's public key in one line, such as ssh-ed25519 AAAA... (ssh-keyscan -t ed25519 HOST prints it after the host name)",
  ],
  [
    "ssh host key and the opt-out both",
    withChange("ssh", (r) => (r.source.ssh.insecureIgnoreHostKey = true)),
    "ferry:source.ssh.insecureIgnoreHostKey: is true while source.ssh.hostKey is set; remove one of them",
  ],
  [
    "destination tools image missing",
    withChange("local", (r) => delete r.destination.toolsImage),
    "ferry:destination.toolsImage: is required",
  ],
  [
    "image with a space",
    withChange("local", (r) => (r.destination.mysqlImage = "mariadb 10")),
    "ferry:destination.mysqlImage: must be an image reference without spaces",
  ],
  [
    "storage size not a quantity",
    withChange("local", (r) => (r.destination.storageSize = "ten gigs")),
    "ferry:destination.storageSize: must be a Kubernetes quantity such as 500m, 1Gi or 20Gi",
  ],
  [
    "memory not a quantity",
    withChange("local", (r) => (r.destination.memory = "1GB")),
    "ferry:destination.memory: must be a memory size of at least 256Mi in whole bytes, such as 512Mi or 2Gi (the server needs that much to start)",
  ],
  [
    "destination namespace not a label",
    withChange("local", (r) => (r.destination.namespace = "-ferry")),
    "ferry:destination.namespace: must be a DNS label: lowercase letters, digits and inner dashes, at most 63 characters",
  ],
  [
    "object store endpoint with scheme",
    withChange("local", (r) => (r.objectStore.endpoint = "http://minio:9000")),
    "ferry:objectStore.endpoint: must be host:port as the operator's machine reaches it, such as 127.0.0.1:9000 or [fd00::5]:9000, with a port between 1 and 65535",
  ],
  [
    "object store endpoint with a space and a port past 65535",
    withChange("local", (r) => (r.objectStore.endpoint = "a b:99999")),
    "ferry:objectStore.endpoint: must be host:port as the operator's machine reaches it, such as 127.0.0.1:9000 or [fd00::5]:9000, with a port between 1 and 65535",
  ],
  [
    "object store endpoint on port 0",
    withChange("local", (r) => (r.objectStore.endpoint = "minio:0")),
    "ferry:objectStore.endpoint: must be host:port as the operator's machine reaches it, such as 127.0.0.1:9000 or [fd00::5]:9000, with a port between 1 and 65535",
  ],
  [
    "object store endpoint an IPv6 address without brackets",
    withChange("local", (r) => (r.objectStore.endpoint = "fd00::5:9000")),
    "ferry:objectStore.endpoint: must be host:port as the operator's machine reaches it, such as 127.0.0.1:9000 or [fd00::5]:9000, with a port between 1 and 65535",
  ],
  [
    "object store endpoint without a port",
    withChange("local", (r) => (r.objectStore.endpoint = "minio.example.internal")),
    "ferry:objectStore.endpoint: must be host:port as the operator's machine reaches it, such as 127.0.0.1:9000 or [fd00::5]:9000, with a port between 1 and 65535",
  ],
  [
    "IPv6 loopback endpoint without cluster endpoint",
    withChange("local", (r) => (r.objectStore.endpoint = "[::1]:9000")),
    "ferry:objectStore.clusterEndpoint: is required when objectStore.endpoint is a loopback address: pods cannot reach this machine's loopback; give the URL pods use, such as http://10.0.0.1:9000",
  ],
  [
    "useTls with an http cluster endpoint",
    withChange("local", (r) => {
      r.objectStore.useTls = true;
      r.objectStore.clusterEndpoint = "http://minio.storage:9000";
    }),
    "ferry:objectStore.clusterEndpoint: is http:// while objectStore.useTls is true; one store speaks one protocol: use https://, or change objectStore.useTls",
  ],
  [
    "an https cluster endpoint without useTls",
    withChange("local", (r) => (r.objectStore.clusterEndpoint = "https://minio.storage:9000")),
    "ferry:objectStore.clusterEndpoint: is https:// while objectStore.useTls is false; one store speaks one protocol: use http://, or change objectStore.useTls",
  ],
  [
    "useTls with an http endpoint for the SSH host",
    withChange("ssh", (r) => (r.objectStore.useTls = true)),
    "ferry:source.ssh.objectStoreEndpoint: is http:// while objectStore.useTls is true; one store speaks one protocol: use https://, or change objectStore.useTls",
  ],
  [
    "an object store CA while useTls is false",
    withChange("local", (r) => (r.objectStore.caCert = sampleCa)),
    "ferry:objectStore.caCert: is not used while useTls is false (http://, no certificate); set useTls: true, or remove it",
  ],
  [
    "an object store CA that is not PEM",
    withChange("local", (r) => {
      r.objectStore.useTls = true;
      r.objectStore.caCert = "MIIB...";
    }),
    "ferry:objectStore.caCert: must be the CA's certificate in PEM (-----BEGIN CERTIFICATE----- ...)",
  ],
  [
    "skipping the store's certificate check without TLS",
    withChange("local", (r) => (r.objectStore.insecureSkipVerify = true)),
    "ferry:objectStore.insecureSkipVerify: is not used while useTls is false (http://, no certificate); set useTls: true, or remove it",
  ],
  [
    "skipping the store's certificate check with a CA to check it against",
    withChange("local", (r) => {
      r.objectStore.useTls = true;
      r.objectStore.caCert = sampleCa;
      r.objectStore.insecureSkipVerify = true;
    }),
    "ferry:objectStore.insecureSkipVerify: is true while caCert is set: a CA to check the store against, and no check; remove insecureSkipVerify so the certificate is checked against caCert",
  ],
  [
    "a loopback source host in kubernetes mode",
    withChange("kubernetes", (r) => (r.source.host = "127.0.0.1")),
    'ferry:source.host: is "127.0.0.1", a loopback address, which in kubernetes mode is the dump pod itself; give the database\'s address as pods of the source cluster reach it, such as mysql.shop.svc',
  ],
  [
    "localhost as the source host in kubernetes mode",
    withChange("kubernetes", (r) => (r.source.host = "localhost")),
    'ferry:source.host: is "localhost", a loopback address, which in kubernetes mode is the dump pod itself; give the database\'s address as pods of the source cluster reach it, such as mysql.shop.svc',
  ],
  [
    "the destination in the default namespace",
    withChange("local", (r) => (r.destination.namespace = "default")),
    'ferry:destination.namespace: is "default", which the cluster owns; ferry creates its namespace, labels it restricted and keeps it on destroy, so give one of its own such as ferry',
  ],
  [
    "the destination in kube-system",
    withChange("local", (r) => (r.destination.namespace = "kube-system")),
    'ferry:destination.namespace: is "kube-system", which the cluster owns; ferry creates its namespace, labels it restricted and keeps it on destroy, so give one of its own such as ferry',
  ],
  [
    "the destination in the storage system's namespace",
    withChange("local", (r) => (r.destination.namespace = r.storage.namespace ?? "storage-system")),
    'ferry:destination.namespace: is "storage-system", the storage system\'s namespace (storage.namespace); the migration needs a namespace of its own',
  ],
  [
    "a data volume below the floor",
    withChange("local", (r) => (r.destination.storageSize = "512Mi")),
    "ferry:destination.storageSize: is 512Mi, below 1Gi: the server's own files (redo log, undo, system tables) need most of that before any data; set at least 1Gi, and more than the data (the preflight checks it against the source)",
  ],
  [
    "loopback endpoint without cluster endpoint",
    withChange("local", (r) => (r.objectStore.endpoint = "127.0.0.1:9000")),
    "ferry:objectStore.clusterEndpoint: is required when objectStore.endpoint is a loopback address: pods cannot reach this machine's loopback; give the URL pods use, such as http://10.0.0.1:9000",
  ],
  [
    "useTls as text",
    withChange("local", (r) => (r.objectStore.useTls = "yes")),
    "ferry:objectStore.useTls: must be true or false",
  ],
  [
    "expiry of zero days",
    withChange("local", (r) => (r.objectStore.expiryDays = 0)),
    "ferry:objectStore.expiryDays: must be between 1 and 3650 days",
  ],
  [
    "bucket prefix with capitals",
    withChange("local", (r) => (r.objectStore.bucketPrefix = "Ferry")),
    "ferry:objectStore.bucketPrefix: must be lowercase letters, digits and dashes, at most 36 characters",
  ],
  [
    "chart repo without version",
    withChange("local", (r) => delete r.storage.csi.version),
    "ferry:storage.csi.version: is required when repo is set: pin the chart version so every run installs the same thing",
  ],
  [
    "chart repo not a URL",
    withChange("local", (r) => (r.storage.crds.repo = "charts")),
    "ferry:storage.crds.repo: must be an http or https URL such as https://charts.example.com",
  ],
  [
    "no system chart",
    withChange("local", (r) => delete r.storage.system),
    "ferry:storage.system: is required",
  ],
  [
    "bad reclaim policy",
    withChange("local", (r) => (r.storage.storageClass.reclaimPolicy = "Recycle")),
    "ferry:storage.storageClass.reclaimPolicy: must be Retain or Delete",
  ],
  [
    "bad binding mode",
    withChange("local", (r) => (r.storage.storageClass.volumeBindingMode = "Later")),
    "ferry:storage.storageClass.volumeBindingMode: must be Immediate or WaitForFirstConsumer",
  ],
  [
    "class parameter not a string",
    withChange("local", (r) => (r.storage.storageClass.parameters = { replicas: 3 })),
    "ferry:storage.storageClass.parameters.replicas: must be a string",
  ],
  [
    "class name with capitals",
    withChange("local", (r) => (r.storage.storageClass.name = "NeuronSAN")),
    "ferry:storage.storageClass.name: must be a DNS label: lowercase letters, digits and inner dashes, at most 63 characters",
  ],
  [
    "run id with capitals",
    withChange("local", (r) => (r.migration.runId = "Run1")),
    "ferry:migration.runId: must be lowercase letters, digits and inner dashes, at most 40 characters (it names Jobs and objects)",
  ],
  [
    "run id missing",
    withChange("local", (r) => (r.migration = {})),
    "ferry:migration.runId: is required",
  ],
  [
    "unknown compression",
    withChange("local", (r) => (r.migration.compression = "xz")),
    "ferry:migration.compression: must be gzip or zstd",
  ],
  [
    "parallelism too high",
    withChange("local", (r) => (r.migration.parallelism = 64)),
    "ferry:migration.parallelism: must be between 1 and 16",
  ],
  [
    "chunks of no size",
    withChange("local", (r) => (r.migration.chunkMiB = 0)),
    "ferry:migration.chunkMiB: must be between 1 and 4096",
  ],
  [
    "chunks in fractions of a MiB",
    withChange("local", (r) => (r.migration.chunkMiB = 0.5)),
    "ferry:migration.chunkMiB: must be a whole number",
  ],
  [
    "timeout of zero",
    withChange("local", (r) => (r.migration.importTimeoutMinutes = 0)),
    "ferry:migration.importTimeoutMinutes: must be between 1 and 1440 minutes",
  ],
  [
    "overwrite as text",
    withChange("local", (r) => (r.migration.overwrite = "no")),
    "ferry:migration.overwrite: must be true or false",
  ],
  [
    "verification flag as text",
    withChange("local", (r) => (r.verification = { enabled: "on" })),
    "ferry:verification.enabled: must be true or false",
  ],
  [
    "storage.install false without a class",
    withChange("local", (r) => (r.storage = { install: false })),
    "ferry:storage.storageClass: is required",
  ],
  [
    "an install without its CSI chart",
    withChange("local", (r) => delete r.storage.csi),
    "ferry:storage.csi: is required",
  ],
  [
    "a class ferry creates without a provisioner",
    withChange("local", (r) => delete r.storage.storageClass.provisioner),
    "ferry:storage.storageClass.provisioner: is required when ferry creates the class (the CSI driver's name)",
  ],
  [
    "a loopback store endpoint spelled LOCALHOST:9000",
    withChange("local", (r) => (r.objectStore.endpoint = "LOCALHOST:9000")),
    "ferry:objectStore.clusterEndpoint: is required when objectStore.endpoint is a loopback address: pods cannot reach this machine's loopback; give the URL pods use, such as http://10.0.0.1:9000",
  ],
  [
    "a loopback store endpoint spelled localhost.localdomain:9000",
    withChange("local", (r) => (r.objectStore.endpoint = "localhost.localdomain:9000")),
    "ferry:objectStore.clusterEndpoint: is required when objectStore.endpoint is a loopback address: pods cannot reach this machine's loopback; give the URL pods use, such as http://10.0.0.1:9000",
  ],
  [
    "a loopback store endpoint spelled [0:0:0:0:0:0:0:1]:9000",
    withChange("local", (r) => (r.objectStore.endpoint = "[0:0:0:0:0:0:0:1]:9000")),
    "ferry:objectStore.clusterEndpoint: is required when objectStore.endpoint is a loopback address: pods cannot reach this machine's loopback; give the URL pods use, such as http://10.0.0.1:9000",
  ],
  [
    "a loopback store endpoint spelled [::ffff:127.0.0.1]:9000",
    withChange("local", (r) => (r.objectStore.endpoint = "[::ffff:127.0.0.1]:9000")),
    "ferry:objectStore.clusterEndpoint: is required when objectStore.endpoint is a loopback address: pods cannot reach this machine's loopback; give the URL pods use, such as http://10.0.0.1:9000",
  ],
  [
    "a loopback store endpoint spelled 127.1:9000",
    withChange("local", (r) => (r.objectStore.endpoint = "127.1:9000")),
    "ferry:objectStore.clusterEndpoint: is required when objectStore.endpoint is a loopback address: pods cannot reach this machine's loopback; give the URL pods use, such as http://10.0.0.1:9000",
  ],
  [
    "a loopback source host spelled LOCALHOST in kubernetes mode",
    withChange("kubernetes", (r) => (r.source.host = "LOCALHOST")),
    'ferry:source.host: is "LOCALHOST", a loopback address, which in kubernetes mode is the dump pod itself; give the database\'s address as pods of the source cluster reach it, such as mysql.shop.svc',
  ],
  [
    "a Service name starting with a digit",
    withChange("local", (r) => (r.destination.serviceName = "1db")),
    "ferry:destination.serviceName: must be a DNS-1035 label, as a Service's name is: a lowercase letter first, then lowercase letters, digits and inner dashes, at most 63 characters",
  ],
  [
    "a memory of a thousandth of a byte",
    withChange("local", (r) => (r.destination.memory = "1m")),
    "ferry:destination.memory: must be a memory size of at least 256Mi in whole bytes, such as 512Mi or 2Gi (the server needs that much to start)",
  ],
  [
    "a CPU in gibibytes",
    withChange("local", (r) => (r.destination.cpu = "2Gi")),
    "ferry:destination.cpu: must be CPU cores between 10m and 1000, such as 250m, 1 or 2.5",
  ],
  [
    "a host key cut short",
    withChange("ssh", (r) => (r.source.ssh.hostKey = "ssh-ed25519 AAAA")),
    "ferry:source.ssh.hostKey: must be the host's public key in one line, such as ssh-ed25519 AAAA... (ssh-keyscan -t ed25519 HOST prints it after the host name)",
  ],
  [
    "a host key of an unknown algorithm",
    withChange(
      "ssh",
      (r) => (r.source.ssh.hostKey = r.source.ssh.hostKey.replace(/^ssh-ed25519/, "ssh-ed448")),
    ),
    "ferry:source.ssh.hostKey: must be the host's public key in one line, such as ssh-ed25519 AAAA... (ssh-keyscan -t ed25519 HOST prints it after the host name)",
  ],
  [
    "a bucket prefix S3 reserves for punycode",
    withChange("local", (r) => (r.objectStore.bucketPrefix = "xn--ferry-")),
    "ferry:objectStore.bucketPrefix: must not start with xn--, sthree- or amzn-s3-demo- (S3 reserves them for its own names)",
  ],
  [
    "a bucket prefix S3 reserves for itself",
    withChange("local", (r) => (r.objectStore.bucketPrefix = "sthree-")),
    "ferry:objectStore.bucketPrefix: must not start with xn--, sthree- or amzn-s3-demo- (S3 reserves them for its own names)",
  ],
  [
    "a label value Kubernetes refuses in allowFrom",
    withChange("local", (r) => (r.destination.allowFrom = [{ podLabels: { app: "web shop" } }])),
    'ferry:destination.allowFrom.0.podLabels: the value "web shop" of label app must be at most 63 characters: letters, digits, -, _ and ., starting and ending with a letter or digit (or empty)',
  ],
  [
    "a label key Kubernetes refuses in allowFrom",
    withChange("local", (r) => (r.destination.allowFrom = [{ podLabels: { "app!": "web" } }])),
    'ferry:destination.allowFrom.0.podLabels: the label key "app!" must be a name of at most 63 characters (letters, digits, -, _ and ., starting and ending with a letter or digit), with an optional DNS prefix and /',
  ],
  [
    "allowFrom podLabels that select every pod",
    withChange("local", (r) => (r.destination.allowFrom = [{ podLabels: {} }])),
    "ferry:destination.allowFrom.0.podLabels: must name at least one label (an empty map selects every pod); to admit a whole namespace, give namespace alone",
  ],
  [
    "a source cluster named by neither kubeconfig nor context",
    withChange("kubernetes", (r) => delete r.source.kubernetes.context),
    "ferry:source.kubernetes.context: is required, or kubeconfig: without either the dump Job would go to whichever cluster kubectl's current context names",
  ],
  [
    "a destination cluster named by neither kubeconfig nor context",
    withChange("local", (r) => delete r.destination.context),
    "ferry:destination.context: is required, or kubeconfig: without either ferry would deploy to whichever cluster kubectl's current context names",
  ],
  [
    "a bucket expiry shorter than the run may take",
    withChange("local", (r) => {
      r.objectStore.expiryDays = 1;
      r.migration.importTimeoutMinutes = 1440;
    }),
    "ferry:objectStore.expiryDays: is 1 day, while the dump, import and verification may take 1560 minutes (their timeouts): the store would delete the dump before the run has read it; set it to at least 2",
  ],
  [
    "no destination at all",
    withChange("local", (r) => delete r.destination),
    "ferry:destination: is required; add it to Pulumi.test.yaml (see docs/configuration.md)",
  ],
];

describe("invalid configuration", () => {
  it("has at least 60 cases", () => {
    expect(badConfigs.length).toBeGreaterThanOrEqual(60);
  });

  it.each(badConfigs)("rejects %s with the key and the fix", (_, raw, message) => {
    expect(problemsOf(raw)).toEqual([message]);
  });

  it("accepts what MySQL accepts: a database named my-app, an IPv6 store, https with useTls", () => {
    const raw = withChange("local", (r) => {
      r.source.databases = ["my-app", "café", "a.b"];
      r.objectStore.endpoint = "[fd00::5]:9000";
      r.objectStore.useTls = true;
      r.objectStore.clusterEndpoint = "https://[fd00::5]:9000";
    });
    expect(configFrom(raw, secretValues).source.databases).toEqual(["my-app", "café", "a.b"]);
  });

  it("takes a class someone else installed with its name alone, and refuses the license key then", () => {
    const raw = withChange(
      "local",
      (r) => (r.storage = { install: false, storageClass: { name: "vendor-fast" } }),
    );
    const secrets = secretsWithout("storageLicenseKey");
    expect(configFrom(raw, secrets).storage).toEqual({
      install: false,
      storageClass: { name: "vendor-fast" },
    });
    expect(problemsOf(raw, { ...secretValues, storageLicenseKey: "key" })).toEqual([
      "ferry:storageLicenseKey: is only read when storage.install is true; remove it with: pulumi config rm storageLicenseKey",
    ]);
    const charts = structuredClone(raw);
    charts.storage.csi = { chart: "csi" };
    charts.storage.storageClass.reclaimPolicy = "Retain";
    charts.storage.namespace = "vendor-system";
    expect(problemsOf(charts, secrets)).toEqual([
      "ferry:storage.namespace: is only read when storage.install is true (ferry uses the class as it is); remove it",
      "ferry:storage.csi: is only read when storage.install is true (ferry uses the class as it is); remove it",
      "ferry:storage.storageClass.reclaimPolicy: is only read when storage.install is true (ferry uses the class as it is); remove it",
    ]);
  });

  it("names a missing required secret and how to set it", () => {
    const secrets = { ...secretValues };
    delete (secrets as Record<string, string>).sourcePassword;
    expect(problemsOf(rawConfig("local"), secrets)).toEqual([
      "ferry:sourcePassword: is required (the source database user's password); set it with: pulumi config set --secret sourcePassword <value>",
    ]);
  });

  it("requires the SSH key only in ssh mode", () => {
    const secrets = { ...secretValues, sshPrivateKey: "" };
    expect(() => configFrom(rawConfig("local"), secrets)).not.toThrow();
    expect(problemsOf(rawConfig("ssh"), secrets)).toEqual([
      "ferry:sshPrivateKey: is required (the private key for source.ssh (only when source.mode is ssh)); set it with: pulumi config set --secret sshPrivateKey <value>",
    ]);
  });

  it("refuses an optional secret kept in plain text", () => {
    expect(() => configFrom(rawConfig("ssh"), secretValues, ["sshPrivateKey"])).toThrow(
      "ferry:sshPrivateKey: is stored in plain text in Pulumi.test.yaml; remove it and set it with: pulumi config set --secret sshPrivateKey <value>",
    );
  });

  it("reports every problem at once", () => {
    const raw = withChange("local", (r) => {
      r.source.databases = [];
      r.migration.compression = "xz";
    });
    expect(problemsOf(raw)).toEqual([
      "ferry:source.databases: must list at least one database",
      "ferry:migration.compression: must be gzip or zstd",
    ]);
  });
});

describe("the project and stack files", () => {
  const root = path.join(__dirname, "..", "..");
  const project = parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as Raw;

  it("declares every key but the optional secrets, with a type and a description, secrets as secret", () => {
    const declared = project.config as Record<string, Raw>;
    expect(Object.keys(declared).sort()).toEqual(
      [...Object.keys(configSchemas), ...Object.keys(secretKeys)]
        .filter((key) => !(undeclaredSecretKeys as string[]).includes(key))
        .sort(),
    );
    for (const [key, declaration] of Object.entries(declared)) {
      expect(declaration.description, key).toBeTruthy();
      expect(declaration.type, key).toBe(key in secretKeys ? "string" : "object");
      expect(Boolean(declaration.secret), key).toBe(key in secretKeys);
    }
  });

  it("declares the same defaults the schema applies", () => {
    const declared = project.config as Record<string, Raw>;
    expect(declared.verification.default).toEqual(configSchemas.verification.parse({}));
  });

  it("ships a dev stack that validates", () => {
    const stack = parse(fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8")) as Raw;
    const raw: Raw = {};
    for (const [key, value] of Object.entries(stack.config as Raw))
      raw[key.replace(/^ferry:/, "")] = value;
    const config = configFrom(raw);
    expect(config.source.mode).toBe("local");
    expect(config.storage.storageClass.name).toBe("neuronsan");
  });
});
