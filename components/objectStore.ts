import * as minio from "@pulumi/minio";
import * as pulumi from "@pulumi/pulumi";
import { bucketPolicyDocument } from "./specs/bucketAccess";

export interface ObjectStoreArgs {
  /** Prefix of the bucket's generated, unique name. */
  readonly bucketPrefix: string;
  /** Days after which the object store itself deletes a run's objects. */
  readonly expiryDays: number;
  /** Name of the bucket-scoped user the dump and import use. */
  readonly userName: string;
  /** When true, `pulumi destroy` empties the bucket before deleting it. */
  readonly forceDestroy: boolean;
}

/**
 * The bucket that carries the dump from source to destination, a user that can touch only this
 * bucket, and an expiry rule so a forgotten dump does not stay forever.
 */
export class ObjectStore extends pulumi.ComponentResource {
  public readonly bucket: pulumi.Output<string>;
  public readonly accessKey: pulumi.Output<string>;
  public readonly secretKey: pulumi.Output<string>;

  constructor(name: string, args: ObjectStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:ObjectStore", name, {}, opts);
    // A generated name: two stacks (two cluster pairs) never share a bucket.
    const bucket = new minio.S3Bucket(
      `${name}-bucket`,
      { bucketPrefix: args.bucketPrefix, acl: "private", forceDestroy: args.forceDestroy },
      { parent: this },
    );

    // Dumps are transient: the store deletes them even if ferry never runs its cleanup.
    new minio.IlmPolicy(
      `${name}-expiry`,
      {
        bucket: bucket.bucket,
        rules: [
          {
            id: "expire-runs",
            status: "Enabled",
            filter: "runs/",
            expiration: `${args.expiryDays}d`,
          },
        ],
      },
      { parent: this },
    );

    // The data plane gets its own credentials, never the admin's.
    const user = new minio.IamUser(
      `${name}-user`,
      { name: args.userName, forceDestroy: true },
      { parent: this },
    );

    // Read, write, list and delete in this bucket and nothing else.
    const policy = new minio.IamPolicy(
      `${name}-policy`,
      { namePrefix: `${args.userName}-`, policy: bucket.bucket.apply(bucketPolicyDocument) },
      { parent: this },
    );

    new minio.IamUserPolicyAttachment(
      `${name}-attachment`,
      { userName: user.name, policyName: policy.name },
      { parent: this },
    );

    this.bucket = bucket.bucket;
    this.accessKey = user.name;
    this.secretKey = pulumi.secret(user.secret);
    this.registerOutputs({
      bucket: this.bucket,
      accessKey: this.accessKey,
      secretKey: this.secretKey,
    });
  }
}
