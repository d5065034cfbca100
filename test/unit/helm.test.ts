// The Helm chart deploy/helm/peerpods with a real helm binary: `helm lint` and `helm template` for
// every provider, every object validated against the Kubernetes schema, upstream's object names,
// an upstream-style values file, the switchable additions (webhook, cluster collector), and the
// same objects as the kustomize overlays where both install them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { Deployment, DaemonSet } from "kubernetes-models/apps/v1";
import { MutatingWebhookConfiguration } from "kubernetes-models/admissionregistration.k8s.io/v1";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1";
import { RuntimeClass } from "kubernetes-models/node.k8s.io/v1";
import { ClusterRole, ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { ConfigMap, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { helmOrSkip } from "../helpers/helm.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CHART = path.join(ROOT, "deploy/helm/peerpods");
const NS = "confidential-containers-system";
const PROVIDERS = ["aws", "azure", "local"] as const;
const { helm, skip } = helmOrSkip();
if (skip) console.log(`# skipping helm chart tests: ${skip}`);
const kubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0;

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [k: string]: unknown;
}

const MODELS: Record<string, new (obj: never) => { validate(): void }> = {
  "v1/ServiceAccount": ServiceAccount,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/DaemonSet": DaemonSet,
  "apps/v1/Deployment": Deployment,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "node.k8s.io/v1/RuntimeClass": RuntimeClass,
  "apiextensions.k8s.io/v1/CustomResourceDefinition": CustomResourceDefinition,
  "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration": MutatingWebhookConfiguration,
};
// cert-manager's kinds have no model in kubernetes-models; their fields are checked by hand.
const CERT_MANAGER = new Set(["cert-manager.io/v1/Issuer", "cert-manager.io/v1/Certificate"]);

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(helm, args, { encoding: "utf8" });
}

