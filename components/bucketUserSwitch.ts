import { spawn } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import type { BucketRole } from "./specs/bucketAccess";
import {
  bucketUsersEnvironment,
  stdinProgram,
  type DataPlaneScript,
  type ObjectStoreAdmin,
} from "./specs/dataPlane";

export interface BucketUserSwitchArgs {
  /** The administrator's credentials, which alone may turn users on and off. */
  readonly admin: ObjectStoreAdmin;
  /** The run's bucket users (their access keys), one a role. */
  readonly users: Record<BucketRole, pulumi.Input<string>>;
}

/**
 * The run's bucket users are off at rest, and a role's user is on only while a step that uses it
 * runs in this `pulumi up`: each step's resource carries hooks the engine calls around its create
 * (and update). Before the step runs its roles are counted in and turned on (if
 * no other running step had them on); when it has succeeded, or failed, they are counted out, and
 * a role no running step uses any more is turned off. So whatever the outcome (a step's failure,
 * or any other resource's, after which the engine lets the running steps end and starts no new
 * one), the up ends with every user off, and a credential handed out for a step (the source
 * cluster's Secret, the SSH host, the destination's Secrets) opens the bucket only while that step
 * runs. A step retried by a later up turns on again what it uses.
 *
 * The hooks run ferry-dataplane grant and revoke on this machine, the admin key on their stdin, as
 * the run's last step (BucketRevocation) does; never in a preview. Not a resource: hooks are
 * options of the steps' resources.
 */
export class BucketUserSwitch {
  private readonly bindings = new Map<string, pulumi.ResourceHookBinding>();
  /** How many running steps use each role. */
  private readonly running = new Map<BucketRole, number>();
  /** The roles whose users are on. */
  private readonly on = new Set<BucketRole>();
  /** Every change, one after the other: steps start and end concurrently. */
  private changes: Promise<void> = Promise.resolve();

  constructor(
    private readonly name: string,
    private readonly args: BucketUserSwitchArgs,
  ) {}

  /**
   * The hooks to bind to the resource that gives a role's user its policy: once it has, the user
   * (made on, as MinIO attaches no policy to a user that is off) is turned off, unless a step that
   * uses it already runs.
   */
  onceAttached(role: BucketRole): pulumi.ResourceHookBinding {
    return {
      afterCreate: [
        new pulumi.ResourceHook(`${this.name}-${role}-attached`, (attachment) =>
          this.count([role], 0, `${attachment.name} made`),
        ),
      ],
    };
  }

  /** The hooks to bind to the resource whose create is a step that uses `roles`. */
  forStep(roles: readonly BucketRole[]): pulumi.ResourceHookBinding {
    const sorted = [...new Set(roles)].sort();
    const key = sorted.join("-");
    let binding = this.bindings.get(key);
    if (!binding) {
      const prefix = `${this.name}-${key}`;
      const starts = new pulumi.ResourceHook(`${prefix}-step-starts`, (step) =>
        this.count(sorted, +1, `${step.name} starts`),
      );
      const succeeded = new pulumi.ResourceHook(`${prefix}-step-succeeded`, (step) =>
        this.count(sorted, -1, `${step.name} succeeded`),
      );
      // A step runs on its create, and again on an update: a Job a failed up left in the state
      // (the cluster has it, it did not succeed) is updated, and awaited again, by the next up.
      binding = {
        beforeCreate: [starts],
        afterCreate: [succeeded],
        beforeUpdate: [starts],
        afterUpdate: [succeeded],
        onError: [
          new pulumi.ErrorHook(`${prefix}-step-failed`, async (step) => {
            await this.count(sorted, -1, `${step.name} failed`);
            // Not retried: the failure stands, and a later pulumi up runs the step again.
            return false;
          }),
        ],
      };
      this.bindings.set(key, binding);
    }
    return binding;
  }

  /**
   * Counts a step's roles in (+1) or out (-1), then turns users on or off to match; 0 counts
   * nothing, and turns `roles` off unless a running step uses them (a user just made is on).
   */
  private count(roles: readonly BucketRole[], delta: 1 | -1 | 0, why: string): Promise<void> {
    const change = this.changes.then(async () => {
      for (const role of roles) {
        this.running.set(role, Math.max(0, (this.running.get(role) ?? 0) + delta));
        if (delta === 0 && !this.on.has(role) && this.running.get(role) === 0) this.on.add(role);
      }
      const needed = [...this.running].filter(([, n]) => n > 0).map(([role]) => role);
      const toTurnOn = needed.filter((role) => !this.on.has(role));
      const toTurnOff = [...this.on].filter((role) => !needed.includes(role));
      if (toTurnOff.length > 0) {
        for (const role of toTurnOff) this.on.delete(role);
        await runProgram(await this.program("revoke.sh", toTurnOff), why);
      }
      if (toTurnOn.length > 0) {
        try {
          await runProgram(await this.program("grant.sh", toTurnOn), why);
        } catch (error) {
          // The step fails before it runs, and no hook counts it out: count it out here.
          for (const role of roles) this.running.set(role, (this.running.get(role) ?? 1) - 1);
          throw error;
        }
        for (const role of toTurnOn) this.on.add(role);
      }
    });
    // A failed change fails its step's hook; the next change starts from what is known.
    this.changes = change.catch(() => undefined);
    return change;
  }

  /**
   * The script's program for `sh -s` with the users of `roles`. Hooks run only in an up, after the
   * users exist, so every value is known by then.
   */
  private program(script: DataPlaneScript, roles: readonly BucketRole[]): Promise<string> {
    const users = roles.map((role) => this.args.users[role]);
    const text = stdinProgram(script, bucketUsersEnvironment(this.args.admin, users));
    return new Promise((resolve) => text.apply((value) => resolve(value)));
  }
}

/**
 * Runs a data-plane program on this machine, fed on stdin. Its environment is PATH, HOME and
 * TMPDIR only: the Pulumi program's own environment holds its configuration, secrets included.
 * Its log lines go to Pulumi's log; a failure throws, with them.
 */
function runProgram(program: string, why: string): Promise<void> {
  const environment: NodeJS.ProcessEnv = {};
  for (const name of ["PATH", "HOME", "TMPDIR"]) {
    if (process.env[name] !== undefined) environment[name] = process.env[name];
  }
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-s"], { env: environment, stdio: ["pipe", "ignore", "pipe"] });
    let log = "";
    child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (status) => {
      const lines = log.trimEnd();
      if (status === 0) {
        if (lines) void pulumi.log.info(`${lines} (${why})`);
        resolve();
      } else {
        reject(new Error(`${lines || `sh exited with ${status}`} (${why})`));
      }
    });
    child.stdin.end(program);
  });
}
