// The kustomize overlays render, every object passes the Kubernetes schema, and the DaemonSet,
// RBAC, ConfigMap and Secret match upstream's chart (upstream-caa.md §9.3) where users and the e2e
// harness depend on them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { Namespace, ServiceAccount, ConfigMap, Secret } from "kubernetes-models/v1";
import { DaemonSet } from "kubernetes-models/apps/v1";
import { ClusterRole, ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { RuntimeClass } from "kubernetes-models/node.k8s.io/v1";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1";
import type { IDaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { ProviderModule } from "../../providers/types.ts";
import { serveOptionSpecs } from "../../src/config/daemon.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const OVERLAYS = ["aws", "azure", "local"] as const;
const NAMESPACE = "confidential-containers-system";

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

const MODELS: Record<string, new (obj: never) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/ServiceAccount": ServiceAccount,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "apps/v1/DaemonSet": DaemonSet,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "node.k8s.io/v1/RuntimeClass": RuntimeClass,
  "apiextensions.k8s.io/v1/CustomResourceDefinition": CustomResourceDefinition,
};
const CLUSTER_SCOPED = new Set([
  "Namespace",
  "ClusterRole",
  "ClusterRoleBinding",
  "RuntimeClass",
  "CustomResourceDefinition",
]);

const kubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
const noKubectl = kubectl.status === 0 ? false : "kubectl (with kustomize) is not installed";
if (noKubectl) console.log(`# skipping deploy rendering tests: ${noKubectl}`);

const rendered = new Map<string, K8sObject[]>();
function render(overlay: string): K8sObject[] {
  const cached = rendered.get(overlay);
  if (cached) return cached;
  const res = spawnSync("kubectl", ["kustomize", path.join(ROOT, "deploy/overlays", overlay)], {
    encoding: "utf8",
  });
  assert.equal(res.status, 0, `kubectl kustomize deploy/overlays/${overlay} failed:\n${res.stderr}`);
  const objects = parseAllDocuments(res.stdout).map((d) => d.toJS() as K8sObject);
  rendered.set(overlay, objects);
  return objects;
}

function find<T = K8sObject>(objects: K8sObject[], kind: string, name: string): T {
  const obj = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(obj, `${kind} ${name} is missing`);
  return obj as T;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function assertLabel(name: string, what: string): void {
  assert.ok(
    name.length <= 63 && DNS1123_LABEL.test(name),
    `${what} ${JSON.stringify(name)} is not a DNS-1123 label`,
  );
}
function assertSubdomain(name: string, what: string): void {
  assert.ok(
    name.length <= 253 && DNS1123_SUBDOMAIN.test(name),
    `${what} ${JSON.stringify(name)} is not a DNS-1123 subdomain`,
  );
}

for (const overlay of OVERLAYS) {
  test(
    `deploy/overlays/${overlay} renders and every object passes the Kubernetes schema`,
    { skip: noKubectl },
    () => {
      const objects = render(overlay);
      const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
      assert.deepEqual(kinds, [
        "ClusterRole/cloud-api-adaptor",
        "ClusterRoleBinding/cloud-api-adaptor",
        "ConfigMap/peer-pods-cm",
        "CustomResourceDefinition/peerpods.confidentialcontainers.org",
        "DaemonSet/cloud-api-adaptor-daemonset",
        "Namespace/confidential-containers-system",
        "RuntimeClass/kata-remote",
        "Secret/peer-pods-secret",
        "ServiceAccount/cloud-api-adaptor",
      ]);
      for (const obj of objects) {
        const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
        assert.ok(Model, `no schema model for ${obj.apiVersion} ${obj.kind}`);
        assert.doesNotThrow(
          () => new Model(obj as never).validate(),
          `${obj.kind} ${obj.metadata.name} fails validation`,
        );
        if (CLUSTER_SCOPED.has(obj.kind))
          assert.equal(obj.metadata.namespace, undefined, `${obj.kind} is cluster-scoped`);
        else assert.equal(obj.metadata.namespace, NAMESPACE, `${obj.kind} ${obj.metadata.name} namespace`);
      }
    },
  );

  test(
    `deploy/overlays/${overlay}: object, container and volume names are DNS-1123 names`,
    { skip: noKubectl },
    () => {
      for (const obj of render(overlay)) {
        if (obj.kind === "Namespace") assertLabel(obj.metadata.name, "Namespace name");
        else assertSubdomain(obj.metadata.name, `${obj.kind} name`);
      }
      const ds = find<IDaemonSet>(render(overlay), "DaemonSet", "cloud-api-adaptor-daemonset");
      const pod = ds.spec!.template.spec!;
      for (const c of pod.containers) {
        assertLabel(c.name, "container name");
        for (const m of c.volumeMounts ?? []) assertLabel(m.name, "volumeMount name");
      }
      for (const v of pod.volumes ?? []) assertLabel(v.name, "volume name");
    },
  );
}

function adaptor(overlay: string): { ds: IDaemonSet; con: IContainer } {
  const ds = find<IDaemonSet>(render(overlay), "DaemonSet", "cloud-api-adaptor-daemonset");
  const con = ds.spec!.template.spec!.containers.find((c) => c.name === "cloud-api-adaptor-con");
  assert.ok(con, "container cloud-api-adaptor-con is missing (the e2e harness finds it by name)");
  return { ds, con };
}

test(
  "DaemonSet is shaped like upstream's: label, host network, node selector, rollout",
  { skip: noKubectl },
  () => {
    const { ds, con } = adaptor("aws");
    const pod = ds.spec!.template;
    assert.equal(ds.metadata!.labels!.app, "cloud-api-adaptor");
    assert.deepEqual(ds.spec!.selector.matchLabels, { app: "cloud-api-adaptor" });
    assert.equal(pod.metadata!.labels!.app, "cloud-api-adaptor");
    assert.equal(pod.spec!.serviceAccountName, "cloud-api-adaptor");
    assert.equal(pod.spec!.hostNetwork, true);
    assert.equal(pod.spec!.dnsPolicy, "ClusterFirstWithHostNet");
    assert.deepEqual(pod.spec!.nodeSelector, { "node.kubernetes.io/worker": "" });
    assert.deepEqual(ds.spec!.updateStrategy, {
      type: "RollingUpdate",
      rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
    });
    assert.equal(con.image, "ghcr.io/peerpod-caa/caa:latest");
    assert.deepEqual(con.command, ["caa", "serve"]);
    assert.ok(
      con.resources?.requests?.cpu && con.resources.requests.memory,
      "cpu and memory requests are set",
    );
  },
);

test(
  "DaemonSet container is not privileged and adds only NET_ADMIN and SYS_ADMIN",
  { skip: noKubectl },
  () => {
    const { con } = adaptor("aws");
    assert.equal(con.securityContext?.privileged, false);
    assert.deepEqual([...(con.securityContext?.capabilities?.add ?? [])].sort(), ["NET_ADMIN", "SYS_ADMIN"]);
    assert.equal(con.securityContext?.capabilities?.drop, undefined);
  },
);

test(
  "DaemonSet mounts the host paths upstream mounts, /run/netns with HostToContainer",
  { skip: noKubectl },
  () => {
    const { ds, con } = adaptor("aws");
    const volumes = new Map((ds.spec!.template.spec!.volumes ?? []).map((v) => [v.name, v]));
    const mounts = (con.volumeMounts ?? []).map((m) => {
      const hostPath = volumes.get(m.name)?.hostPath;
      assert.ok(hostPath, `volumeMount ${m.name} has no hostPath volume`);
      return {
        mountPath: m.mountPath,
        hostPath: hostPath.path,
        type: hostPath.type ?? "",
        readOnly: m.readOnly ?? false,
        propagation: m.mountPropagation ?? "None",
      };
    });
    const mount = (mountPath: string, type = "", readOnly = false, propagation = "None") => ({
      mountPath,
      hostPath: mountPath,
      type,
      readOnly,
      propagation,
    });
    assert.deepEqual(
      mounts.sort((a, b) => a.mountPath.localeCompare(b.mountPath)),
      [
        mount("/lib/modules", "", true),
        mount("/run/kata-containers/shared/direct-volumes", "DirectoryOrCreate"),
        mount("/run/netns", "", false, "HostToContainer"),
        mount("/run/peerpod", "DirectoryOrCreate"),
        mount("/run/xtables.lock", "FileOrCreate"),
      ],
    );
  },
);

test(
  "DaemonSet probes: upstream's startup probe and a liveness probe on /healthz",
  { skip: noKubectl },
  () => {
    const { con } = adaptor("aws");
    assert.deepEqual(con.startupProbe, {
      httpGet: { host: "127.0.0.1", port: 8000, path: "/startup" },
      initialDelaySeconds: 20,
      periodSeconds: 20,
      failureThreshold: 30,
    });
    assert.deepEqual(con.livenessProbe?.httpGet, { host: "127.0.0.1", port: 8000, path: "/healthz" });
  },
);

test(
  "DaemonSet env: NODE_NAME and POD_UID from the downward API, the rest from peer-pods-secret and -cm",
  { skip: noKubectl },
  () => {
    const { con } = adaptor("aws");
    assert.deepEqual(con.env, [
      { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
      { name: "POD_UID", valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } },
    ]);
    assert.deepEqual(con.envFrom, [
      { secretRef: { name: "peer-pods-secret" } },
      { configMapRef: { name: "peer-pods-cm" } },
    ]);
  },
);

test(
  "RuntimeClass kata-remote: handler kata-remote with kata-deploy's pod overhead",
  { skip: noKubectl },
  () => {
    const rc = find(render("local"), "RuntimeClass", "kata-remote");
    assert.equal(rc.handler, "kata-remote");
    assert.deepEqual(rc.overhead, { podFixed: { memory: "120Mi", cpu: "250m" } });
  },
);

test(
  "RBAC: the service account gets exactly upstream's rules plus what the leak collectors need",
  { skip: noKubectl },
  () => {
    const objects = render("azure");
    const role = find<ClusterRole>(objects, "ClusterRole", "cloud-api-adaptor");
    const rules = (role.rules ?? []).flatMap((r) =>
      (r.resources ?? []).map(
        (res) => `${r.apiGroups?.join(",") ?? ""}/${res}: ${[...(r.verbs ?? [])].sort().join(",")}`,
      ),
    );
    assert.deepEqual(rules.sort(), [
      "/events: create,patch",
      "/nodes/status: patch",
      "/nodes: get,list,patch",
      "/pods: get,list",
      "/secrets: get,list",
      "/serviceaccounts: get,list",
      "confidentialcontainers.org/peerpods: create,delete,get,list,patch,update,watch",
      "coordination.k8s.io/leases: create,get,update",
    ]);
    const binding = find<ClusterRoleBinding>(objects, "ClusterRoleBinding", "cloud-api-adaptor");
    assert.deepEqual(binding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: "cloud-api-adaptor",
    });
    assert.deepEqual(binding.subjects, [
      { kind: "ServiceAccount", name: "cloud-api-adaptor", namespace: NAMESPACE },
    ]);
  },
);

const REQUIRED_CM_KEYS: Record<(typeof OVERLAYS)[number], string[]> = {
  aws: [
    "PODVM_AMI_ID",
    "PODVM_INSTANCE_TYPE",
    "PODVM_INSTANCE_TYPES",
    "AWS_REGION",
    "AWS_SUBNET_ID",
    "AWS_SG_IDS",
    "SSH_KP_NAME",
    "USE_PUBLIC_IP",
    "DISABLECVM",
  ],
  azure: [
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_REGION",
    "AZURE_RESOURCE_GROUP",
    "AZURE_SUBNET_ID",
    "AZURE_NSG_ID",
    "AZURE_IMAGE_ID",
    "AZURE_INSTANCE_SIZE",
    "AZURE_INSTANCE_SIZES",
  ],
  local: [],
};
const SECRET_KEYS: Record<(typeof OVERLAYS)[number], string[]> = {
  aws: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"],
  azure: ["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"],
  local: [],
};

for (const overlay of OVERLAYS) {
  test(
    `peer-pods-cm and peer-pods-secret for ${overlay} carry upstream's keys, all read by the daemon`,
    { skip: noKubectl },
    async () => {
      const objects = render(overlay);
      const cm = find<{ data: Record<string, string> }>(objects, "ConfigMap", "peer-pods-cm");
      assert.equal(cm.data.CLOUD_PROVIDER, overlay);
      for (const key of REQUIRED_CM_KEYS[overlay]) assert.ok(key in cm.data, `peer-pods-cm misses ${key}`);
      const secret = find<{ stringData?: Record<string, string>; data?: Record<string, string> }>(
        objects,
        "Secret",
        "peer-pods-secret",
      );
      assert.deepEqual(
        Object.keys({ ...secret.data, ...secret.stringData }).sort(),
        [...SECRET_KEYS[overlay]].sort(),
      );
      const known = await envNamesRead(overlay);
      const unread = Object.keys(cm.data).filter((k) => !known.has(k));
      assert.deepEqual(unread, [], `peer-pods-cm keys no code reads for ${overlay}`);
    },
  );
}

/** Env names the daemon reads with a provider: its own settings plus the provider module's envNames. */
async function envNamesRead(provider: string): Promise<Set<string>> {
  const mod = (await import(`../../providers/${provider}/index.ts`)) as { default: ProviderModule };
  assert.ok(mod.default.envNames.length > 0, `providers/${provider} declares no envNames`);
  const daemon = serveOptionSpecs().flatMap((spec) =>
    Object.values(spec).flatMap((o) => (o.env ? [o.env] : [])),
  );
  return new Set([...daemon, ...mod.default.envNames]);
}
