import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ferryLabels } from "./specs/labels";
import {
  databaseIngressSpec,
  defaultDenySpec,
  jobsEgressSpec,
  type AllowedClient,
  type DnsServers,
} from "./specs/networkPolicy";

export interface NetworkPoliciesArgs {
  /** The namespace ferry owns in the destination cluster. */
  readonly namespace: pulumi.Input<string>;
  /** The database ferry runs there, or the port of the user's own server. */
  readonly database:
    | { readonly managed: true; readonly allowFrom: readonly AllowedClient[] }
    | { readonly managed: false; readonly port: number };
  /** The object store's port as the Jobs reach it. */
  readonly objectStorePort: number;
  /** The destination cluster's DNS pods, the one peer every pod may reach on port 53. */
  readonly dnsServers: DnsServers;
  readonly provider: k8s.Provider;
}

/**
 * The destination namespace's traffic, denied unless named: the database ferry runs takes MySQL
 * connections from ferry's Jobs and from `destination.allowFrom` only; the Jobs reach the database
 * and the object store only; every pod may resolve names through the cluster's DNS pods. They take effect where the cluster's
 * network plugin enforces NetworkPolicy.
 */
export class NetworkPolicies extends pulumi.ComponentResource {
  constructor(name: string, args: NetworkPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:NetworkPolicies", name, {}, opts);
    const labels = ferryLabels("network-policy");
    const policy = (suffix: string, spec: k8s.types.input.networking.v1.NetworkPolicySpec) =>
      new k8s.networking.v1.NetworkPolicy(
        `${name}-${suffix}`,
        {
          metadata: { name: `ferry-${suffix}`, namespace: args.namespace, labels },
          spec,
        },
        { parent: this, provider: args.provider },
      );

    policy("default-deny", defaultDenySpec(args.dnsServers));
    if (args.database.managed)
      policy("database-ingress", databaseIngressSpec(args.database.allowFrom));
    policy(
      "jobs-egress",
      jobsEgressSpec({
        database: args.database.managed ? { managed: true } : args.database,
        objectStorePort: args.objectStorePort,
      }),
    );
    this.registerOutputs({});
  }
}
