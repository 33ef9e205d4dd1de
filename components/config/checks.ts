import { BlockList, isIP } from "node:net";
import { quantityBytes, type TlsMode } from "../values";
import type { ObjectStoreConfig } from "./types";
import { methodChecks } from "./method";
import type { ParsedDestination, ParsedMigration, ParsedSource, ParsedStorage } from "./types";

/** Checks that span keys (what one key means for another), and the warnings a run says. */

/** What a TLS mode short of verification risks, said at every run. */
export function weakTlsWarnings(key: string, mode: TlsMode, exposed: string): string[] {
  switch (mode) {
    case "disabled":
      return [`${key} is disabled: ${exposed} cross the network in plaintext`];
    case "required":
      return [
        `${key} is required: the sessions are encrypted but the server's certificate is not checked, so a server that takes its address gets ${exposed}`,
      ];
    default:
      return [];
  }
}

/** This machine's own addresses: loopback and unspecified, IPv4 and IPv6 (mapped IPv4 too). */
export const ownAddresses = new BlockList();
ownAddresses.addSubnet("127.0.0.0", 8, "ipv4");
ownAddresses.addSubnet("0.0.0.0", 8, "ipv4");
ownAddresses.addAddress("::1", "ipv6");
ownAddresses.addAddress("::", "ipv6");

/** The names resolvers give this machine's loopback (RFC 6761's localhost, Debian's /etc/hosts). */
export const loopbackNames =
  /^(localhost|.+\.localhost|localhost\.localdomain|localhost6(\.localdomain6)?|ip6-localhost|ip6-loopback)\.?$/;

/**
 * Whether a host (or host:port, an IPv6 literal in brackets) is this machine however it is
 * spelled: the URL parser normalises case, IPv4 shorthand (127.1, 0x7f.1, 2130706433) and IPv6
 * forms before the address is compared.
 */
