import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface ExistingStorageClassArgs {
  /** The class someone else installed: the storage vendor's install, or another ferry stack's. */
  readonly name: string;
  /** The destination cluster. */
  readonly provider: k8s.Provider;
}

/**
 * A StorageClass ferry uses but does not own (`storage.install: false`): read from the cluster at
 * preview and at every up, so a class that is not there stops the preview before anything is
 * made, and the report shows what the volume will get (provisioner, binding mode, reclaim
 * policy). Nothing of it is changed or deleted.
 */
export class ExistingStorageClass extends pulumi.ComponentResource {
  public readonly storageClassName: pulumi.Output<string>;
  public readonly provisioner: pulumi.Output<string>;
  public readonly volumeBindingMode: pulumi.Output<string>;
  public readonly reclaimPolicy: pulumi.Output<string>;
  /** For the report: who installed it, and what a volume of it gets. */
  public readonly description: pulumi.Output<string>;

  constructor(
    name: string,
    args: ExistingStorageClassArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("ferry:components:ExistingStorageClass", name, {}, opts);
    const storageClass = k8s.storage.v1.StorageClass.get(`${name}-class`, args.name, {
      parent: this,
      provider: args.provider,
    });
    this.storageClassName = storageClass.metadata.name;
    this.provisioner = storageClass.provisioner;
    // The API server fills both in when the class leaves them out.
    this.volumeBindingMode = storageClass.volumeBindingMode.apply((mode) => mode ?? "Immediate");
    this.reclaimPolicy = storageClass.reclaimPolicy.apply((policy) => policy ?? "Delete");
    this.description = pulumi.interpolate`existing class ${this.storageClassName}, not installed by ferry: provisioner ${this.provisioner}, binding ${this.volumeBindingMode}, reclaim ${this.reclaimPolicy}`;
    this.reclaimPolicy.apply((policy) => {
      if (policy === "Delete")
        void pulumi.log.warn(
          `storage class ${args.name} reclaims with Delete: ferry keeps the data's claim on destroy, but deleting that claim by hand deletes the migrated data`,
          this,
        );
    });
    this.registerOutputs({
      storageClassName: this.storageClassName,
      provisioner: this.provisioner,
      volumeBindingMode: this.volumeBindingMode,
      reclaimPolicy: this.reclaimPolicy,
      description: this.description,
    });
  }
}
