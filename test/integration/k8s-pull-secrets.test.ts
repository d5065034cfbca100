// Image pull secrets through the fake Kubernetes API: CreateVM gathers the pod's and its service
// account's pull secrets, the user-data carries one merged auth.json that the pod-VM side
// (strict user-data parse + provision-files) writes, and no credential reaches the logs.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { provisionFiles } from "../../src/forwarder/provision.ts";
import { kubeIntegration } from "../../src/k8s/integration.ts";
import { kubeClients } from "../../src/k8s/client.ts";
import { podAuthJson } from "../../src/k8s/pull-secrets.ts";
import { SandboxManager } from "../../src/sandbox/manager.ts";
import { SandboxStore } from "../../src/sandbox/store.ts";
import { parseUserData } from "../../src/userdata/parse.ts";
import { captureLogger } from "../helpers/capture-logger.ts";
import { FakeKubeApi } from "../helpers/fake-kube-api.ts";
import { MemoryProvider } from "../helpers/memory-provider.ts";

const NS = "shop";
const b64 = (s: string) => Buffer.from(s).toString("base64");
// Every credential string planted below; none may appear in any log line.
const SA_AUTH = b64("robot:sa-s3cret");
const POD_PASSWORD = "p0d-pa55word";
const OVERRIDDEN = b64("old:replaced-by-pod");
const TOKEN = "identity-token-xyz";

let api: FakeKubeApi;
let dir: string;
let kubeconfig: string;

