import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { ferryLabels } from "./labels";
import type { TlsKeyType } from "../values";
import { apiClientJob } from "./apiClient";

/**
 * The destination server's TLS, as the Pulumi program declares it: a Job in the destination
 * namespace runs `ferry-dataplane certificates` (package certs, Go's crypto/x509) as its own
 * service account, which may touch the three objects below only. The keys are drawn there and
 * never leave the namespace: not derived from the run key, which the source side also holds, and
 * never in Pulumi's state. The Job runs again when the renewal window turns (`renewalWindow`) or
 * the settings change, and changes nothing unless a certificate nears its end.
 */

/** The server certificate's settings (`destination.tls`). */
export interface ServerTlsSettings {
  readonly keyType: TlsKeyType;
  /** How long each certificate is valid; it is replaced once a third of it is left. */
  readonly validityDays: number;
}

/** What the Job keeps, by name, in the database's namespace. */
export interface CertificateObjects {
  /** The CA's key and certificate: read by the Job only. */
  readonly caSecret: string;
  /** The server's certificate and key (tls.crt, tls.key) and the CAs it is trusted by (ca.crt). */
  readonly serverSecret: string;
  /** ca.crt for applications, and the server's certificate with its sha256. */
  readonly publicConfigMap: string;
}

/** The keys of the public ConfigMap (package certs). */
export const publicKeys = { ca: "ca.crt", server: "server.crt", fingerprint: "server.crt.sha256" };

export function certificateObjects(serviceName: string): CertificateObjects {
  return {
    caSecret: `${serviceName}-ca-key`,
    serverSecret: `${serviceName}-server-tls`,
    publicConfigMap: `${serviceName}-ca`,
  };
}

/**
 * The names a server behind Service `service` in `namespace` is dialled by: the short name the
 * Jobs in its namespace use, and the qualified ones applications elsewhere use.
 */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

/**
 * The renewal window `now` falls in: a sixth of the lifetime (whole days), so the Job runs at least
 * once while a certificate has between a third and a sixth of its life left, if `pulumi up` runs
 * in every window. A `pulumi up` in the same window finds the Job unchanged and runs nothing.
 */
export function renewalWindow(now: Date, validityDays: number): number {
  const days = Math.max(1, Math.floor(validityDays / 6));
  return Math.floor(now.getTime() / (days * 86_400_000));
}

const jobComponent = "certificates";

/** The Job's pods, for its Role's binding and its NetworkPolicy. */
export const certificatesPodLabels = ferryLabels(jobComponent);

/** What the Job's service account may do: read and write its three objects, nothing else. */
export function certificatesRoleRules(
  objects: CertificateObjects,
): k8s.types.input.rbac.v1.PolicyRule[] {
  return [
    {
      apiGroups: [""],
      resources: ["secrets"],
      resourceNames: [objects.caSecret, objects.serverSecret],
      verbs: ["get", "update"],
    },
    {
      apiGroups: [""],
      resources: ["configmaps"],
      resourceNames: [objects.publicConfigMap],
      verbs: ["get", "update"],
    },
    // Kubernetes cannot limit a create by name; the namespace is ferry's own.
    { apiGroups: [""], resources: ["secrets", "configmaps"], verbs: ["create"] },
  ];
}

export interface CertificatesJobSpec {
  readonly namespace: pulumi.Input<string>;
  readonly serviceName: string;
  readonly dnsNames: readonly string[];
  readonly settings: ServerTlsSettings;
  readonly window: number;
  readonly serviceAccountName: pulumi.Input<string>;
  readonly image: string;
  readonly imagePullPolicy: string;
  readonly imagePullSecrets: readonly pulumi.Input<string>[];
  /** How long the Job may run. */
  readonly deadlineSeconds: number;
}

/** The Job that makes, keeps or renews the certificates: one a renewal window (its name; one server a namespace). */
export function certificatesJob(spec: CertificatesJobSpec): k8s.batch.v1.JobArgs {
  const objects = certificateObjects(spec.serviceName);
  return apiClientJob({
    // Not after the Service: a Service's name may take all 63 characters a Job's may have.
    name: `ferry-certificates-${spec.window}`,
    namespace: spec.namespace,
    labels: certificatesPodLabels,
    serviceAccountName: spec.serviceAccountName,
    image: spec.image,
    imagePullPolicy: spec.imagePullPolicy,
    imagePullSecrets: spec.imagePullSecrets,
    deadlineSeconds: spec.deadlineSeconds,
    subcommand: jobComponent,
    env: [
      { name: "CERT_NAMES", value: spec.dnsNames.join(" ") },
      { name: "CERT_ISSUER", value: spec.dnsNames[1] ?? spec.serviceName },
      { name: "CERT_KEY_TYPE", value: spec.settings.keyType },
      { name: "CERT_VALIDITY_DAYS", value: String(spec.settings.validityDays) },
      { name: "CERT_CA_SECRET", value: objects.caSecret },
      { name: "CERT_SERVER_SECRET", value: objects.serverSecret },
      { name: "CERT_PUBLIC_CONFIGMAP", value: objects.publicConfigMap },
    ],
  });
}
