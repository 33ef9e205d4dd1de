import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type * as SwitchModule from "../../components/bucketUserSwitch";
import type { BucketRole } from "../../components/specs/bucketAccess";
import { installMocks } from "./harness";

let switchModule: typeof SwitchModule;
let bin: string;
let calls: string;
let savedPath: string | undefined;
const adminSecret = "admin-secret-not-for-children";

// A ferry-dataplane on PATH that records how it was called (subcommand, users) and everything in
// its environment; it fails a grant while FAIL_GRANT exists.
const fakeDataPlane = `#!/bin/sh
{
  printf 'call %s %s\\n' "$1" "$USERS"
  env | sed 's/^/env /'
  [ -z "\${S3_SECRET_KEY_FILE:-}" ] || printf 'keyfile %s\\n' "$(cat "$S3_SECRET_KEY_FILE")"
} >>"$CALLS_LOG_DIR/calls"
if [ "$1" = grant ] && [ -e "$CALLS_LOG_DIR/FAIL_GRANT" ]; then
  echo "the object store refused" >&2
  exit 1
fi
echo "did $1" >&2
`;

beforeAll(async () => {
  installMocks();
  switchModule = await import("../../components/bucketUserSwitch");
  bin = fs.mkdtempSync(path.join(os.tmpdir(), "ferry-switch-"));
  fs.writeFileSync(
    path.join(bin, "ferry-dataplane"),
    fakeDataPlane.replace(/\$CALLS_LOG_DIR/g, bin),
    {
      mode: 0o755,
    },
  );
  calls = path.join(bin, "calls");
  savedPath = process.env.PATH;
  process.env.PATH = `${bin}:${process.env.PATH}`;
  // What the Pulumi program's own environment holds (its configuration, secrets included) must
  // not reach the hooks' children.
  process.env.PULUMI_CONFIG = JSON.stringify({ "ferry:objectStoreSecretKey": adminSecret });
});

afterAll(() => {
  process.env.PATH = savedPath;
  delete process.env.PULUMI_CONFIG;
  fs.rmSync(bin, { recursive: true, force: true });
});

beforeEach(() => {
  fs.rmSync(calls, { force: true });
  fs.rmSync(path.join(bin, "FAIL_GRANT"), { force: true });
});

const users: Record<BucketRole, string> = { dump: "u-dump", read: "u-read", cleanup: "u-cleanup" };

function newSwitch(name: string): SwitchModule.BucketUserSwitch {
  return new switchModule.BucketUserSwitch(name, {
    admin: {
      url: "http://127.0.0.1:9",
      tls: { insecure: false },
      accessKey: "admin",
      secretKey: pulumi.secret(adminSecret),
    },
    users,
  });
}

/** The data plane's calls so far: "grant [users]" or "revoke [users]", in order. */
function recorded(): string[] {
  if (!fs.existsSync(calls)) return [];
  return fs
    .readFileSync(calls, "utf8")
    .split("\n")
    .filter((line) => line.startsWith("call "))
    .map((line) => line.slice("call ".length));
}

type Binding = pulumi.ResourceHookBinding;
const hookArgs = (name: string): pulumi.ResourceHookArgs => ({
  urn: `urn:${name}`,
  id: name,
  name,
  type: "t",
});
async function starts(binding: Binding, name: string): Promise<void> {
  await (binding.beforeCreate![0] as pulumi.ResourceHook).callback(hookArgs(name));
}
async function succeeds(binding: Binding, name: string): Promise<void> {
  await (binding.afterCreate![0] as pulumi.ResourceHook).callback(hookArgs(name));
}
async function fails(binding: Binding, name: string): Promise<boolean> {
  const { urn, id, type } = hookArgs(name);
  return binding.onError![0].callback({
    urn,
    id,
    name,
    type,
    failedOperation: "create",
    errors: ["x"],
  });
}

