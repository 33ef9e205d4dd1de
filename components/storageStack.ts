import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { InstalledStorageConfig, ReleaseConfig } from "./config";
import { timeouts } from "./specs/timeouts";

export interface StorageStackArgs {
  /** The storage system's charts, StorageClass and default-class choice (ferry:storage). */
  readonly storage: InstalledStorageConfig;
  /** The license key, put into the storage system's values at `storage.licenseKeyValue`. */
  readonly licenseKey?: pulumi.Input<string>;
  /**
   * Keep the releases and the class on `pulumi destroy` (ferry:migration.retainData): the migrated
   * volume lives on this storage, and other migrations' volumes may too.
   */
  readonly retain: boolean;
  /** The destination cluster. */
  readonly provider: k8s.Provider;
}

/** The annotation Kubernetes reads to pick the default StorageClass. */
export const defaultClassAnnotation = "storageclass.kubernetes.io/is-default-class";

/**
 * The new storage in the destination cluster: its CRDs, the storage system and its CSI driver as
 * Helm releases (in that order, since each needs the one before), its StorageClass, and that class
 * made the cluster's default.
 */
export class StorageStack extends pulumi.ComponentResource {
  public readonly storageClassName: pulumi.Output<string>;
  /** For the report: who installed the class. */
  public readonly description: pulumi.Output<string>;

  constructor(name: string, args: StorageStackArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:StorageStack", name, {}, opts);
    const { storage, provider } = args;
    const retainOnDelete = args.retain;

    // CRDs first: the storage system's own objects cannot be created before their types exist.
    const crds = new k8s.helm.v3.Release(
      `${name}-crds`,
      releaseArgs(storage.crds, storage.namespace, {}),
      { parent: this, provider, retainOnDelete },
    );

    // The storage system itself; the license key is a secret value, so the release's values are too.
    const system = new k8s.helm.v3.Release(
      `${name}-system`,
      releaseArgs(
        storage.system,
        storage.namespace,
        args.licenseKey ? valuesAt(storage.licenseKeyValue, args.licenseKey) : {},
      ),
      { parent: this, provider, retainOnDelete, dependsOn: [crds] },
    );

    // The CSI driver last: it registers with the running storage system.
    const csi = new k8s.helm.v3.Release(
      `${name}-csi`,
      releaseArgs(storage.csi, storage.namespace, {}),
      { parent: this, provider, retainOnDelete, dependsOn: [system] },
    );

    const classSpec = storage.storageClass;
    const storageClass = classSpec.create
      ? // The class the database's volume is provisioned from; Retain by default so data outlives PVCs.
        new k8s.storage.v1.StorageClass(
          `${name}-class`,
          {
            metadata: { name: classSpec.name, labels: { "app.kubernetes.io/part-of": "ferry" } },
            // Checked present with the config when ferry creates the class.
            provisioner: classSpec.provisioner!,
            parameters: classSpec.parameters,
            reclaimPolicy: classSpec.reclaimPolicy,
            volumeBindingMode: classSpec.volumeBindingMode,
            allowVolumeExpansion: classSpec.allowVolumeExpansion,
          },
          { parent: this, provider, retainOnDelete, dependsOn: [csi] },
        )
      : undefined;

    const dependencies: pulumi.Resource[] = storageClass ? [storageClass] : [csi];
    if (storage.makeDefault && storage.previousDefaultClass) {
      // Two default classes make PVCs without a class ambiguous: step the old one down first.
      const stepDown = new k8s.storage.v1.StorageClassPatch(
        `${name}-previous-default`,
        defaultClassPatch(storage.previousDefaultClass, false),
        { parent: this, provider, retainOnDelete: true, dependsOn: dependencies },
      );
      dependencies.push(stepDown);
    }
    if (storage.makeDefault) {
      // A patch, not a field of the class: the class may belong to the chart, and the patch
      // is left in place on destroy so the cluster keeps a default class.
      new k8s.storage.v1.StorageClassPatch(
        `${name}-default`,
        defaultClassPatch(classSpec.name, true),
        { parent: this, provider, retainOnDelete: true, dependsOn: dependencies },
      );
    }

    this.storageClassName = storageClass
      ? storageClass.metadata.name
      : pulumi.output(classSpec.name);
    this.description = pulumi.interpolate`installed by this stack: Helm releases in ${storage.namespace}, class ${this.storageClassName}${storage.makeDefault ? " made the default" : ""}`;
    this.registerOutputs({
      storageClassName: this.storageClassName,
      description: this.description,
    });
  }
}

/** Helm release arguments from one chart's config; a chart without repo is a local path. */
export function releaseArgs(
  release: ReleaseConfig,
  namespace: string,
  extraValues: Record<string, unknown>,
): k8s.helm.v3.ReleaseArgs {
  return {
    chart: release.chart,
    version: release.version,
    repositoryOpts: release.repo ? { repo: release.repo } : undefined,
    namespace,
    createNamespace: true,
    // Wait for the chart's workloads: the next release and the StorageClass depend on them.
    atomic: true,
    timeout: timeouts.helmReleaseSeconds,
    values: mergeValues(release.values, extraValues),
  };
}

/** `valuesAt("license.key", v)` is `{ license: { key: v } }`. */
export function valuesAt(dottedPath: string, value: unknown): Record<string, unknown> {
  return dottedPath
    .split(".")
    .reverse()
    .reduce<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>;
}

function mergeValues(
  base: Record<string, unknown>,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const existing = merged[key];
    merged[key] =
      isPlainObject(existing) && isPlainObject(value) ? mergeValues(existing, value) : value;
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !pulumi.Output.isInstance(value)
  );
}

/** The patch that sets or clears a class's default-class annotation, forcing field ownership. */
export function defaultClassPatch(
  className: string,
  isDefault: boolean,
): k8s.storage.v1.StorageClassPatchArgs {
  return {
    metadata: {
      name: className,
      annotations: {
        [defaultClassAnnotation]: String(isDefault),
        "pulumi.com/patchForce": "true",
      },
    },
  };
}