function isLoopback(hostOrHostPort: string): boolean {
  let host: string;
  try {
    host = new URL(`http://${hostOrHostPort}/`).hostname;
  } catch {
    return false;
  }
  if (loopbackNames.test(host)) return true;
  const address = host.replace(/^\[|\]$/g, "");
  const family = isIP(address);
  return family !== 0 && ownAddresses.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** Namespaces the cluster itself owns: ferry creates, labels and keeps its own, never these. */
export const clusterNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"];

/** The smallest data volume a MySQL server fits on with room for data (redo log, undo, system tables). */
export const smallestStorage = "1Gi";

/** Whether a cluster is named by a kubeconfig file or a context, not left to kubectl's current one. */
function clusterNamed(cluster: { kubeconfig?: string; context?: string }): boolean {
  return cluster.kubeconfig !== undefined || cluster.context !== undefined;
}

/** The namespace a Service address names (name.namespace, .svc, .svc.cluster.local), or "". */
function serviceNamespace(host: string): string {
  const labels = host.toLowerCase().replace(/\.$/, "").split(".");
  return labels.length === 2 || labels[2] === "svc" ? labels[1] : "";
}

/** The sections the cross-checks read, each as parsed (undefined when it did not parse). */
interface Sections {
  readonly objectStore?: ObjectStoreConfig;
  readonly source?: ParsedSource;
  readonly destination?: ParsedDestination;
  readonly storage?: ParsedStorage;
  readonly migration?: ParsedMigration;
}

/** Checks that span keys: what one key means for another, in the order they are reported. */
export function crossChecks(parsed: Record<string, unknown>): string[] {
  const sections = parsed as Sections;
  return [
    ...storeReachChecks(sections),
    ...sshHostKeyChecks(sections),
    ...sourceAddressChecks(sections),
    ...storeSchemeChecks(sections),
    ...clusterChecks(sections),
    ...expiryChecks(sections),
    ...destinationChecks(sections),
    ...storageClassChecks(sections),
    ...liveChecks(sections),
    ...methodChecks(sections.source, sections.destination, sections.migration),
  ];
}

/** The store as the pods and an SSH source reach it: not this machine's loopback. */
function storeReachChecks({ objectStore, source }: Sections): string[] {
  const problems: string[] = [];
  if (objectStore && isLoopback(objectStore.endpoint) && !objectStore.clusterEndpoint) {
    problems.push(
      "ferry:objectStore.clusterEndpoint: is required when objectStore.endpoint is a loopback address: pods cannot reach this machine's loopback; give the URL pods use, such as http://10.0.0.1:9000",
    );
  }
  if (
    source?.mode === "ssh" &&
    objectStore &&
    isLoopback(objectStore.endpoint) &&
    !source.ssh?.objectStoreEndpoint
  ) {
    problems.push(
      "ferry:source.ssh.objectStoreEndpoint: is required when objectStore.endpoint is a loopback address: the source host cannot reach this machine's loopback",
    );
  }
  return problems;
}

/** The SSH source's host key: pinned, or its check turned off explicitly, not both. */
function sshHostKeyChecks({ source }: Sections): string[] {
  const problems: string[] = [];
  if (
    source?.mode === "ssh" &&
    source.ssh &&
    !source.ssh.hostKey &&
    !source.ssh.insecureIgnoreHostKey
  ) {
    problems.push(
      "ferry:source.ssh.hostKey: is required so the dump's SSH connection reaches the source host and no other: set it to the host's public key (ssh-keyscan -t ed25519 HOST prints it after the host name), or set source.ssh.insecureIgnoreHostKey to true to accept any key",
    );
  }
  if (source?.mode === "ssh" && source.ssh?.hostKey && source.ssh.insecureIgnoreHostKey) {
    problems.push(
      "ferry:source.ssh.insecureIgnoreHostKey: is true while source.ssh.hostKey is set; remove one of them",
    );
  }
  return problems;
}

/** A kubernetes-mode source reached from its pod, not the pod's own loopback. */
function sourceAddressChecks({ source }: Sections): string[] {
  const problems: string[] = [];
  if (source?.mode === "kubernetes" && isLoopback(source.host)) {
    problems.push(
      `ferry:source.host: is "${source.host}", a loopback address, which in kubernetes mode is the dump pod itself; give the database's address as pods of the source cluster reach it, such as mysql.shop.svc`,
    );
  }
  return problems;
}

/** One store speaks one protocol, whoever dials it. */
function storeSchemeChecks({ objectStore, source }: Sections): string[] {
  const problems: string[] = [];
  if (objectStore) {
    const scheme = objectStore.useTls ? "https" : "http";
    const endpoints: [string, string | undefined][] = [
      ["objectStore.clusterEndpoint", objectStore.clusterEndpoint],
      [
        "source.ssh.objectStoreEndpoint",
        source?.mode === "ssh" ? source.ssh?.objectStoreEndpoint : undefined,
      ],
    ];
    for (const [key, url] of endpoints) {
      if (url && !url.startsWith(`${scheme}://`)) {
        problems.push(
          `ferry:${key}: is ${url.split(":")[0]}:// while objectStore.useTls is ${objectStore.useTls}; one store speaks one protocol: use ${scheme}://, or change objectStore.useTls`,
        );
      }
    }
  }
  return problems;
}

/** Each cluster named, and ferry's namespace not the existing server's. */
function clusterChecks({ source, destination }: Sections): string[] {
  const problems: string[] = [];
  if (source?.mode === "kubernetes" && source.kubernetes && !clusterNamed(source.kubernetes)) {
    problems.push(
      "ferry:source.kubernetes.context: is required, or kubeconfig: without either the dump Job would go to whichever cluster kubectl's current context names",
    );
  }
  if (destination && !clusterNamed(destination)) {
    problems.push(
      "ferry:destination.context: is required, or kubeconfig: without either ferry would deploy to whichever cluster kubectl's current context names",
    );
  }
  const serverNamespace =
    destination?.database.mode === "existing" ? serviceNamespace(destination.database.host) : "";
  if (destination?.database.mode === "existing" && serverNamespace === destination.namespace) {
    problems.push(
      `ferry:destination.namespace: is "${destination.namespace}", the namespace of the existing server ${destination.database.host}; ferry's NetworkPolicies there would cut the server off from its applications: give ferry a namespace of its own`,
    );
  }
  return problems;
}

/** The dump outlives the run that reads it. */
function expiryChecks({ objectStore, migration }: Sections): string[] {
  const problems: string[] = [];
  if (objectStore && migration) {
    const runMinutes =
      migration.dumpTimeoutMinutes +
      migration.importTimeoutMinutes +
      migration.verifyTimeoutMinutes;
    if (objectStore.expiryDays * 24 * 60 <= runMinutes) {
      const least = Math.floor(runMinutes / (24 * 60)) + 1;
      problems.push(
        `ferry:objectStore.expiryDays: is ${objectStore.expiryDays} day${objectStore.expiryDays === 1 ? "" : "s"}, while the dump, import and verification may take ${runMinutes} minutes (their timeouts): the store would delete the dump before the run has read it; set it to at least ${least}`,
      );
    }
  }
  return problems;
}

/** ferry's namespace its own, and a data volume a server fits on. */
function destinationChecks({ destination, storage }: Sections): string[] {
  const problems: string[] = [];
  if (destination) {
    if (clusterNamespaces.includes(destination.namespace)) {
      problems.push(
        `ferry:destination.namespace: is "${destination.namespace}", which the cluster owns; ferry creates its namespace, labels it restricted and keeps it on destroy, so give one of its own such as ferry`,
      );
    } else if (storage?.install && destination.namespace === storage.namespace) {
      problems.push(
        `ferry:destination.namespace: is "${destination.namespace}", the storage system's namespace (storage.namespace); the migration needs a namespace of its own`,
      );
    }
    if (
      destination.database.mode === "managed" &&
      quantityBytes(destination.storageSize) < quantityBytes(smallestStorage)
    ) {
      problems.push(
        `ferry:destination.storageSize: is ${destination.storageSize}, below ${smallestStorage}: the server's own files (redo log, undo, system tables) need most of that before any data; set at least ${smallestStorage}, and more than the data (the preflight checks it against the source)`,
      );
    }
  }
  return problems;
}

/** The class stepped down is not the new one. */
function storageClassChecks({ storage }: Sections): string[] {
  const problems: string[] = [];
  if (storage?.install && storage.previousDefaultClass === storage.storageClass.name) {
    problems.push(
      `ferry:storage.previousDefaultClass: names the new class "${storage.storageClass.name}" itself; set it to the class that is the default today, or leave it out`,
    );
  }
  return problems;
}

/**
 * Live mode: its settings with it and only with it; a server ferry runs (it mounts the source's CA
 * there and gives it a server id of its own); verified TLS to the source, which the replica uses
 * too; a source address the destination's pods can reach.
 */
function liveChecks({ migration, source, destination }: Sections): string[] {
  const problems: string[] = [];
  if (!migration) return problems;
  if (migration.mode !== "live") {
    if (migration.live) {
      problems.push(
        "ferry:migration.live: is set while migration.mode is snapshot; set migration.mode to live, or remove migration.live",
      );
    }
    if (migration.cutover) {
      problems.push(
        "ferry:migration.cutover: is true while migration.mode is snapshot: a cutover moves the writes from a source the destination replicates, which only live mode does",
      );
    }
    return problems;
  }
  if (!migration.live) {
    problems.push(
      "ferry:migration.live: is required when migration.mode is live (set sourceHost and replicationUser)",
    );
  } else if (isLoopback(migration.live.sourceHost)) {
    problems.push(
      `ferry:migration.live.sourceHost: is ${migration.live.sourceHost}, this machine's loopback, which the destination's pods cannot reach; give the source's address as they reach it`,
    );
  }
  const service = migration.live?.applicationService;
  if (service && isIP(migration.live!.sourceHost) === 0) {
    problems.push(
      `ferry:migration.live.applicationService: needs migration.live.sourceHost to be an IP address (an EndpointSlice lists addresses, not names), not ${migration.live!.sourceHost}; set sourceHost to the address the name resolves to, or remove applicationService`,
    );
  }
  if (
    service &&
    destination?.database.mode !== "existing" &&
    service.name === destination?.serviceName
  ) {
    problems.push(
      `ferry:migration.live.applicationService.name: is ${service.name}, the name of the destination server's own Service (destination.serviceName); give the applications' Service another name`,
    );
  }
  if (destination?.database.mode === "existing") {
    problems.push(
      "ferry:migration.mode: live needs destination.database.mode managed: ferry mounts the source's CA into the server it runs and gives it a server id of its own, which it cannot do for an existing server",
    );
  }
  if (
    source &&
    (!["verify-ca", "verify-identity"].includes(source.tls.mode) || !source.tls.caCert)
  ) {
    problems.push(
      "ferry:source.tls: live mode replicates over verified TLS only; set source.tls.mode to verify-identity (or verify-ca) and source.tls.caCert to the CA that signed the source's certificate",
    );
  }
  return problems;
}