function template(args: string[]): Obj[] {
  const res = run(["template", "peerpods", CHART, "--namespace", NS, ...args]);
  assert.equal(res.status, 0, `helm template ${args.join(" ")} failed:\n${res.stderr}`);
  const objects = parseAllDocuments(res.stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
  for (const obj of objects) {
    const key = `${obj.apiVersion}/${obj.kind}`;
    if (CERT_MANAGER.has(key)) continue;
    const Model = MODELS[key];
    assert.ok(Model, `no schema model for ${key}`);
    assert.doesNotThrow(
      () => new Model(obj as never).validate(),
      `${obj.kind} ${obj.metadata.name} fails validation`,
    );
  }
  return objects;
}

function find(objects: Obj[], kind: string, name: string): Obj {
  const obj = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(obj, `${kind} ${name} is missing`);
  return obj;
}

const names = (objects: Obj[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();

const SHARED = [
  "ClusterRole/cloud-api-adaptor",
  "ClusterRoleBinding/cloud-api-adaptor",
  "ConfigMap/peer-pods-cm",
  "CustomResourceDefinition/peerpods.confidentialcontainers.org",
  "DaemonSet/cloud-api-adaptor-daemonset",
  "RuntimeClass/kata-remote",
  "Secret/peer-pods-secret",
  "ServiceAccount/cloud-api-adaptor",
];

describe("helm chart deploy/helm/peerpods", { skip }, () => {
  for (const provider of PROVIDERS) {
    test(`${provider}: helm lint passes and helm template renders upstream's object names`, () => {
      for (const extra of [[], ["--set", "webhook.enabled=true", "--set", "clusterCollector.enabled=true"]]) {
        const lint = run(["lint", CHART, "--strict", "--set", `provider=${provider}`, ...extra]);
        assert.equal(lint.status, 0, `helm lint (${provider}) failed:\n${lint.stdout}${lint.stderr}`);
      }
      const objects = template(["--set", `provider=${provider}`]);
      assert.deepEqual(names(objects), SHARED);
      const cm = find(objects, "ConfigMap", "peer-pods-cm") as Obj & { data: Record<string, string> };
      assert.equal(cm.data.CLOUD_PROVIDER, provider);
      assert.equal(cm.data.LEAK_CLUSTER_SCOPE, undefined);
      for (const o of objects)
        if (
          !["ClusterRole", "ClusterRoleBinding", "RuntimeClass", "CustomResourceDefinition"].includes(o.kind)
        )
          assert.equal(o.metadata.namespace, NS, `${o.kind} ${o.metadata.name} namespace`);
    });
  }

  test("the webhook and the cluster collector are switchable", () => {
    const objects = template([
      "--set",
      "provider=aws",
      "--set",
      "webhook.enabled=true",
      "--set",
      "clusterCollector.enabled=true",
    ]);
    assert.deepEqual(
      names(objects),
      [
        ...SHARED,
        "Certificate/peerpods-webhook-cert",
        "Deployment/peerpods-webhook",
        "Issuer/peerpods-webhook-selfsigned",
        "MutatingWebhookConfiguration/mwebhook.peerpods.io",
        "Service/peerpods-webhook",
      ].sort(),
    );
    const cm = find(objects, "ConfigMap", "peer-pods-cm") as Obj & { data: Record<string, string> };
    assert.equal(cm.data.LEAK_CLUSTER_SCOPE, "true");
    assert.equal(cm.data.LEAK_LEASE_NAMESPACE, NS);
    const mwc = find(objects, "MutatingWebhookConfiguration", "mwebhook.peerpods.io") as Obj & {
      webhooks: {
        clientConfig: { service: Record<string, unknown> };
        matchConditions: { expression: string }[];
      }[];
    };
    assert.equal(mwc.metadata.annotations?.["cert-manager.io/inject-ca-from"], `${NS}/peerpods-webhook-cert`);
    assert.deepEqual(mwc.webhooks[0].clientConfig.service, {
      name: "peerpods-webhook",
      namespace: NS,
      path: "/mutate-v1-pod",
      port: 443,
    });
    assert.equal(
      mwc.webhooks[0].matchConditions[0].expression,
      "has(object.spec.runtimeClassName) && object.spec.runtimeClassName == 'kata-remote'",
    );
    const cert = find(objects, "Certificate", "peerpods-webhook-cert") as Obj & {
      spec: Record<string, unknown>;
    };
    assert.deepEqual(cert.spec.dnsNames, [
      `peerpods-webhook.${NS}.svc`,
      `peerpods-webhook.${NS}.svc.cluster.local`,
    ]);
    assert.equal(cert.spec.secretName, "peerpods-webhook-cert");

    // A self-made CA instead of cert-manager: the Secret and the caBundle are the operator's.
    const own = template([
      "--set",
      "provider=aws",
      "--set",
      "webhook.enabled=true",
      "--set",
      "webhook.certManager.enabled=false",
      "--set",
      "webhook.tls.secretName=my-webhook-tls",
      "--set",
      "webhook.tls.caBundle=Q0E=",
    ]);
    assert.ok(!names(own).some((n) => n.startsWith("Certificate/") || n.startsWith("Issuer/")));
    const mwc2 = find(own, "MutatingWebhookConfiguration", "mwebhook.peerpods.io") as Obj & {
      webhooks: { clientConfig: { caBundle: string } }[];
    };
    assert.equal(mwc2.webhooks[0].clientConfig.caBundle, "Q0E=");
    assert.match(
      JSON.stringify(find(own, "Deployment", "peerpods-webhook")),
      /"secretName":"my-webhook-tls"/,
    );
    const bad = run([
      "template",
      "p",
      CHART,
      "--set",
      "provider=aws",
      "--set",
      "webhook.enabled=true",
      "--set",
      "webhook.certManager.enabled=false",
    ]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /needs webhook.tls.secretName/);
  });

  test("an upstream-style values file renders", () => {
    const objects = template(["-f", path.join(CHART, "examples/upstream-aws.yaml")]);
    const cm = find(objects, "ConfigMap", "peer-pods-cm") as Obj & { data: Record<string, string> };
    assert.equal(cm.data.PODVM_AMI_ID, "ami-0123456789abcdef0");
    assert.equal(cm.data.PODVM_INSTANCE_TYPES, "t3.small,t3.medium");
    assert.equal(cm.data.PEERPODS_LIMIT_PER_NODE, "4");
    assert.equal(cm.data.TLS_MIN_VERSION, "VersionTLS13");
    // Keys the file does not set keep the chart's defaults.
    assert.equal(cm.data.ROOT_VOLUME_SIZE, "30");
    const secret = find(objects, "Secret", "peer-pods-secret") as Obj & {
      stringData: Record<string, string>;
    };
    assert.equal(secret.stringData.AWS_ACCESS_KEY_ID, "AKIAEXAMPLE");
    const ds = JSON.stringify(find(objects, "DaemonSet", "cloud-api-adaptor-daemonset"));
    assert.match(ds, /"image":"ghcr.io\/peerpod-caa\/caa:v0.1.0"/);

    // secrets.mode=reference with upstream's certs-for-tls.
    const ref = template([
      "--set",
      "provider=azure",
      "--set",
      "secrets.mode=reference",
      "--set",
      "secrets.existingSecretName=my-azure-creds",
      "--set",
      "secrets.existingTlsSecretName=certs-for-tls",
    ]);
    assert.ok(!names(ref).includes("Secret/peer-pods-secret"));
    const refDs = JSON.stringify(find(ref, "DaemonSet", "cloud-api-adaptor-daemonset"));
    assert.match(refDs, /"secretRef":\{"name":"my-azure-creds"\}/);
    assert.match(refDs, /"mountPath":"\/etc\/certificates"/);
    assert.match(refDs, /"name":"CACERT_FILE","value":"\/etc\/certificates\/ca.crt"/);

    const none = run(["template", "p", CHART]);
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /set provider \(aws, azure or local\)/);
  });

  for (const provider of PROVIDERS) {
    test(
      `${provider}: the same objects as deploy/overlays/${provider}`,
      { skip: kubectl ? false : "no kubectl" },
      () => {
        const res = spawnSync("kubectl", ["kustomize", path.join(ROOT, "deploy/overlays", provider)], {
          encoding: "utf8",
        });
        assert.equal(res.status, 0, res.stderr);
        const kustomized = parseAllDocuments(res.stdout).map((d) => d.toJS() as Obj);
        const charted = template(["--set", `provider=${provider}`]);
        for (const name of SHARED) {
          const [kind, n] = name.split("/");
          const a = { ...find(charted, kind, n) };
          const b = { ...find(kustomized, kind, n) };
          assert.deepEqual(a, b, `${name} differs between the chart and the overlay`);
        }
      },
    );
  }
});
