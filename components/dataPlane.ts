import * as fs from "fs";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/**
 * Plain functions shared by the components that run ferry's data-plane scripts: in pods (a
 * ConfigMap of scripts, a Secret mounted as files) or on a host (the script fed on stdin, so
 * neither it nor any secret is on a command line).
 */

export type DataPlaneScript = "dump.sh" | "import.sh" | "verify.sh" | "cleanup.sh" | "report.sh";

const scriptsDir = path.join(__dirname, "scripts");

/** The text of one data-plane script, read from components/scripts. */
export function readScript(name: DataPlaneScript | "lib.sh"): string {
  return fs.readFileSync(path.join(scriptsDir, name), "utf8");
}

/** Every script a pod may run, as ConfigMap data; lib.sh is sourced by each of them. */
export function scriptsConfigMapData(scripts: DataPlaneScript[]): Record<string, string> {
  const data: Record<string, string> = { "lib.sh": readScript("lib.sh") };
  for (const script of scripts) {
    data[script] = readScript(script);
  }
  return data;
}

/** Quotes a value for POSIX sh: inside single quotes nothing is special but the quote itself. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * A self-contained program for `sh -s`: the environment as exports, then lib.sh, then the
 * script. Secrets travel inside this text on stdin, never in argv; the result is secret when any
 * input is.
 */
export function stdinProgram(
  script: DataPlaneScript,
  environment: Record<string, pulumi.Input<string>>,
): pulumi.Output<string> {
  return pulumi.all(environment).apply((env) => {
    const exports = Object.keys(env)
      .sort()
      .map((name) => `${name}=${shellQuote(env[name])}; export ${name}`);
    return ["set -eu", ...exports, readScript("lib.sh"), readScript(script)].join("\n");
  });
}

/** Where the Secret holding a Job's credentials is mounted. */
export const secretMountPath = "/var/run/ferry/secrets";
/** Where the scripts ConfigMap is mounted. */
export const scriptMountPath = "/opt/ferry";

export interface DataPlaneJobSpec {
  /** Job name; it carries the run id so that a new run replaces the Job. */
  readonly name: string;
  readonly namespace: pulumi.Input<string>;
  readonly image: string;
  readonly imagePullPolicy: string;
  readonly script: DataPlaneScript;
  readonly scriptsConfigMap: pulumi.Input<string>;
  /** Plain settings. */
  readonly env: Record<string, pulumi.Input<string>>;
  /** Secret files: environment variable (NAME_FILE) → key in `secretName`. */
  readonly secretFiles: Record<string, string>;
  readonly secretName: pulumi.Input<string>;
  readonly timeoutMinutes: number;
  readonly backoffLimit: number;
  readonly labels: Record<string, string>;
}

/** The manifest of a Job that runs one data-plane script and exits. */
export function dataPlaneJob(spec: DataPlaneJobSpec): k8s.batch.v1.JobArgs {
  const env: k8s.types.input.core.v1.EnvVar[] = [
    ...Object.entries(spec.env).map(([name, value]) => ({ name, value })),
    ...Object.entries(spec.secretFiles).map(([name, key]) => ({
      name,
      value: `${secretMountPath}/${key}`,
    })),
    { name: "TMPDIR", value: "/tmp" },
  ];
  return {
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels: spec.labels,
      annotations: {
        // A failed Job is replaced on the next `pulumi up` instead of being awaited again.
        "pulumi.com/replaceUnready": "true",
      },
    },
    spec: {
      backoffLimit: spec.backoffLimit,
      activeDeadlineSeconds: spec.timeoutMinutes * 60,
      template: {
        metadata: { labels: spec.labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          containers: [
            {
              name: spec.script.replace(/\.sh$/, ""),
              image: spec.image,
              imagePullPolicy: spec.imagePullPolicy,
              command: ["/bin/sh", `${scriptMountPath}/${spec.script}`],
              env,
              terminationMessagePolicy: "FallbackToLogsOnError",
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
              },
              volumeMounts: [
                { name: "scripts", mountPath: scriptMountPath, readOnly: true },
                { name: "secrets", mountPath: secretMountPath, readOnly: true },
                { name: "tmp", mountPath: "/tmp" },
              ],
            },
          ],
          volumes: [
            { name: "scripts", configMap: { name: spec.scriptsConfigMap, defaultMode: 0o555 } },
            { name: "secrets", secret: { secretName: spec.secretName, defaultMode: 0o400 } },
            { name: "tmp", emptyDir: {} },
          ],
        },
      },
    },
  };
}

/** Custom timeouts for a resource the provider awaits (a Job, a command) for `minutes`. */
export function awaitTimeouts(minutes: number): pulumi.CustomTimeouts {
  return { create: `${minutes}m`, update: `${minutes}m` };
}

/** The labels every ferry object carries, so `kubectl get -l app.kubernetes.io/part-of=ferry` finds them. */
export function ferryLabels(component: string, runId?: string): Record<string, string> {
  return {
    "app.kubernetes.io/part-of": "ferry",
    "app.kubernetes.io/component": component,
    ...(runId ? { "ferry.dev/run-id": runId } : {}),
  };
}

/** The URL scheme for an object store endpoint. */
export function endpointUrl(hostPort: string, useTls: boolean): string {
  return `${useTls ? "https" : "http"}://${hostPort}`;
}
