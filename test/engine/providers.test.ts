import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keptValueCommand } from "../../components/specs/commands";
import { Minio } from "../support/servers";
import { engineWorkspace, repoRoot, type EngineWorkspace } from "./workspace";

/**
 * ferry's build of the command provider as the real engine drives it, where its behaviour could
 * differ from the real provider's: Check, addPreviousOutputInEnv, custom timeouts. A small program
 * of its own, one scenario a stack, run with the CLI and plugins scripts/build/toolchain.sh builds.
 */

let workspace: EngineWorkspace;
let probe: string;

// One program, the scenario chosen by config: raw registrations reach Check with what the SDK
// would never send (a typo), the SDK's own classes with what it would.
const program = `
const pulumi = require("@pulumi/pulumi");
const command = require("@pulumi/command");
const minio = require("@pulumi/minio");
const config = new pulumi.Config();
switch (config.require("scenario")) {
  case "typo":
    new pulumi.CustomResource("command:local:Command", "typo", { create: "true", creat: "true" });
    break;
  case "assets":
    new command.local.Command("assets", { create: "true", assetPaths: ["*.txt"] });
    break;
  case "remote-proxy":
    new command.remote.Command("proxied", {
      create: "true",
      connection: { host: "127.0.0.1", proxy: { host: "127.0.0.1" } },
    });
    break;
  case "timeout":
    // The child ignores SIGTERM: only the SIGKILL after the grace period ends it.
    new command.local.Command(
      "slow",
      { create: "sh -c 'trap \\"\\" TERM; echo $$ > child.pid; sleep 120' & wait" },
      { customTimeouts: { create: "2s" } },
    );
    break;
  case "minio": {
    const provider = new minio.Provider("store", {
      minioServer: config.require("server"),
      minioUser: config.require("user"),
      minioPassword: config.requireSecret("password"),
    });
    new minio.S3Bucket("bucket", { bucket: "probe-bucket" }, { provider });
    const user = new minio.IamUser("user", { name: "probe-user" }, { provider });
    const policy = new minio.IamPolicy("policy", {
      name: "probe-policy",
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::probe-bucket/*"] }],
      }),
    }, { provider });
    new minio.IamUserPolicyAttachment("attachment", { userName: user.name, policyName: policy.name }, { provider });
    break;
  }
  case "minio-off": {
    const provider = new minio.Provider("store", {
      minioServer: config.require("server"),
      minioUser: config.require("user"),
      minioPassword: config.requireSecret("password"),
    });
    new minio.IamUser(
      "user",
      { name: "probe-user-off", disableUser: config.require("disableUser") === "true" },
      { provider },
    );
    break;
  }
  case "minio-typo": {
    // Each of ferry's five minio types, each with a property the substitute does not have.
    const provider = new minio.Provider("store", {
      minioServer: "127.0.0.1:1",
      minioUser: "u",
      minioPassword: "p",
    });
    const wrong = {
      bucket: ["minio:index/s3Bucket:S3Bucket", { bucket: "b", objectLockingx: true }],
      ilm: ["minio:index/ilmPolicy:IlmPolicy", { bucket: "b", rules: [], extra: 1 }],
      user: ["minio:index/iamUser:IamUser", { name: "u", tags: {} }],
      policy: ["minio:index/iamPolicy:IamPolicy", { name: "p", policy: "{}", polcy: "{}" }],
      attachment: [
        "minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment",
        { userName: "u", policyName: "p", groupName: "g" },
      ],
    }[config.require("kind")];
    new pulumi.CustomResource(wrong[0], "wrong", wrong[1], { provider });
    break;
  }
  case "kept": {
    // A kept value's command as ferry builds it (specs/commands.ts), its digest from config.
    const args = JSON.parse(config.require("args"));
    args.environment.KEPT_DIGEST = config.require("digest");
    const c = new command.local.Command("kept", args);
    module.exports.urn = c.urn;
    break;
  }
  case "previous": {
    const round = config.require("round");
    const add = config.getBoolean("addPreviousOutputInEnv");
    const c = new command.local.Command("previous", {
      create: 'printf "%s after %s" "$ROUND" "\${PULUMI_COMMAND_STDOUT-nothing}"',
      environment: { ROUND: round },
      ...(add === undefined ? {} : { addPreviousOutputInEnv: add }),
    });
    module.exports.stdout = c.stdout;
    break;
  }
}
`;

function pulumi(stack: string, args: string[]) {
  const result = spawnSync("pulumi", [...args, "--stack", stack, "--non-interactive"], {
    cwd: probe,
    env: workspace.env,
    encoding: "utf8",
    timeout: 300_000,
  });
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
}

