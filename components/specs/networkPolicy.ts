import type * as k8s from "@pulumi/kubernetes";
import { isIP } from "node:net";
import { mysqlPort } from "../values";
import { ferryLabels } from "./labels";

type NetworkPolicySpec = k8s.types.input.networking.v1.NetworkPolicySpec;
type NetworkPolicyPeer = k8s.types.input.networking.v1.NetworkPolicyPeer;

/** Someone besides ferry's Jobs who may connect to the database ferry runs (`destination.allowFrom`). */
export interface AllowedClient {
  /** A namespace, by name. */
  readonly namespace?: string;
  /** Pods with these labels (in `namespace`, or in the database's own namespace without one). */
  readonly podLabels?: Record<string, string>;
}

/** The steps whose Jobs talk to the database and the object store. */
export const databaseClientSteps = ["import", "verify", "cleanup", "replicate", "cutover"] as const;

/** The pods of ferry's destination Jobs, whatever their run. */
const jobPods = {
  matchLabels: { "app.kubernetes.io/part-of": "ferry" },
  matchExpressions: [
    { key: "app.kubernetes.io/component", operator: "In", values: [...databaseClientSteps] },
  ],
};

/** A cluster's DNS server pods: by namespace and labels (`dnsPods` in each cluster's config). */
export interface DnsServers {
  readonly namespace: string;
  readonly podLabels: Record<string, string>;
}

/**
 * Name resolution, which every pod needs (a Service name, the store's host name): port 53 of the
 * cluster's DNS pods only, not of any address (a pod could otherwise carry data out over port 53).
 */
function dns(servers: DnsServers) {
  return {
    to: [peer({ namespace: servers.namespace, podLabels: servers.podLabels })],
    ports: [
      { protocol: "UDP", port: 53 },
      { protocol: "TCP", port: 53 },
    ],
  };
}

/** Every pod of the namespace: no traffic in, and out only to DNS, unless another policy allows it. */
export function defaultDenySpec(dnsServers: DnsServers): NetworkPolicySpec {
  return { podSelector: {}, policyTypes: ["Ingress", "Egress"], egress: [dns(dnsServers)] };
}

/** A rule that allows TCP to a port, whoever answers there: for a host a policy cannot name. */
function toPort(port: number) {
  return { ports: [{ protocol: "TCP", port }] };
}

function peer(client: AllowedClient): NetworkPolicyPeer {
  return {
    ...(client.namespace
      ? {
          namespaceSelector: {
            matchLabels: { "kubernetes.io/metadata.name": client.namespace },
          },
        }
      : {}),
    ...(client.podLabels ? { podSelector: { matchLabels: client.podLabels } } : {}),
  };
}

/** The database ferry runs accepts MySQL connections from ferry's Jobs and the allowed clients only. */
export function databaseIngressSpec(allowFrom: readonly AllowedClient[]): NetworkPolicySpec {
  return {
    podSelector: { matchLabels: ferryLabels("database") },
    policyTypes: ["Ingress"],
    ingress: [
      {
        from: [{ podSelector: jobPods }, ...allowFrom.map(peer)],
        ports: [{ protocol: "TCP", port: mysqlPort }],
      },
    ],
  };
}

/**
 * The Jobs reach the database and the object store, nothing else. A server ferry runs is named
 * by its pods; an existing server and the store are reached by host name or address, which a
 * policy cannot name, so those are allowed by port.
 */
export function jobsEgressSpec(args: {
  readonly database:
    { readonly managed: true } | { readonly managed: false; readonly port: number };
  readonly objectStorePort: number;
}): NetworkPolicySpec {
  const database = args.database.managed
    ? {
        to: [{ podSelector: { matchLabels: ferryLabels("database") } }],
        ports: [{ protocol: "TCP", port: mysqlPort }],
      }
    : toPort(args.database.port);
  return {
    podSelector: jobPods,
    policyTypes: ["Egress"],
    egress: [database, toPort(args.objectStorePort)],
  };
}

/**
 * The physical method: the restore's pods reach the object store and DNS, nothing else (they start
 * no connection to a database: the restore's server listens on a socket only); in place before
 * the Job, whatever the namespace's other policies are by then.
 */
export function restoreEgressSpec(args: {
  readonly objectStorePort: number;
  readonly dnsServers: DnsServers;
}): NetworkPolicySpec {
  return {
    podSelector: { matchLabels: ferryLabels("restore") },
    policyTypes: ["Egress"],
    egress: [dns(args.dnsServers), toPort(args.objectStorePort)],
  };
}

