import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { apiServerAccess } from "./apiServerAccess";
import {
  credentialsRemovalJob,
  credentialsRemovalLabels,
  credentialsRemovalRoleRules,
} from "./specs/credentialsRemoval";
import { ferryLabels } from "./specs/labels";
import { jobAwaitTimeouts } from "./specs/timeouts";

export interface SourceCredentialsRemovalArgs {
  readonly runId: string;
  /** The source's namespace, where the dump ran. */
  readonly namespace: string;
  /** The Secret the dump read its credentials from. */
  readonly secretName: pulumi.Input<string>;
  /** The dump Job: the Secret is removed once it has stored the dump. */
  readonly dump: k8s.batch.v1.Job;
  /** The image with ferry-dataplane: the source's tools image. */
  readonly image: string;
  readonly imagePullPolicy: string;
  readonly imagePullSecrets: readonly pulumi.Input<string>[];
  /** The source cluster's. */
  readonly provider: k8s.Provider;
}

/** How long the Job may take: one DELETE. */
const deadlineMinutes = 3;

/**
 * Once the dump is stored, nothing in the source cluster needs the run's credentials: a Job there
 * deletes the dump's Secret, as a service account that may delete that one Secret, its pods
 * reaching the API server only (specs/credentialsRemoval.ts). Should a refresh find the Secret gone
 * and a later `pulumi up` make it again (under a new name), the dump Job runs again, keeps the
 * stored dump, and this Job, whose Secret's name changed, deletes the new one.
 */
export class SourceCredentialsRemoval extends pulumi.ComponentResource {
  constructor(
    name: string,
    args: SourceCredentialsRemovalArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("ferry:components:SourceCredentialsRemoval", name, {}, opts);
    const { namespace, provider } = args;
    const labels = ferryLabels("forget", args.runId);
    const child = { parent: this, provider };

    // The Job's account, which may delete that one Secret, and its way to the API server; the
    // cluster is read once the dump has run, so a first preview reads nothing of it here.
    const access = apiServerAccess(
      name,
      {
        namespace,
        labels,
        rules: credentialsRemovalRoleRules(args.secretName),
        podLabels: credentialsRemovalLabels(args.runId),
        policyName: `ferry-forget-${args.runId}`,
        readAfter: args.dump.id,
        cluster: "the source cluster",
        job: "the Job that removes the dump's credentials",
        provider,
      },
      this,
    );

    new k8s.batch.v1.Job(
      `${name}-job`,
      credentialsRemovalJob({
        runId: args.runId,
        namespace,
        secretName: args.secretName,
        serviceAccountName: access.serviceAccountName,
        image: args.image,
        imagePullPolicy: args.imagePullPolicy,
        imagePullSecrets: args.imagePullSecrets,
        deadlineSeconds: deadlineMinutes * 60,
      }),
      {
        ...child,
        dependsOn: [args.dump, ...access.ready],
        deleteBeforeReplace: true,
        customTimeouts: jobAwaitTimeouts(deadlineMinutes),
      },
    );
    this.registerOutputs({});
  }
}