before(async () => {
  api = new FakeKubeApi();
  await api.start();
  dir = await mkdtemp(join(tmpdir(), "pullsec-"));
  kubeconfig = await api.writeKubeconfig(dir);
  // The service account's secret: legacy .dockercfg with two registries.
  api.addSecret(NS, "sa-cred", "kubernetes.io/dockercfg", {
    ".dockercfg": JSON.stringify({
      "quay.io": { auth: SA_AUTH, email: "x@example.com" },
      "registry.example.com": { auth: OVERRIDDEN },
    }),
  });
  // The pod's own: .dockerconfigjson, username/password only, and an identity token.
  api.addSecret(NS, "pod-cred", "kubernetes.io/dockerconfigjson", {
    ".dockerconfigjson": JSON.stringify({
      auths: {
        "registry.example.com": { username: "deployer", password: POD_PASSWORD },
        "acr.example.io": { identitytoken: TOKEN },
      },
    }),
  });
  api.addSecret(NS, "opaque", "Opaque", {
    ".dockerconfigjson": JSON.stringify({ auths: { "x.io": { auth: "eA==" } } }),
  });
  api.addSecret(NS, "broken", "kubernetes.io/dockerconfigjson", { ".dockerconfigjson": "{not json" });
  api.addServiceAccount(NS, "builder", ["sa-cred", "gone"]);
  api.addPod(NS, "web", {
    serviceAccountName: "builder",
    imagePullSecrets: ["pod-cred", "opaque", "broken"],
  });
  api.addPod(NS, "plain");
  api.addServiceAccount(NS, "default");
});
after(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

function assertNoCredentials(lines: unknown[]): void {
  const text = JSON.stringify(lines);
  for (const s of [SA_AUTH, POD_PASSWORD, b64(`deployer:${POD_PASSWORD}`), OVERRIDDEN, TOKEN, "auths"])
    assert.ok(!text.includes(s), `a log line contains ${s}`);
}

describe("image pull secrets", () => {
  test("CreateVM delivers one merged auth.json that the pod VM's provision-files writes", async () => {
    const log = captureLogger();
    const kube = kubeIntegration({
      nodeName: "worker-0",
      kubeconfig,
      peerpodsLimitPerNode: 10,
      cloudProvider: "memory",
      logger: log.logger,
    });
    assert.ok(kube);
    const store = await SandboxStore.open(join(dir, "state", "sandboxes"));
    const manager = new SandboxManager({
      provider: new MemoryProvider(),
      store,
      logger: log.logger,
      config: {
        podsDir: join(dir, "p"),
        cluster: "c1",
        node: "worker-0",
        initdata: "",
        enableScratchSpace: false,
      },
      pullSecrets: kube.pullSecrets,
    });
    const id = "a".repeat(64);
    await manager.createVM({
      id,
      annotations: { "io.kubernetes.cri.sandbox-name": "web", "io.kubernetes.cri.sandbox-namespace": NS },
      netnsPath: "",
    });

    const files = parseUserData(store.get(id)!.userData);
    assert.deepEqual(
      files.map((f) => f.path),
      ["/run/peerpod/apf.json", "/run/peerpod/auth.json"],
    );
    // The pod-VM side: the user-data on a cidata volume, provisioned into a scratch root.
    await mkdir(join(dir, "cidata"));
    await writeFile(join(dir, "cidata", "user-data"), store.get(id)!.userData);
    const vmLog = captureLogger();
    const result = await provisionFiles({
      cidataDir: join(dir, "cidata"),
      imds: false,
      rootDir: join(dir, "vmroot"),
      logger: vmLog.logger,
    });
    assert.ok(result.written.includes("/run/peerpod/auth.json"));
    const written = JSON.parse(await readFile(join(dir, "vmroot/run/peerpod/auth.json"), "utf8")) as unknown;
    assert.deepEqual(written, {
      auths: {
        "acr.example.io": { identitytoken: TOKEN },
        "quay.io": { auth: SA_AUTH },
        // The pod's own secret overrides the service account's for the same registry.
        "registry.example.com": { auth: b64(`deployer:${POD_PASSWORD}`) },
      },
    });

    // What is kept: the sandbox record (its user-data), 0600 in a 0700 directory.
    assert.equal((await stat(join(store.dir, `${id}.json`))).mode & 0o777, 0o600);
    assert.equal((await stat(store.dir)).mode & 0o777, 0o700);

    // Unusable secrets are named, never shown.
    assert.equal(log.lines.filter((l) => l.pullSecret === "gone").length, 1);
    assert.match(String(log.lines.find((l) => l.pullSecret === "broken")?.msg), /is not base64-encoded JSON/);
    assertNoCredentials(log.lines);
    assertNoCredentials(vmLog.lines);
    const reads = api.requests
      .filter((r) => r.path.includes("/secrets/"))
      .map((r) => r.path.split("/").pop());
    assert.deepEqual(reads.sort(), ["broken", "gone", "opaque", "pod-cred", "sa-cred"]);
  });

  test("a pod without pull secrets gets no auth.json", async () => {
    const log = captureLogger();
    const { core } = kubeClients({ kubeconfig });
    assert.equal(await podAuthJson(core, NS, "plain", log.logger), undefined);
    assert.equal(await podAuthJson(core, NS, "no-such-pod", log.logger), undefined);
    assert.equal(log.find("could not read the pod for its image pull secrets").length, 1);
  });

  test("an auth.json over upstream's 12288-byte limit is left out, as upstream does", async () => {
    const auths: Record<string, { auth: string }> = {};
    for (let i = 0; i < 200; i++)
      auths[`registry-${i}.example.com`] = { auth: b64(`user${i}:${"x".repeat(40)}`) };
    api.addSecret(NS, "huge", "kubernetes.io/dockerconfigjson", {
      ".dockerconfigjson": JSON.stringify({ auths }),
    });
    api.addPod(NS, "big", { imagePullSecrets: ["huge"] });
    const log = captureLogger();
    const { core } = kubeClients({ kubeconfig });
    assert.equal(await podAuthJson(core, NS, "big", log.logger), undefined);
    assert.equal(log.find("Credentials file is too large to be included in cloud-config").length, 1);
    assertNoCredentials(log.lines);
  });

  test("without the Kubernetes integration (no NODE_NAME) nothing is read", () => {
    const kube = kubeIntegration({
      nodeName: "",
      kubeconfig,
      peerpodsLimitPerNode: 10,
      cloudProvider: "memory",
      logger: captureLogger().logger,
    });
    assert.equal(kube, undefined);
  });
});