/**
 * The namespace of a host that is an in-cluster Service's name (`name.namespace.svc`, with or
 * without the cluster's domain after it); undefined for any other host.
 */
export function serviceNamespace(host: string): string | undefined {
  const label = "[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?";
  return new RegExp(`^${label}\\.(${label})\\.svc(?:\\.|$)`).exec(host.toLowerCase())?.[1];
}

/**
 * A run's pods in the source cluster (its preflight and dump) reach the source database and the
 * object store, nothing else; other pods of the source's namespace are not selected. A source
 * whose host is a Service's name is allowed by that Service's namespace, on any port: a Service
 * may forward to another port than its own, and a policy matches the port the pod listens on.
 * Any other source, and the store, are allowed by port.
 */
export function dumpEgressSpec(args: {
  readonly runId: string;
  readonly source: { readonly host: string; readonly port: number };
  readonly objectStorePort: number;
  readonly dnsServers: DnsServers;
}): NetworkPolicySpec {
  const namespace = serviceNamespace(args.source.host);
  const source = namespace ? { to: [peer({ namespace })] } : toPort(args.source.port);
  return {
    podSelector: { matchLabels: ferryLabels("dump", args.runId) },
    policyTypes: ["Egress"],
    egress: [dns(args.dnsServers), source, toPort(args.objectStorePort)],
  };
}

/** The API server as the cluster lists it (EndpointSlice default/kubernetes). */
export interface ApiServerEndpoints {
  readonly addresses: readonly string[];
  readonly ports: readonly number[];
}

/** The addresses and ports of an EndpointSlice's ready endpoints. */
export function apiServerEndpoints(slice: {
  readonly endpoints?: readonly { readonly addresses?: readonly string[] }[];
  readonly ports?: readonly { readonly port?: number }[];
}): ApiServerEndpoints {
  return {
    addresses: (slice.endpoints ?? []).flatMap((e) => e.addresses ?? []),
    ports: (slice.ports ?? []).flatMap((p) => (p.port ? [p.port] : [])),
  };
}

/**
 * Pods (of a Job that talks to the Kubernetes API) reach the API server and nothing else: its
 * endpoints' addresses, which a policy sees after the Service's address is translated. `cluster`
 * and `job` name them in the refusal of a cluster that lists no endpoint.
 */
export function apiServerEgressSpec(
  podLabels: Record<string, string>,
  api: ApiServerEndpoints,
  cluster: string,
  job: string,
): NetworkPolicySpec {
  if (api.addresses.length === 0 || api.ports.length === 0) {
    throw new Error(
      `${cluster} lists no API server endpoint (EndpointSlice default/kubernetes): ${job} could not reach it`,
    );
  }
  return {
    podSelector: { matchLabels: podLabels },
    policyTypes: ["Egress"],
    egress: [
      {
        to: api.addresses.map((address) => ({
          ipBlock: { cidr: address.includes(":") ? `${address}/128` : `${address}/32` },
        })),
        ports: api.ports.map((port) => ({ protocol: "TCP", port })),
      },
    ],
  };
}

/**
 * Live mode: the database ferry runs (its replica threads) and the replication and cutover steps'
 * Jobs reach the source where the destination reaches it: its address when that is an IP, else (a name a
 * policy cannot match) its port.
 */
export function replicationEgressSpec(args: {
  readonly sourceHost: string;
  readonly sourcePort: number;
}): NetworkPolicySpec {
  const port = [{ protocol: "TCP", port: args.sourcePort }];
  const family = isIP(args.sourceHost);
  const to =
    family === 0
      ? { ports: port }
      : {
          to: [{ ipBlock: { cidr: `${args.sourceHost}/${family === 4 ? 32 : 128}` } }],
          ports: port,
        };
  return {
    podSelector: {
      matchExpressions: [
        { key: "app.kubernetes.io/part-of", operator: "In", values: ["ferry"] },
        {
          key: "app.kubernetes.io/component",
          operator: "In",
          values: ["database", "reach", "replicate", "cutover"],
        },
      ],
    },
    policyTypes: ["Egress"],
    egress: [to],
  };
}

/** The port of an http(s) URL, its scheme's default when it names none. */
export function urlPort(url: string): number {
  const parsed = new URL(url);
  if (parsed.port) return Number(parsed.port);
  return parsed.protocol === "https:" ? 443 : 80;
}
