import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { restrictedContainer, restrictedPod } from "./podSecurity";
import { pullSecretsSpec } from "./registry";

/** The probe writes a fresh token, syncs it to the volume and reads it back. */
export const readWriteProbeScript =
  'token="$(date +%s)-$$"; printf %s "$token" > /data/probe.tmp && sync && mv /data/probe.tmp /data/probe && [ "$(cat /data/probe)" = "$token" ]';

/** The size of the read/write test's own volume. */
export const readWriteVolumeSize = "64Mi";

/** The read/write test Deployment's spec. */
export function readWriteDeploymentSpec(
  labels: Record<string, string>,
  image: string,
  imagePullPolicy: string,
  imagePullSecrets: readonly pulumi.Input<string>[],
  pvcName: pulumi.Input<string>,
): k8s.types.input.apps.v1.DeploymentSpec {
  return {
    replicas: 1,
    strategy: { type: "Recreate" },
    selector: { matchLabels: labels },
    template: {
      metadata: { labels },
      spec: {
        automountServiceAccountToken: false,
        securityContext: restrictedPod,
        ...pullSecretsSpec(imagePullSecrets),
        containers: [
          {
            name: "read-write-test",
            image,
            imagePullPolicy,
            command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 5; done"],
            readinessProbe: {
              exec: { command: ["/bin/sh", "-c", readWriteProbeScript] },
              periodSeconds: 10,
              timeoutSeconds: 10,
            },
            securityContext: restrictedContainer,
            volumeMounts: [{ name: "data", mountPath: "/data" }],
          },
        ],
        volumes: [{ name: "data", persistentVolumeClaim: { claimName: pvcName } }],
      },
    },
  };
}
