import * as minio from "@pulumi/minio";
import * as pulumi from "@pulumi/pulumi";
import { BucketUserSwitch } from "./bucketUserSwitch";
import {
  bucketPolicyDocument,
  bucketRoles,
  bucketUserName,
  type BucketRole,
} from "./specs/bucketAccess";
import type { ObjectStoreAdmin } from "./specs/dataPlane";

export interface ObjectStoreArgs {
  /** Prefix of the bucket's generated, unique name. */
  readonly bucketPrefix: string;
  /** Days after which the object store itself deletes a run's objects. */
  readonly expiryDays: number;
  /** The Pulumi project and stack, which with the bucket make the users' names unique. */
  readonly project: string;
  readonly stack: string;
  /** The run id: each run has users of its own, turned off when it ends. */
  readonly runId: string;
  /** When true, `pulumi destroy` empties the bucket before deleting it. */
  readonly forceDestroy: boolean;
  /** The object store's administrator as this machine reaches it: turns the users on and off. */
  readonly admin: ObjectStoreAdmin;
}

/** One bucket user's credentials. */
export interface BucketCredentials {
  readonly accessKey: pulumi.Output<string>;
  readonly secretKey: pulumi.Output<string>;
}

/**
 * The bucket that carries the dump from source to destination, one user a role (BucketRole) that
 * can do only that role's part in this bucket and is off unless a step that uses it runs, and an
 * expiry rule so a forgotten dump does not stay forever.
 */
export class ObjectStore extends pulumi.ComponentResource {
  public readonly bucket: pulumi.Output<string>;
  public readonly credentials: Record<BucketRole, BucketCredentials>;
  /** Turns each role's user on only while a step that uses it runs. */
  public readonly users: BucketUserSwitch;

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

    // Each side gets its own credentials, never the admin's, each only what its steps need.
    const credentials = {} as Record<BucketRole, BucketCredentials>;
    const accounts = {} as Record<BucketRole, minio.IamUser>;
    const policies = {} as Record<BucketRole, minio.IamPolicy>;
    for (const role of bucketRoles) {
      const userName = bucket.bucket.apply((b) =>
        bucketUserName(args.project, args.stack, b, args.runId, role),
      );
      policies[role] = new minio.IamPolicy(
        `${name}-${role}-policy`,
        {
          namePrefix: pulumi.interpolate`${userName}-`,
          policy: bucket.bucket.apply((b) => bucketPolicyDocument(b, role)),
        },
        { parent: this },
      );
      // The user after its policy, so that it is deleted before it: MinIO will not detach a
      // policy from a user that is off, and will not delete a policy still attached, but deleting
      // the user lets the policy go.
      accounts[role] = new minio.IamUser(
        `${name}-${role}-user`,
        { name: userName, forceDestroy: true },
        { parent: this, dependsOn: [policies[role]] },
      );
      credentials[role] = {
        accessKey: accounts[role].name,
        secretKey: pulumi.secret(accounts[role].secret),
      };
    }

    // Each user on only while a step that uses it runs: made on (MinIO attaches no policy to a
    // user that is off), it is turned off once its policy is attached.
    this.users = new BucketUserSwitch(`${name}-users`, {
      admin: args.admin,
      users: {
        dump: credentials.dump.accessKey,
        read: credentials.read.accessKey,
        cleanup: credentials.cleanup.accessKey,
      },
    });
    for (const role of bucketRoles) {
      new minio.IamUserPolicyAttachment(
        `${name}-${role}-attachment`,
        { userName: accounts[role].name, policyName: policies[role].name },
        { parent: this, hooks: this.users.onceAttached(role) },
      );
    }

    this.bucket = bucket.bucket;
    this.credentials = credentials;
    this.registerOutputs({ bucket: this.bucket });
  }
}
