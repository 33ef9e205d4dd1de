import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  applicationServiceSpec,
  applicationSliceArgs,
  applicationSliceName,
} from "./specs/applicationService";
import { ferryLabels } from "./specs/labels";

export interface ApplicationServiceArgs {
  /** The destination database's namespace, where the Service lives. */
  readonly namespace: pulumi.Input<string>;
  /** migration.live.applicationService. */
  readonly service: { readonly name: string; readonly port: number };
  /** Where the Service sends the applications until the cutover (migration.live). */
  readonly source: { readonly host: string; readonly port: number };
  /** From the cutover on: the destination server's pod labels, which the Service selects. */
  readonly destinationSelector?: Record<string, string>;
  readonly provider: k8s.Provider;
}

/**
 * The Service applications reach the database by across a live migration (specs/applicationService):
 * the source until the cutover, the destination's server from then on. The cutover Job switches it
 * the moment the destination takes writes; this component then states the same, so a later
 * `pulumi up` keeps it there. Kept on `pulumi destroy`: applications still use it.
 */
export class ApplicationService extends pulumi.ComponentResource {
  constructor(name: string, args: ApplicationServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:ApplicationService", name, {}, opts);
    const { service, source } = args;
    const kept = {
      parent: this,
      provider: args.provider,
      retainOnDelete: true,
    };
    // The cutover Job patched these fields already (another field manager): the same values,
    // applied over its ownership.
    const annotations = { "pulumi.com/patchForce": "true" };
    const { labels: sliceLabels, ...slice } = applicationSliceArgs(
      service.name,
      source.host,
      source.port,
      args.destinationSelector === undefined,
    );
    new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: {
          name: service.name,
          namespace: args.namespace,
          labels: ferryLabels("application-service"),
          annotations,
        },
        spec: applicationServiceSpec(service.port, args.destinationSelector),
      },
      kept,
    );
    new k8s.discovery.v1.EndpointSlice(
      `${name}-slice`,
      {
        metadata: {
          name: applicationSliceName(service.name),
          namespace: args.namespace,
          labels: sliceLabels,
          annotations,
        },
        ...slice,
      },
      kept,
    );
    this.registerOutputs({});
  }
}
