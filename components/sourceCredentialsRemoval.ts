import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  credentialsRemovalJob,
  credentialsRemovalLabels,
  credentialsRemovalRoleRules,
} from "./specs/credentialsRemoval";
import { ferryLabels } from "./specs/labels";
import { apiServerEgressSpec, apiServerEndpoints } from "./specs/networkPolicy";
import { jobAwaitTimeouts } from "./specs/timeouts";

export interface SourceCredentialsRemovalArgs {
  readonly runId: string;
  /** The source's namespace, where the dump ran. */
  readonly namespace: string;
  /** The Secret the dump read its credentials from. */
  readonly secretName: pulumi.Input<string>;
  /** The dump Job: the Secret is removed once it has stored the dump. */
  readonly dump: k8s.batch.v1.Job;
  /** The image with ferry-dataplane: the source's tools image. */
  readonly image: string;
  readonly imagePullPolicy: string;
  readonly imagePullSecrets: readonly pulumi.Input<string>[];
  /** The source cluster's. */
  readonly provider: k8s.Provider;
}

/** How long the Job may take: one DELETE. */
const deadlineMinutes = 3;

/**
 * Once the dump is stored, nothing in the source cluster needs the run's credentials: a Job there
 * deletes the dump's Secret, as a service account that may delete that one Secret, its pods
 * reaching the API server only (specs/credentialsRemoval.ts). Should a refresh find the Secret gone
 * and a later `pulumi up` make it again (under a new name), the dump Job runs again, keeps the
 * stored dump, and this Job, whose Secret's name changed, deletes the new one.
 */
export class SourceCredentialsRemoval extends pulumi.ComponentResource {
  constructor(
    name: string,
    args: SourceCredentialsRemovalArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("ferry:components:SourceCredentialsRemoval", name, {}, opts);
    const { namespace, provider } = args;
    const labels = ferryLabels("forget", args.runId);
    const child = { parent: this, provider };

    const account = new k8s.core.v1.ServiceAccount(
      `${name}-account`,
      {
        metadata: { namespace, labels },
        // Mounted by the Job's pod only, which asks for it.
        automountServiceAccountToken: false,
      },
      child,
    );
    const role = new k8s.rbac.v1.Role(
      `${name}-role`,
      { metadata: { namespace, labels }, rules: credentialsRemovalRoleRules(args.secretName) },
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

    // The API server, by the addresses a policy sees; read once the dump has run, so a first
    // preview reads nothing of the source cluster here.
    const apiServer = k8s.discovery.v1.EndpointSlice.get(
      `${name}-api-server`,
      args.dump.id.apply(() => "default/kubernetes"),
      child,
    );
    const egress = new k8s.networking.v1.NetworkPolicy(
      `${name}-egress`,
      {
        metadata: { name: `ferry-forget-${args.runId}`, namespace, labels },
        spec: pulumi
          .all([apiServer.endpoints, apiServer.ports])
          .apply(([endpoints, ports]) =>
            apiServerEgressSpec(
              credentialsRemovalLabels(args.runId),
              apiServerEndpoints({ endpoints, ports }),
              "the source cluster",
              "the Job that removes the dump's credentials",
            ),
          ),
      },
      { ...child, deleteBeforeReplace: true },
    );

    new k8s.batch.v1.Job(
      `${name}-job`,
      credentialsRemovalJob({
        runId: args.runId,
        namespace,
        secretName: args.secretName,
        serviceAccountName: account.metadata.name,
        image: args.image,
        imagePullPolicy: args.imagePullPolicy,
        imagePullSecrets: args.imagePullSecrets,
        deadlineSeconds: deadlineMinutes * 60,
      }),
      {
        ...child,
        dependsOn: [args.dump, binding, egress],
        deleteBeforeReplace: true,
        customTimeouts: jobAwaitTimeouts(deadlineMinutes),
      },
    );
    this.registerOutputs({});
  }
}
