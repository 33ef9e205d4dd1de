import { describe, expect, it } from "vitest";
import {
  certificateObjects,
  certificatesPodLabels,
  certificatesJob,
  certificatesRoleRules,
  renewalWindow,
  serviceDnsNames,
} from "../../components/specs/certificates";
import { apiServerEgressSpec, apiServerEndpoints } from "../../components/specs/networkPolicy";

/** The certificates Job's policy, as ServerCertificates asks for it. */
const certificatesEgressSpec = (api: Parameters<typeof apiServerEgressSpec>[1]) =>
  apiServerEgressSpec(
    certificatesPodLabels,
    api,
    "the destination cluster",
    "the certificates Job",
  );

const day = 86_400_000;

describe("the destination server's certificates, as the program declares them", () => {
  it("are named after the Service, for every name the server is dialled by", () => {
    expect(certificateObjects("db")).toEqual({
      caSecret: "db-ca-key",
      serverSecret: "db-server-tls",
      publicConfigMap: "db-ca",
    });
    expect(serviceDnsNames("db", "apps")).toEqual([
      "db",
      "db.apps",
      "db.apps.svc",
      "db.apps.svc.cluster.local",
    ]);
  });

  it("run their Job once a sixth of the lifetime: a pulumi up in the same window runs nothing", () => {
    const start = new Date(60 * day * 500);
    expect(renewalWindow(start, 365)).toBe(500);
    expect(renewalWindow(new Date(start.getTime() + 60 * day - 1), 365)).toBe(500);
    expect(renewalWindow(new Date(start.getTime() + 60 * day), 365)).toBe(501);
    // The shortest lifetime still has a window of whole days.
    expect(renewalWindow(new Date(day * 7 + 1), 7)).toBe(7);
    expect(renewalWindow(new Date(day * 8 - 1), 7)).toBe(7);
    expect(renewalWindow(new Date(day * 8), 7)).toBe(8);
  });

  it("give the Job's account its three objects only", () => {
    const rules = certificatesRoleRules(certificateObjects("db"));
    expect(rules).toEqual([
      {
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: ["db-ca-key", "db-server-tls"],
        verbs: ["get", "update"],
      },
      {
        apiGroups: [""],
        resources: ["configmaps"],
        resourceNames: ["db-ca"],
        verbs: ["get", "update"],
      },
      { apiGroups: [""], resources: ["secrets", "configmaps"], verbs: ["create"] },
    ]);
    expect(JSON.stringify(rules)).not.toMatch(/list|watch|delete|\*/);
  });

  it("let the Job reach the API server's endpoints only, and refuse a cluster that lists none", () => {
    const api = apiServerEndpoints({
      endpoints: [{ addresses: ["192.0.2.10", "2001:db8::1"] }, {}],
      ports: [{ port: 6443 }, {}],
    });
    expect(api).toEqual({ addresses: ["192.0.2.10", "2001:db8::1"], ports: [6443] });
    expect(certificatesEgressSpec(api)).toEqual({
      podSelector: {
        matchLabels: {
          "app.kubernetes.io/part-of": "ferry",
          "app.kubernetes.io/component": "certificates",
        },
      },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ ipBlock: { cidr: "192.0.2.10/32" } }, { ipBlock: { cidr: "2001:db8::1/128" } }],
          ports: [{ protocol: "TCP", port: 6443 }],
        },
      ],
    });
    expect(() => certificatesEgressSpec(apiServerEndpoints({}))).toThrow(
      "EndpointSlice default/kubernetes",
    );
    expect(() => certificatesEgressSpec({ addresses: ["192.0.2.10"], ports: [] })).toThrow(
      "no API server endpoint",
    );
  });

  it("run ferry-dataplane certificates with the settings, as the account that may touch them", () => {
    const job = certificatesJob({
      namespace: "apps",
      serviceName: "db",
      dnsNames: serviceDnsNames("db", "apps"),
      settings: { keyType: "rsa-2048", validityDays: 90 },
      window: 1234,
      serviceAccountName: "db-tls",
      image: "tools:1",
      imagePullPolicy: "IfNotPresent",
      imagePullSecrets: [],
      deadlineSeconds: 300,
    });
    expect(job.metadata).toMatchObject({ name: "ferry-certificates-1234", namespace: "apps" });
    const spec = job.spec as any;
    expect(spec.activeDeadlineSeconds).toBe(300);
    const pod = spec.template.spec;
    expect(pod).toMatchObject({
      serviceAccountName: "db-tls",
      automountServiceAccountToken: true,
      restartPolicy: "Never",
    });
    expect(pod.imagePullSecrets).toBeUndefined();
    expect(pod.containers).toHaveLength(1);
    expect(pod.containers[0]).toMatchObject({
      image: "tools:1",
      command: ["ferry-dataplane", "certificates"],
      securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
    });
    expect(pod.containers[0].env).toEqual([
      { name: "FERRY_STEP", value: "ferry-certificates" },
      { name: "CERT_NAMES", value: "db db.apps db.apps.svc db.apps.svc.cluster.local" },
      { name: "CERT_ISSUER", value: "db.apps" },
      { name: "CERT_KEY_TYPE", value: "rsa-2048" },
      { name: "CERT_VALIDITY_DAYS", value: "90" },
      { name: "CERT_CA_SECRET", value: "db-ca-key" },
      { name: "CERT_SERVER_SECRET", value: "db-server-tls" },
      { name: "CERT_PUBLIC_CONFIGMAP", value: "db-ca" },
    ]);
    // Nothing of the keys is in the Job: they are made in its pod.
    expect(pod.volumes).toBeUndefined();
  });
});
