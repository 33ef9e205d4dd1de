import type * as k8s from "@pulumi/kubernetes";

/**
 * Every pod ferry runs meets the `restricted` Pod Security Standard: a numeric non-root user,
 * no privilege escalation, no capabilities, the runtime's default seccomp profile. The user is the
 * tools image's (images/tools.Containerfile); the database runs as the same, which the official
 * MariaDB and MySQL images allow when their data directory is writable (fsGroup).
 */
export const podUser = 65532;

/** The labels that make the API server enforce `restricted` in a namespace ferry owns. */
export const restrictedNamespaceLabels: Record<string, string> = {
  "pod-security.kubernetes.io/enforce": "restricted",
  "pod-security.kubernetes.io/warn": "restricted",
  "pod-security.kubernetes.io/audit": "restricted",
};

/** The pod's securityContext. */
export const restrictedPod: k8s.types.input.core.v1.PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: podUser,
  runAsGroup: podUser,
  // Volumes that support it (emptyDir, Secrets, most CSI volumes) become the group's.
  fsGroup: podUser,
  seccompProfile: { type: "RuntimeDefault" },
};

/** A container's securityContext; the root filesystem read-only (scratch space is an emptyDir). */
export const restrictedContainer: k8s.types.input.core.v1.SecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
};
