import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { apiServerAccess } from "./apiServerAccess";
import type { LiveConfig } from "./config";
import { applicationServiceRules, applicationSliceName } from "./specs/applicationService";
import type { TlsMode } from "./values";
import { destinationJob, type DestinationJobContext } from "./specs/jobs";
import { ferryLabels } from "./specs/labels";
import { jobAwaitTimeouts } from "./specs/timeouts";

export interface CutoverArgs {
  readonly context: DestinationJobContext;
  /** Where the destination reaches the source (migration.live). */
  readonly live: LiveConfig;
  /** The source account that sets its read_only (source.user: READ_ONLY ADMIN or SUPER besides the dump's rights). */
  readonly sourceUser: string;
  readonly sourcePassword: pulumi.Input<string>;
  readonly sourceTlsMode: TlsMode;
  readonly sourceCaCert: string;
  /** How long the step may take: both sides' digests at the switch are most of it. */
  readonly timeoutMinutes: number;
  /** The hooks around the step's run (BucketUserSwitch): it reads the manifest. */
  readonly hooks: pulumi.ResourceHookBinding;
  /**
   * migration.live.applicationService: the step switches it to the destination's server (these
   * pod labels) the moment the destination takes writes, as an account that may patch it only.
   */
  readonly applicationService?: {
    readonly name: string;
    readonly destinationSelector: Record<string, string>;
    /** Known once the namespace exists: the API server's address is read only then. */
    readonly namespaceId: pulumi.Input<string>;
  };
}

const passwordKey = "source-password";
const caKey = "source-ca.crt";

/**
 * Live mode's cutover (migration.cutover): a Job (`ferry-dataplane cutover`) that makes the source
 * read-only, waits for the destination to apply its last change, makes the destination writable
 * and its replication stop (rolled back if anything fails before that), then compares every
 * object of both sides as they were at the switch. It runs once the replication step has: run
 * again, it finds the run cut over and does nothing.
 */
export class Cutover extends pulumi.ComponentResource {
  constructor(name: string, args: CutoverArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ferry:components:Cutover", name, {}, opts);
    const { context, live } = args;
    const child = { parent: this, provider: context.provider };
    const credentials = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { namespace: context.namespace, labels: ferryLabels("cutover", context.runId) },
        stringData: { [passwordKey]: args.sourcePassword, [caKey]: args.sourceCaCert },
      },
      child,
    );
    const service = args.applicationService;
    const access =
      service &&
      apiServerAccess(
        `${name}-api`,
        {
          namespace: context.namespace,
          labels: ferryLabels("cutover"),
          rules: applicationServiceRules(service.name),
          podLabels: ferryLabels("cutover", context.runId),
          policyName: "ferry-cutover-api-egress",
          readAfter: service.namespaceId,
          cluster: "the destination cluster",
          job: "the cutover Job",
          provider: context.provider,
        },
        this,
      );
    new k8s.batch.v1.Job(
      `${name}-job`,
      destinationJob(context, "cutover", {
        env: {
          SOURCE_HOST: live.sourceHost,
          SOURCE_PORT: String(live.sourcePort),
          SOURCE_USER: args.sourceUser,
          SOURCE_TLS: args.sourceTlsMode,
          ...(service
            ? {
                APPLICATION_SERVICE: service.name,
                APPLICATION_SERVICE_SLICE: applicationSliceName(service.name),
                APPLICATION_SERVICE_SELECTOR: JSON.stringify(service.destinationSelector),
                // The connections the applications still hold to the source are closed once the
                // Service selects the destination: reconnecting, they reach it.
                CLOSE_SOURCE_SESSIONS: "true",
              }
            : {}),
        },
        ...(access ? { serviceAccountName: access.serviceAccountName } : {}),
        secretFiles: {
          SOURCE_PASSWORD_FILE: { secretName: credentials.metadata.name, key: passwordKey },
          SOURCE_TLS_CA_FILE: { secretName: credentials.metadata.name, key: caKey },
        },
        usesDatabase: true,
        timeoutMinutes: args.timeoutMinutes,
        timeoutKey: "ferry:migration.verifyTimeoutMinutes",
        // Never retried by the Job: a failed cutover was rolled back and says why; the next
        // pulumi up runs it again.
        backoffLimit: 0,
      }),
      {
        ...child,
        deleteBeforeReplace: true,
        customTimeouts: jobAwaitTimeouts(args.timeoutMinutes),
        hooks: args.hooks,
        ...(access ? { dependsOn: access.ready } : {}),
      },
    );
    this.registerOutputs({});
  }
}
