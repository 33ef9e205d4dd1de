import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { ferryLabels } from "./labels";
import { apiClientJob } from "./apiClient";

/**
 * In kubernetes source mode the dump Job reads its credentials (the source password, the dump's
 * bucket key, the run key) from a Secret in the source's namespace. Nothing there needs them once
 * the dump is stored, so a Job that runs after the dump (`ferry-dataplane forget`) deletes that
 * Secret, as a service account that may delete that one Secret and do nothing else. The dump's own
 * pods never talk to the API server; this Job talks to nothing else.
 */

const component = "forget";

/** The Job's pods, for its NetworkPolicy: apart from the dump's, whose policy does not select them. */
export function credentialsRemovalLabels(runId: string): Record<string, string> {
  return ferryLabels(component, runId);
}

/** What the Job's service account may do: delete the one Secret, by name. */
export function credentialsRemovalRoleRules(
  secretName: pulumi.Input<string>,
): k8s.types.input.rbac.v1.PolicyRule[] {
  return [
    { apiGroups: [""], resources: ["secrets"], resourceNames: [secretName], verbs: ["delete"] },
  ];
}

export interface CredentialsRemovalJobSpec {
  readonly runId: string;
  readonly namespace: string;
  /** The dump's Secret, which the Job deletes. */
  readonly secretName: pulumi.Input<string>;
  readonly serviceAccountName: pulumi.Input<string>;
  readonly image: string;
  readonly imagePullPolicy: string;
  readonly imagePullSecrets: readonly pulumi.Input<string>[];
  /** How long the Job may run. */
  readonly deadlineSeconds: number;
}

/** The Job that deletes the dump's Secret; named from the run id, as the dump's Jobs are. */
export function credentialsRemovalJob(spec: CredentialsRemovalJobSpec): k8s.batch.v1.JobArgs {
  return apiClientJob({
    name: `ferry-forget-${spec.runId}`,
    namespace: spec.namespace,
    labels: credentialsRemovalLabels(spec.runId),
    serviceAccountName: spec.serviceAccountName,
    image: spec.image,
    imagePullPolicy: spec.imagePullPolicy,
    imagePullSecrets: spec.imagePullSecrets,
    deadlineSeconds: spec.deadlineSeconds,
    subcommand: component,
    env: [{ name: "FORGET_SECRET", value: spec.secretName }],
  });
}
