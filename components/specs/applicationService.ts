import type * as k8s from "@pulumi/kubernetes";
import { isIP } from "node:net";
import { mysqlPort } from "../values";
import { ferryLabels } from "./labels";

/**
 * The applications' Service (migration.live.applicationService): in the destination database's
 * namespace, without a selector until the cutover, its one EndpointSlice ferry's, listing the
 * source (migration.live.sourceHost and sourcePort); from the cutover on, the destination server's
 * selector (the endpoints controller then lists the server's pod and follows it across restarts,
 * and NetworkPolicy sees the applications' own pods) and ferry's slice empty. A selector reaches
 * pods of its own namespace only, hence the Service's namespace; an EndpointSlice cannot list a
 * node port of the same node or another Service's address (kube-proxy translates a connection's
 * address once), hence no address of the destination in the slice.
 */

/** ferry's EndpointSlice of the Service: the cutover Job empties it by this name. */
export function applicationSliceName(service: string): string {
  return `${service}-ferry-source`;
}

/** The Service's spec: its port, and from the cutover on the destination server's selector. */
export function applicationServiceSpec(
  port: number,
  destinationSelector: Record<string, string> | undefined,
): k8s.types.input.core.v1.ServiceSpec {
  return {
    ...(destinationSelector ? { selector: destinationSelector } : {}),
    // The target port is the server's; until the cutover the slice's port (the source's) is used.
    ports: [{ name: "mysql", protocol: "TCP", port, targetPort: mysqlPort }],
  };
}

/**
 * ferry's slice: the source until the cutover, no endpoints from then on (the field left out, not
 * an empty list: the provider drops an empty list from what it records, and every preview after
 * would show it added again).
 */
export function applicationSliceArgs(
  service: string,
  sourceHost: string,
  sourcePort: number,
  listsSource: boolean,
): Pick<k8s.discovery.v1.EndpointSliceArgs, "addressType" | "endpoints" | "ports"> & {
  labels: Record<string, string>;
} {
  return {
    labels: {
      ...ferryLabels("application-service"),
      // What makes kube-proxy send the Service's connections to this slice's endpoints.
      "kubernetes.io/service-name": service,
      // Not the endpoints controller's: it leaves a slice of another manager alone.
      "endpointslice.kubernetes.io/managed-by": "ferry",
    },
    addressType: isIP(sourceHost) === 6 ? "IPv6" : "IPv4",
    ...(listsSource
      ? { endpoints: [{ addresses: [sourceHost], conditions: { ready: true } }] }
      : {}),
    ports: [{ name: "mysql", protocol: "TCP", port: sourcePort }],
  };
}

/** What the cutover Job's account may do: patch the Service and its slice, nothing else. */
export function applicationServiceRules(service: string): k8s.types.input.rbac.v1.PolicyRule[] {
  return [
    { apiGroups: [""], resources: ["services"], resourceNames: [service], verbs: ["patch"] },
    {
      apiGroups: ["discovery.k8s.io"],
      resources: ["endpointslices"],
      resourceNames: [applicationSliceName(service)],
      verbs: ["patch"],
    },
  ];
}