function stack(name: string, config: Record<string, string>, secrets: Record<string, string> = {}) {
  const init = pulumi(name, ["stack", "init"]);
  expect(init.status, init.output).toBe(0);
  for (const [key, value] of Object.entries(config)) {
    const set = pulumi(name, ["config", "set", key, value]);
    expect(set.status, set.output).toBe(0);
  }
  for (const [key, value] of Object.entries(secrets)) {
    const set = spawnSync(
      "pulumi",
      ["config", "set", "--secret", key, "--stack", name, "--non-interactive"],
      {
        cwd: probe,
        env: workspace.env,
        input: value,
        encoding: "utf8",
      },
    );
    expect(set.status, set.stderr).toBe(0);
  }
}

/** The status of the stack's minio user, as its state holds it. */
function userStatus(name: string): string {
  const exported = pulumi(name, ["stack", "export"]);
  const deployment = JSON.parse(exported.output.slice(0, exported.output.lastIndexOf("}") + 1));
  const user = deployment.deployment.resources.find(
    (r: { type: string }) => r.type === "minio:index/iamUser:IamUser",
  );
  return user.outputs.status;
}

/** The steps a preview would take, as "op type" lines for the resources that would change. */
function changes(name: string): string[] {
  const preview = pulumi(name, ["preview", "--json"]);
  expect(preview.status, preview.output).toBe(0);
  const steps = JSON.parse(preview.output.slice(0, preview.output.lastIndexOf("}") + 1)).steps as {
    op: string;
    urn: string;
  }[];
  return steps
    .filter((step) => step.op !== "same")
    .map((step) => `${step.op} ${step.urn.split("::").pop()}`)
    .sort();
}

beforeAll(() => {
  workspace = engineWorkspace("providers");
  probe = path.join(workspace.work, "probe");
  fs.mkdirSync(probe);
  fs.writeFileSync(
    path.join(probe, "Pulumi.yaml"),
    "name: ferry-provider-probe\nruntime: nodejs\nmain: index.js\n",
  );
  fs.writeFileSync(path.join(probe, "index.js"), program);
  fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(probe, "node_modules"));
});

afterAll(() => {
  if (workspace) fs.rmSync(workspace.work, { recursive: true, force: true });
});

describe("ferry's minio provider under the real engine", () => {
  let store: Minio;
  beforeAll(async () => {
    store = await Minio.start();
  });
  afterAll(async () => {
    await store?.stop();
  });

  it.each([
    ["bucket", "objectLockingx"],
    ["ilm", "extra"],
    ["user", "tags"],
    ["policy", "polcy"],
    ["attachment", "groupName"],
  ])("refuses at preview a property it does not implement (%s)", (kind, property) => {
    stack(`minio-typo-${kind}`, { scenario: "minio-typo", kind });
    const preview = pulumi(`minio-typo-${kind}`, ["preview"]);
    expect(preview.status, preview.output).not.toBe(0);
    expect(preview.output).toMatch(
      new RegExp(`${property}.*not supported by ferry's minio provider`),
    );
  });

  it("creates a user off when disableUser is set, and turns it on or off as disableUser changes, as the real provider", () => {
    stack(
      "minio-off",
      {
        scenario: "minio-off",
        server: `127.0.0.1:${store.port}`,
        user: store.rootUser,
        disableUser: "true",
      },
      { password: store.rootPassword },
    );
    const serverStatus = () =>
      JSON.parse(
        store.mustMc(["admin", "user", "info", "admin", "probe-user-off", "--json"]).toString(),
      ).userStatus;
    const up = pulumi("minio-off", ["up", "--yes", "--skip-preview"]);
    expect(up.status, up.output).toBe(0);
    expect(serverStatus()).toBe("disabled");
    expect(userStatus("minio-off")).toBe("disabled");
    expect(changes("minio-off")).toEqual([]);
    const refreshed = pulumi("minio-off", ["refresh", "--yes", "--skip-preview"]);
    expect(refreshed.status, refreshed.output).toBe(0);
    expect(serverStatus()).toBe("disabled");

    const on = pulumi("minio-off", ["config", "set", "disableUser", "false"]);
    expect(on.status, on.output).toBe(0);
    expect(pulumi("minio-off", ["up", "--yes", "--skip-preview"]).status).toBe(0);
    expect(serverStatus()).toBe("enabled");
    expect(userStatus("minio-off")).toBe("enabled");
    expect(pulumi("minio-off", ["destroy", "--yes", "--skip-preview"]).status).toBe(0);
  });

  it("sees on refresh what changed on the server: a disabled user, a removed user and bucket", () => {
    stack(
      "minio",
      { scenario: "minio", server: `127.0.0.1:${store.port}`, user: store.rootUser },
      { password: store.rootPassword },
    );
    const up = pulumi("minio", ["up", "--yes", "--skip-preview"]);
    expect(up.status, up.output).toBe(0);
    expect(changes("minio")).toEqual([]);
    expect(userStatus("minio")).toBe("enabled");

    store.mustMc(["admin", "user", "disable", "admin", "probe-user"]);
    const refreshed = pulumi("minio", ["refresh", "--yes", "--skip-preview"]);
    expect(refreshed.status, refreshed.output).toBe(0);
    // A refresh updates the resources' state (the stack's outputs only change on up).
    expect(userStatus("minio")).toBe("disabled");

    store.mustMc(["admin", "user", "remove", "admin", "probe-user"]);
    store.mustMc(["rb", "admin/probe-bucket"]);
    const again = pulumi("minio", ["refresh", "--yes", "--skip-preview"]);
    expect(again.status, again.output).toBe(0);
    expect(changes("minio")).toEqual(["create attachment", "create bucket", "create user"]);
    const restored = pulumi("minio", ["up", "--yes", "--skip-preview"]);
    expect(restored.status, restored.output).toBe(0);
    expect(store.mc(["ls", "admin/probe-bucket"]).status).toBe(0);
    expect(changes("minio")).toEqual([]);
  });
});

