import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { restrictedContainer, restrictedPod } from "./podSecurity";
import { pullSecretsSpec } from "./registry";

/**
 * A Job whose one container runs a `ferry-dataplane` subcommand that talks to the Kubernetes API
 * as the Job's own service account (the certificates Job, the removal of the dump's credentials):
 * the only pods of ferry's with a token, each its Role's. No volume; settings in the environment.
 */
export interface ApiClientJobSpec {
  readonly name: string;
  readonly namespace: pulumi.Input<string>;
  readonly labels: Record<string, string>;
  readonly serviceAccountName: pulumi.Input<string>;
  readonly image: string;
  readonly imagePullPolicy: string;
  readonly imagePullSecrets: readonly pulumi.Input<string>[];
  /** How long the Job may run. */
  readonly deadlineSeconds: number;
  /** The subcommand, which names the container; FERRY_STEP is ferry-<subcommand>. */
  readonly subcommand: string;
  readonly env: k8s.types.input.core.v1.EnvVar[];
}

export function apiClientJob(spec: ApiClientJobSpec): k8s.batch.v1.JobArgs {
  return {
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels: spec.labels,
      // A failed Job is replaced on the next `pulumi up` instead of being awaited again.
      annotations: { "pulumi.com/replaceUnready": "true" },
    },
    spec: {
      backoffLimit: 2,
      activeDeadlineSeconds: spec.deadlineSeconds,
      template: {
        metadata: { labels: spec.labels },
        spec: {
          restartPolicy: "Never",
          securityContext: restrictedPod,
          ...pullSecretsSpec(spec.imagePullSecrets),
          serviceAccountName: spec.serviceAccountName,
          automountServiceAccountToken: true,
          containers: [
            {
              name: spec.subcommand,
              image: spec.image,
              imagePullPolicy: spec.imagePullPolicy,
              command: ["ferry-dataplane", spec.subcommand],
              env: [{ name: "FERRY_STEP", value: `ferry-${spec.subcommand}` }, ...spec.env],
              terminationMessagePolicy: "FallbackToLogsOnError",
              securityContext: restrictedContainer,
            },
          ],
        },
      },
    },
  };
}
