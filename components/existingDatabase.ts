import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { pullSecretNames } from "./registryPullSecret";
import type { DestinationLocation } from "./runReport";
import { caCertKey, type DatabaseAccess, type TlsSettings } from "./specs/jobs";
import { ferryLabels } from "./specs/labels";
import { restrictedNamespaceLabels } from "./specs/podSecurity";

export interface ExistingDatabaseArgs {
  /** Namespace of ferry's Jobs (and only of them), created by ferry. */
  readonly namespace: string;
  /** The server's address as pods reach it, such as mariadb.apps.svc. */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: pulumi.Input<string>;
  /** The registry's credentials (a Docker config.json), when the tools image needs them. */
  readonly registryCredentials?: pulumi.Input<string>;
  /** How the Jobs' sessions with the server are protected. */
  readonly tls: TlsSettings;
  /** The destination cluster. */
  readonly provider: k8s.Provider;
}

/**
 * A destination database the user already runs (their own chart or operator). ferry declares
 * nothing of it: no resource here owns the server, its volume or its data, so no `pulumi destroy`
 * of a migration can delete them. ferry adds its Jobs' namespace and the user's password as a
 * Secret the Jobs mount.
 */
export class ExistingDatabase extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly access: DatabaseAccess;
  public readonly endpoint: pulumi.Output<string>;
  public readonly location: pulumi.Output<DestinationLocation>;
  /** The Jobs' namespace's pull Secrets. */
  public readonly imagePullSecrets: pulumi.Output<string>[];

  constructor(name: string, args: ExistingDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:ExistingDatabase", name, {}, opts);
    const { provider } = args;

    // The Jobs' namespace holds no data: it goes with the stack.
    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: {
          name: args.namespace,
          labels: { ...ferryLabels("namespace"), ...restrictedNamespaceLabels },
        },
      },
      { parent: this, provider },
    );

    this.imagePullSecrets = pullSecretNames(
      `${name}-registry`,
      { namespace: namespace.metadata.name, credentials: args.registryCredentials, provider },
      this,
    );

    // The password, and the CA the server's certificate is checked against, as the Jobs' files.
    const credentials = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { namespace: namespace.metadata.name, labels: ferryLabels("database") },
        stringData: {
          password: args.password,
          ...(args.tls.caCert ? { [caCertKey]: args.tls.caCert } : {}),
        },
      },
      { parent: this, provider },
    );

    this.namespace = namespace.metadata.name;
    this.access = {
      host: args.host,
      port: args.port,
      user: args.user,
      passwordFile: { secretName: credentials.metadata.name, key: "password" },
      tls: {
        mode: args.tls.mode,
        ...(args.tls.caCert
          ? { caFile: { secretName: credentials.metadata.name, key: caCertKey } }
          : {}),
      },
    };
    this.endpoint = pulumi.output(`${args.host}:${args.port}`);
    this.location = namespace.metadata.name.apply((jobs) => ({
      mode: "existing" as const,
      server: `${args.host}:${args.port}`,
      user: args.user,
      jobsNamespace: jobs,
    }));
    this.registerOutputs({ namespace: this.namespace, endpoint: this.endpoint });
  }
}