describe("ferry's command provider under the real engine", () => {
  it.each([
    ["typo", "command:local:Command has no input creat"],
    ["assets", "assetPaths is not implemented by ferry's build of the command provider"],
    [
      "remote-proxy",
      "connection.proxy is not implemented by ferry's build of the command provider",
    ],
  ])("refuses at preview what it would otherwise ignore (%s)", (scenario, message) => {
    stack(scenario, { scenario });
    const preview = pulumi(scenario, ["preview"]);
    expect(preview.status, preview.output).not.toBe(0);
    expect(preview.output).toContain(message);
  });

  it("gives an update the previous stdout unless addPreviousOutputInEnv is false, as the real provider", () => {
    for (const [name, add, second] of [
      ["previous-default", undefined, "2 after 1 after nothing"],
      ["previous-off", "false", "2 after nothing"],
    ] as const) {
      stack(name, {
        scenario: "previous",
        round: "1",
        ...(add ? { addPreviousOutputInEnv: add } : {}),
      });
      for (const round of ["1", "2"]) {
        expect(pulumi(name, ["config", "set", "round", round]).status).toBe(0);
        const up = pulumi(name, ["up", "--yes", "--skip-preview"]);
        expect(up.status, up.output).toBe(0);
      }
      const stdout = pulumi(name, ["stack", "output", "stdout"]);
      expect(stdout.output.trim()).toBe(second);
    }
  });

  // What holds ferry:destinationRootPassword to the server's (components/rootPasswordKept.ts).
  it("keeps a value's command to its first value: another is refused until it is set back or the command replaced, and ferry's own new text passes", () => {
    const args = (refusal: string) => JSON.stringify(keptValueCommand("", refusal, ["volume-1"]));
    stack("kept", { scenario: "kept", args: args("REFUSED: set it back"), digest: "a" });
    const up = () => pulumi("kept", ["up", "--yes", "--skip-preview"]);
    const first = up();
    expect(first.status, first.output).toBe(0);
    expect(pulumi("kept", ["config", "set", "digest", "b"]).status).toBe(0);
    for (let attempt = 0; attempt < 2; attempt++) {
      const refused = up();
      expect(refused.status, refused.output).not.toBe(0);
      expect(refused.output).toContain("REFUSED: set it back");
    }
    expect(pulumi("kept", ["config", "set", "digest", "a"]).status).toBe(0);
    expect(changes("kept")).toEqual([]);
    // A new text of ferry's: an update, which finds the digest unchanged.
    expect(pulumi("kept", ["config", "set", "args", args("REFUSED: new words")]).status).toBe(0);
    const reworded = up();
    expect(reworded.status, reworded.output).toBe(0);
    // Taken on purpose: the command replaced, its create takes the new value.
    expect(pulumi("kept", ["config", "set", "digest", "b"]).status).toBe(0);
    const urn = pulumi("kept", ["stack", "output", "urn"]).output.trim();
    const replaced = pulumi("kept", ["up", "--yes", "--skip-preview", "--replace", urn]);
    expect(replaced.status, replaced.output).toBe(0);
    const after = up();
    expect(after.status, after.output).toBe(0);
    expect(changes("kept")).toEqual([]);
  });

  it("stops a command past its custom timeout, with everything it started", () => {
    stack("timeout", { scenario: "timeout" });
    const started = Date.now();
    const up = pulumi("timeout", ["up", "--yes", "--skip-preview"]);
    expect(up.status, up.output).not.toBe(0);
    expect(up.output).toContain("timed out after 2s");
    expect(Date.now() - started).toBeLessThan(60_000);
    const child = Number(fs.readFileSync(path.join(probe, "child.pid"), "utf8").trim());
    expect(child).toBeGreaterThan(1);
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      try {
        process.kill(child, 0);
        spawnSync("sleep", ["0.1"]);
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
  });
});
