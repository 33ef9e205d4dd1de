import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { apiServerEgressSpec, apiServerEndpoints } from "./specs/networkPolicy";

export interface ApiServerAccessArgs {
  readonly namespace: pulumi.Input<string>;
  /** The labels of the account, Role, binding and policy. */
  readonly labels: Record<string, string>;
  /** What the account may do. */
  readonly rules: pulumi.Input<k8s.types.input.rbac.v1.PolicyRule[]>;
  /** The Job's pods, which the policy selects. */
  readonly podLabels: Record<string, string>;
  /** The policy's name. */
  readonly policyName: string;
  /**
   * Known once the cluster may be read: EndpointSlice default/kubernetes is read only then, so that
   * a first preview reads nothing of the cluster here.
   */
  readonly readAfter: pulumi.Input<string>;
  /** Name the cluster and the Job in the refusal of a cluster that lists no API server. */
  readonly cluster: string;
  readonly job: string;
  readonly provider: k8s.Provider;
}

/** What a Job that talks to the API server needs: its account, and what to wait for. */
export interface ApiServerAccess {
  readonly serviceAccountName: pulumi.Output<string>;
  /** The account's binding and the policy: in place before the Job runs. */
  readonly ready: pulumi.Resource[];
}

/**
 * The service account of a Job that talks to the Kubernetes API (the certificates Job, the removal
 * of the dump's credentials), under `parent`: the account (its token mounted only by the Job's pod,
 * which asks for it), its Role of exactly `rules`, the binding, and a NetworkPolicy that lets the
 * Job's pods reach the API server's endpoints and nothing else (the addresses a policy sees, after
 * the Service's address is translated).
 */
export function apiServerAccess(
  name: string,
  args: ApiServerAccessArgs,
  parent: pulumi.Resource,
): ApiServerAccess {
  const { namespace, labels } = args;
  const child = { parent, provider: args.provider };
  const account = new k8s.core.v1.ServiceAccount(
    `${name}-account`,
    { metadata: { namespace, labels }, automountServiceAccountToken: false },
    child,
  );
  const role = new k8s.rbac.v1.Role(
    `${name}-role`,
    { metadata: { namespace, labels }, rules: args.rules },
    child,
  );
  const binding = new k8s.rbac.v1.RoleBinding(
    `${name}-binding`,
    {
      metadata: { namespace, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
      subjects: [{ kind: "ServiceAccount", name: account.metadata.name, namespace }],
    },
    child,
  );
  const apiServer = k8s.discovery.v1.EndpointSlice.get(
    `${name}-api-server`,
    pulumi.output(args.readAfter).apply(() => "default/kubernetes"),
    child,
  );
  const egress = new k8s.networking.v1.NetworkPolicy(
    `${name}-egress`,
    {
      metadata: { name: args.policyName, namespace, labels },
      spec: pulumi
        .all([apiServer.endpoints, apiServer.ports])
        .apply(([endpoints, ports]) =>
          apiServerEgressSpec(
            args.podLabels,
            apiServerEndpoints({ endpoints, ports }),
            args.cluster,
            args.job,
          ),
        ),
    },
    { ...child, deleteBeforeReplace: true },
  );
  return { serviceAccountName: account.metadata.name, ready: [binding, egress] };
}