describe("BucketUserSwitch", () => {
  it("turns a role's user on when its first step starts and off when its last step ends, success or failure", async () => {
    const bucketUsers = newSwitch("s1");
    const dump = bucketUsers.forStep(["dump"]);
    const read = bucketUsers.forStep(["read"]);
    // One binding a role set: the engine registers each hook once.
    expect(bucketUsers.forStep(["read"])).toBe(read);
    expect(read.beforeCreate).toHaveLength(1);
    expect(read.afterCreate).toHaveLength(1);
    expect(read.onError).toHaveLength(1);
    // An update runs the step again (a Job a failed up left is awaited again): the same hooks.
    expect(read.beforeUpdate).toEqual(read.beforeCreate);
    expect(read.afterUpdate).toEqual(read.afterCreate);

    await starts(dump, "dump");
    await starts(read, "dump-watch");
    expect(recorded()).toEqual(['grant ["u-dump"]', 'grant ["u-read"]']);
    // The dump fails: its user off at once, not retried; the watch still reads.
    expect(await fails(dump, "dump")).toBe(false);
    expect(recorded().slice(2)).toEqual(['revoke ["u-dump"]']);
    await starts(read, "import");
    expect(recorded()).toHaveLength(3);
    await succeeds(read, "dump-watch");
    expect(recorded()).toHaveLength(3);
    await succeeds(read, "import");
    expect(recorded().slice(3)).toEqual(['revoke ["u-read"]']);
    // A retried step (a later up) turns on again what it uses.
    await starts(dump, "dump");
    await succeeds(dump, "dump");
    expect(recorded().slice(4)).toEqual(['grant ["u-dump"]', 'revoke ["u-dump"]']);
  });

  it("turns a user off once its policy is attached (it is made on), unless a step that uses it already runs", async () => {
    const bucketUsers = newSwitch("s5");
    const attached = async (role: BucketRole) =>
      (bucketUsers.onceAttached(role).afterCreate![0] as pulumi.ResourceHook).callback(
        hookArgs(`${role}-attachment`),
      );
    await attached("cleanup");
    expect(recorded()).toEqual(['revoke ["u-cleanup"]']);
    const read = bucketUsers.forStep(["read"]);
    await starts(read, "import");
    await attached("read");
    // Still on for the running step; off when it ends.
    expect(recorded().slice(1)).toEqual(['grant ["u-read"]']);
    await succeeds(read, "import");
    expect(recorded().slice(2)).toEqual(['revoke ["u-read"]']);
  });

  it("keeps steps that start and end at once in order: every user is off once all have ended", async () => {
    const bucketUsers = newSwitch("s2");
    const read = bucketUsers.forStep(["read"]);
    const cleanup = bucketUsers.forStep(["cleanup"]);
    await Promise.all([
      starts(read, "a"),
      starts(read, "b"),
      starts(cleanup, "c"),
      succeeds(read, "a"),
      fails(cleanup, "c"),
      succeeds(read, "b"),
    ]);
    const seen = recorded();
    expect(seen.filter((call) => call.startsWith("grant"))).toEqual([
      'grant ["u-read"]',
      'grant ["u-cleanup"]',
    ]);
    // Each user's last change turned it off.
    for (const user of ["u-read", "u-cleanup"]) {
      const last = seen.filter((call) => call.includes(`"${user}"`)).pop();
      expect(last).toBe(`revoke ["${user}"]`);
    }
  });

  it("fails a step whose user could not be turned on, naming why, and counts it out", async () => {
    const bucketUsers = newSwitch("s3");
    const read = bucketUsers.forStep(["read"]);
    fs.writeFileSync(path.join(bin, "FAIL_GRANT"), "");
    await expect(starts(read, "import")).rejects.toThrow(
      /the object store refused.*import starts/s,
    );
    fs.rmSync(path.join(bin, "FAIL_GRANT"));
    // Counted out: the next step's start turns it on, its end turns it off.
    await starts(read, "verify");
    await succeeds(read, "verify");
    expect(recorded().slice(1)).toEqual(['grant ["u-read"]', 'revoke ["u-read"]']);
  });

  it("gives the data plane the admin key in a file, never in an environment, and none of the program's own", async () => {
    const bucketUsers = newSwitch("s4");
    const cleanup = bucketUsers.forStep(["cleanup"]);
    await starts(cleanup, "cleanup");
    const log = fs.readFileSync(calls, "utf8");
    expect(log).toContain(`keyfile ${adminSecret}`);
    const environment = log.split("\n").filter((line) => line.startsWith("env "));
    expect(environment.length).toBeGreaterThan(0);
    for (const line of environment) expect(line).not.toContain(adminSecret);
    expect(environment.some((line) => line.startsWith("env PULUMI_CONFIG"))).toBe(false);
    await succeeds(cleanup, "cleanup");
  });
});
