// `caa webhook` over real HTTPS: AdmissionReview v1 bodies shaped as in the Kubernetes docs
// ("Dynamic Admission Control", request and response examples), the returned JSON patch applied
// to the pod and the result validated against the Pod schema.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Pod } from "kubernetes-models/v1";
import type { InstanceType } from "../../providers/types.ts";
import { generateCertificate, loadSigner } from "../../src/tls/certgen.ts";
import { startWebhook, WEBHOOK_PATH, type WebhookServer } from "../../src/webhook/server.ts";
import { captureLogger } from "../helpers/capture-logger.ts";
import { jsonPatch } from "../helpers/fake-kube-api.ts";
import { freePort } from "../helpers/ports.ts";
import { teeChild } from "../helpers/test-logs.ts";

const HOST = "peerpods-webhook.confidential-containers-system.svc";
const TYPES: InstanceType[] = [
  { name: "m6a.2xlarge", vcpus: 8, memoryMiB: 32768, gpus: 0 },
  { name: "m6a.large", vcpus: 2, memoryMiB: 8192, gpus: 0 },
  { name: "t3.small", vcpus: 2, memoryMiB: 2048, gpus: 0 },
  { name: "m6a.xlarge", vcpus: 4, memoryMiB: 16384, gpus: 0 },
  { name: "g5.xlarge", vcpus: 4, memoryMiB: 16384, gpus: 1 },
  { name: "p3.8xlarge", vcpus: 32, memoryMiB: 249856, gpus: 4 },
];
const A = {
  type: "io.katacontainers.config.hypervisor.machine_type",
  vcpus: "io.katacontainers.config.hypervisor.default_vcpus",
  memory: "io.katacontainers.config.hypervisor.default_memory",
  gpus: "io.katacontainers.config.hypervisor.default_gpus",
};
// The RuntimeClass admission plugin has already copied kata-remote's overhead into the pod.
const OVERHEAD = { cpu: "250m", memory: "120Mi" };

type Resources = { requests?: Record<string, string>; limits?: Record<string, string> };
interface TestContainer {
  name: string;
  image: string;
  resources?: Resources;
}
interface TestPod {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  spec: {
    runtimeClassName?: string;
    overhead?: Record<string, string>;
    containers: TestContainer[];
    initContainers?: TestContainer[];
  };
}
interface Review {
  apiVersion: string;
  kind: string;
  request: { uid?: string; object: unknown } & Record<string, unknown>;
}
interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: string;
  patch?: string;
  status?: { code: number; message: string };
}
interface Answer {
  apiVersion?: string;
  kind?: string;
  response: AdmissionResponse;
  error?: string;
}

let ca: string;
const servers: WebhookServer[] = [];
const log = captureLogger();

async function serve(sizing: "fargate" | "upstream"): Promise<WebhookServer> {
  const root = await generateCertificate({ org: "test-ca", isCa: true, validDays: 1 });
  ca = root.certPem;
  const leaf = await generateCertificate({
    org: "peerpods",
    name: HOST,
    validDays: 1,
    issuer: await loadSigner(root),
  });
  const s = await startWebhook({
    port: 0,
    host: "127.0.0.1",
    cert: leaf.certPem,
    key: leaf.keyPem,
    runtimeClassName: "kata-remote",
    vmResource: "kata.peerpods.io/vm",
    sizing,
    instanceTypes: TYPES,
    logger: log.logger,
  });
  servers.push(s);
  return s;
}

function post(
  server: WebhookServer,
  body: string,
  path = WEBHOOK_PATH,
): Promise<{ status: number; json: Answer }> {
  const url = new URL(server.address);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: url.port,
        path,
        method: "POST",
        ca,
        servername: HOST,
        headers: { "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Answer }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

let uidSeq = 0;
function review(pod: TestPod): Review {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: `705ab4f5-6393-11e8-b7cc-42010a80000${uidSeq++}`,
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      requestKind: { group: "", version: "v1", kind: "Pod" },
      requestResource: { group: "", version: "v1", resource: "pods" },
      name: pod.metadata.name,
      namespace: "my-namespace",
      operation: "CREATE",
      userInfo: {
        username: "admin",
        uid: "014fbff9a07c",
        groups: ["system:authenticated", "my-admin-group"],
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions" },
    },
  };
}

function pod(spec: Partial<TestPod["spec"]>, annotations?: Record<string, string>): TestPod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "my-pod", namespace: "my-namespace", ...(annotations ? { annotations } : {}) },
    spec: { runtimeClassName: "kata-remote", overhead: OVERHEAD, containers: [], ...spec },
  };
}

const c = (name: string, resources?: Resources): TestContainer => ({
  name,
  image: "nginx",
  ...(resources ? { resources } : {}),
});

