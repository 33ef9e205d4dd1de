import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/** The key of a kubernetes.io/dockerconfigjson Secret. */
export const dockerConfigKey = ".dockerconfigjson";

/**
 * The pull Secret's data from the secret `registryCredentials`: a Docker config.json (what
 * `docker login` writes, or `kubectl create secret docker-registry ... --dry-run=client -o json`
 * holds base64-encoded), checked to have registries in "auths" so a wrong paste fails at preview.
 */
export function registrySecretData(
  credentials: pulumi.Input<string>,
): pulumi.Output<Record<string, string>> {
  return pulumi.secret(pulumi.output(credentials).apply(dockerConfigData));
}

/** The Secret's data from a Docker config.json; throws, naming the key, on anything else. */
export function dockerConfigData(text: string): Record<string, string> {
  let auths: unknown;
  try {
    auths = (JSON.parse(text) as { auths?: unknown }).auths;
  } catch {
    auths = undefined;
  }
  if (typeof auths !== "object" || auths === null || Object.keys(auths).length === 0) {
    throw new Error(
      'ferry:registryCredentials: must be a Docker config.json with at least one registry under "auths" (what docker login or podman login writes); set it with: pulumi config set --secret registryCredentials < config.json',
    );
  }
  return { [dockerConfigKey]: text };
}

/** A pod spec's imagePullSecrets, or nothing when the images need no credentials. */
export function pullSecretsSpec(
  names: readonly pulumi.Input<string>[],
): Pick<k8s.types.input.core.v1.PodSpec, "imagePullSecrets"> {
  return names.length > 0 ? { imagePullSecrets: names.map((name) => ({ name })) } : {};
}
