import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ferryLabels } from "./specs/labels";
import { registrySecretData } from "./specs/registry";

export interface RegistryPullSecretArgs {
  /** The namespace whose pods pull with it. */
  readonly namespace: pulumi.Input<string>;
  /** A Docker config.json: the secret registryCredentials. */
  readonly credentials: pulumi.Input<string>;
  readonly provider: k8s.Provider;
}

/**
 * The registry's credentials as a kubernetes.io/dockerconfigjson Secret in one namespace, for the
 * imagePullSecrets of the pods ferry runs there.
 */
export class RegistryPullSecret extends pulumi.ComponentResource {
  public readonly secretName: pulumi.Output<string>;

  constructor(name: string, args: RegistryPullSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:RegistryPullSecret", name, {}, opts);
    const secret = new k8s.core.v1.Secret(
      `${name}-secret`,
      {
        metadata: { namespace: args.namespace, labels: ferryLabels("registry") },
        type: "kubernetes.io/dockerconfigjson",
        stringData: registrySecretData(args.credentials),
      },
      { parent: this, provider: args.provider },
    );
    this.secretName = secret.metadata.name;
    this.registerOutputs({ secretName: this.secretName });
  }
}

/** The pull Secrets of a namespace: this one's name, or none without credentials. */
export function pullSecretNames(
  name: string,
  args: Omit<RegistryPullSecretArgs, "credentials"> & { credentials?: pulumi.Input<string> },
  parent: pulumi.Resource,
): pulumi.Output<string>[] {
  if (args.credentials === undefined) return [];
  const { credentials } = args;
  return [new RegistryPullSecret(name, { ...args, credentials }, { parent }).secretName];
}