/** Send the review, check the response envelope, apply the patch, validate the pod. */
async function admit(
  server: WebhookServer,
  p: TestPod,
): Promise<{ response: AdmissionResponse; pod: TestPod }> {
  const body = review(p);
  const { status, json } = await post(server, JSON.stringify(body));
  assert.equal(status, 200);
  assert.equal(json.apiVersion, "admission.k8s.io/v1");
  assert.equal(json.kind, "AdmissionReview");
  assert.equal(json.response.uid, body.request.uid);
  if (!json.response.allowed || json.response.patch === undefined) return { response: json.response, pod: p };
  assert.equal(json.response.patchType, "JSONPatch");
  const patch = JSON.parse(Buffer.from(json.response.patch, "base64").toString("utf8")) as unknown;
  const patched = jsonPatch(
    structuredClone(p) as unknown as Record<string, unknown>,
    patch,
  ) as unknown as TestPod;
  new Pod(patched).validate();
  return { response: json.response, pod: patched };
}

const vm = { "kata.peerpods.io/vm": "1" };

describe("admission webhook (fargate sizing)", () => {
  let server: WebhookServer;
  before(async () => {
    server = await serve("fargate");
  });
  after(async () => {
    for (const s of servers) await s.close();
  });

  test("an init container larger than the app containers' sum decides the size", async () => {
    const { pod: out } = await admit(
      server,
      pod({
        initContainers: [c("migrate", { requests: { cpu: "3", memory: "6Gi" } })],
        containers: [
          c("app", { requests: { cpu: "500m", memory: "512Mi" } }),
          c("sidecar", { requests: { cpu: "500m", memory: "512Mi" } }),
        ],
      }),
    );
    // max(3 CPU / 6Gi, 1 CPU / 1Gi) + 250m / 120Mi = 3.25 → 4 vCPUs, 6264 MiB.
    assert.deepEqual(out.metadata.annotations, {
      [A.type]: "m6a.xlarge",
      [A.vcpus]: "4",
      [A.memory]: "6264",
    });
    assert.deepEqual(out.spec.containers[0].resources, {
      requests: { cpu: "500m", memory: "512Mi", ...vm },
      limits: vm,
    });
    assert.deepEqual(out.spec.containers[1].resources, { requests: { cpu: "500m", memory: "512Mi" } });
    assert.deepEqual(out.spec.initContainers?.[0].resources, { requests: { cpu: "3", memory: "6Gi" } });
  });

  test("limits without requests count as the container's size", async () => {
    const { pod: out } = await admit(
      server,
      pod({ containers: [c("app", { limits: { cpu: "1", memory: "1Gi" } })] }),
    );
    assert.deepEqual(out.metadata.annotations, { [A.type]: "t3.small", [A.vcpus]: "2", [A.memory]: "1144" });
    assert.deepEqual(out.spec.containers[0].resources, {
      limits: { cpu: "1", memory: "1Gi", ...vm },
      requests: vm,
    });
  });

  test("no resources at all: the overhead alone, the smallest type", async () => {
    const { pod: out } = await admit(server, pod({ containers: [c("app")] }));
    assert.deepEqual(out.metadata.annotations, { [A.type]: "t3.small", [A.vcpus]: "1", [A.memory]: "120" });
    assert.deepEqual(out.spec.containers[0].resources, { requests: vm, limits: vm });
  });

  test("a GPU pod gets the smallest GPU type that fits", async () => {
    const { pod: out } = await admit(
      server,
      pod({ containers: [c("train", { limits: { cpu: "2", memory: "8Gi", "nvidia.com/gpu": "1" } })] }),
    );
    assert.deepEqual(out.metadata.annotations, {
      [A.type]: "g5.xlarge",
      [A.vcpus]: "3",
      [A.memory]: "8312",
      [A.gpus]: "1",
    });
  });

  test("a pod's own sizing annotations win; the VM resource is still added", async () => {
    const own = { [A.vcpus]: "8", "team.example.com/owner": "shop" };
    const { pod: out } = await admit(
      server,
      pod({ containers: [c("app", { requests: { cpu: "1", memory: "1Gi" } })] }, own),
    );
    assert.deepEqual(out.metadata.annotations, own);
    assert.deepEqual(out.spec.containers[0].resources?.limits, vm);
  });

  test("a pod of another runtime class is left alone", async () => {
    const p = pod({ runtimeClassName: "runc", containers: [c("app", { requests: { cpu: "1" } })] });
    const { response } = await admit(server, p);
    assert.deepEqual(Object.keys(response).sort(), ["allowed", "uid"]);
    assert.equal(response.allowed, true);
  });

  test("a pod no allowed type can hold is refused with upstream's wording", async () => {
    const { response } = await admit(
      server,
      pod({ containers: [c("big", { requests: { cpu: "64", memory: "1Ti" } })] }),
    );
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 403);
    assert.equal(
      response.status?.message,
      "no instance type found for the given vcpus (65) and memory (1048696)",
    );
  });

  test("malformed reviews get an error, and the webhook keeps serving", async () => {
    const notJson = await post(server, "{not json");
    assert.equal(notJson.status, 400);
    const noRequest = await post(
      server,
      JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }),
    );
    assert.equal(noRequest.status, 400);
    assert.equal(noRequest.json.error, "AdmissionReview has no request");
    const v1beta1 = await post(
      server,
      JSON.stringify({ ...review(pod({ containers: [] })), apiVersion: "admission.k8s.io/v1beta1" }),
    );
    assert.equal(v1beta1.status, 400);
    const noUid = review(pod({ containers: [c("app")] }));
    delete noUid.request.uid;
    assert.equal((await post(server, JSON.stringify(noUid))).status, 400);
    const array = await post(server, "[]");
    assert.equal(array.status, 400);

    const noObject = review(pod({ containers: [c("app")] }));
    noObject.request.object = "nope";
    const r1 = await post(server, JSON.stringify(noObject));
    assert.deepEqual(r1.json.response, {
      uid: noObject.request.uid,
      allowed: false,
      status: { code: 400, message: "request.object is not a Pod" },
    });
    const badQuantity = await admit(server, pod({ containers: [c("app", { requests: { cpu: "two" } })] }));
    assert.equal(badQuantity.response.allowed, false);
    assert.equal(badQuantity.response.status?.code, 400);
    assert.match(badQuantity.response.status?.message, /quantities must match/);
    const noContainers = await admit(server, pod({ containers: [] }));
    assert.equal(noContainers.response.status?.message, "pod has no containers");

    const ok = await admit(server, pod({ containers: [c("app")] }));
    assert.equal(ok.response.allowed, true);
  });
});

describe("admission webhook (upstream sizing)", () => {
  let server: WebhookServer;
  before(async () => {
    server = await serve("upstream");
  });
  after(async () => {
    await server.close();
  });

  test("resources move into annotations and are stripped, as upstream's webhook does", async () => {
    const { pod: out } = await admit(
      server,
      pod({
        initContainers: [c("init", { requests: { cpu: "500m", memory: "100Mi" } })],
        containers: [
          c("app", { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } }),
          c("log", { requests: { cpu: "250m" } }),
        ],
      }),
    );
    // Requests 1.75 CPU / 1124Mi, limits 2 CPU / 2Gi: the limits (≥ requests) win, no overhead.
    assert.deepEqual(out.metadata.annotations, { [A.vcpus]: "2", [A.memory]: "2048" });
    assert.deepEqual(out.spec.containers[0].resources, { requests: vm, limits: vm });
    assert.deepEqual(out.spec.containers[1].resources, {});
    assert.deepEqual(out.spec.initContainers?.[0].resources, {});
  });
});

describe("caa webhook (the command)", () => {
  test("serves with the local provider's instance types from files in WEBHOOK_CERT_DIR, stops on SIGTERM", async () => {
    const dir = await mkdtemp(join(tmpdir(), "webhook-cli-"));
    const root = await generateCertificate({ org: "test-ca", isCa: true, validDays: 1 });
    ca = root.certPem;
    const leaf = await generateCertificate({
      org: "peerpods",
      name: HOST,
      validDays: 1,
      issuer: await loadSigner(root),
    });
    await writeFile(join(dir, "tls.crt"), leaf.certPem);
    await writeFile(join(dir, "tls.key"), leaf.keyPem);
    const port = await freePort();
    const child = spawn(process.execPath, ["src/cli/main.ts", "webhook"], {
      cwd: join(import.meta.dirname, "../.."),
      env: {
        ...process.env,
        CLOUD_PROVIDER: "local",
        LOCAL_INSTANCE_TYPES: "local.small,local.large",
        LOCAL_INSTANCE_TYPE: "local.small",
        WEBHOOK_PORT: String(port),
        WEBHOOK_CERT_DIR: dir,
        LOG_FORMAT: "json",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    teeChild(child, "caa-webhook");
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    try {
      await waitFor(
        () => stderr.includes("admission webhook listening"),
        20_000,
        () => stderr,
      );
      const server = { address: `https://127.0.0.1:${port}` } as WebhookServer;
      const { pod: out } = await admit(
        server,
        pod({ containers: [c("app", { requests: { cpu: "2", memory: "4Gi" } })] }),
      );
      // 2.25 vCPUs, 4216 MiB: local.small (1, 2048) is too small, local.large (4, 16384) fits.
      assert.equal(out.metadata.annotations?.[A.type], "local.large");
    } finally {
      child.kill("SIGTERM");
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      await rm(dir, { recursive: true, force: true });
      assert.equal(code, 0, stderr);
    }
  });
});

async function waitFor(cond: () => boolean, ms: number, why: () => string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out: ${why()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
