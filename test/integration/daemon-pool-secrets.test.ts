// The bind carries what the pod's cold user-data would: with the Kubernetes integration on (the
// fake API), a pod with image pull secrets takes a pooled VM, and that VM ends up with the same
// merged /run/peerpod/auth.json the cold path writes — while the VM booted without it. No
// credential and no key of the bind (pool client, bootstrap, pod TLS) reaches the daemon's log or
// the VM's console.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { goShimLifecycle } from "../helpers/go-peer.ts";
import {
  cleanupDaemon,
  daemonEnv,
  freePort,
  makeDaemonDir,
  startDaemon,
  type DaemonProcess,
} from "../helpers/daemon.ts";
import { FakeKubeApi } from "../helpers/fake-kube-api.ts";
import { readyPoolVms } from "../helpers/pool.ts";

const NODE = "worker-pool";
const NS = "shop";
const PASSWORD = "po0l-pa55word";
const b64 = (s: string) => Buffer.from(s).toString("base64");
const AUTH = b64(`deployer:${PASSWORD}`);

/** The start of every PEM private key's body in a text (user-data and records hold them JSON-escaped). */
function privateKeyBodies(text: string): string[] {
  return [...text.matchAll(/PRIVATE KEY-----(?:\\+n|\n)([A-Za-z0-9+/=]{32})/g)].map((m) => m[1]);
}

describe("a pool hit gets the pod's image pull secrets through the bind", () => {
  let api: FakeKubeApi;
  let dir: string;
  let daemon: DaemonProcess;
  let ops: string;

  before(async () => {
    api = new FakeKubeApi();
    await api.start();
    api.addNode(NODE);
    api.addSecret(NS, "registry-cred", "kubernetes.io/dockerconfigjson", {
      ".dockerconfigjson": JSON.stringify({
        auths: { "registry.example.com": { username: "deployer", password: PASSWORD } },
      }),
    });
    api.addServiceAccount(NS, "default");
    api.addPod(NS, "web", { nodeName: NODE, imagePullSecrets: ["registry-cred"] });
    dir = await makeDaemonDir();
    const port = await freePort();
    ops = `http://127.0.0.1:${port}`;
    daemon = await startDaemon(
      dir,
      daemonEnv(dir, {
        PROBE_PORT: String(port),
        NODE_NAME: NODE,
        KUBECONFIG: await api.writeKubeconfig(dir),
        POOL_SIZE: "1",
        LOCAL_BOOT_DELAY: "1s",
      }),
    );
  });

  after(async () => {
    await daemon?.kill("SIGTERM");
    await cleanupDaemon({ dir, bridge: daemon?.bridge ?? "" });
    await api?.close();
  });

  test("the pooled VM writes the merged auth.json at the bind; nothing secret is logged", async () => {
    const [vm] = await readyPoolVms(ops, 1);
    const vmDir = join(daemon.stateDir, "provider-local", vm.instanceId!);
    const bootUserData = await readFile(join(vmDir, "cidata", "user-data"), "utf8");
    assert.doesNotMatch(
      bootUserData,
      /auth\.json|registry\.example\.com/,
      "booted without the pod's secrets",
    );

    const id = randomBytes(32).toString("hex");
    const steps = await goShimLifecycle(daemon.socket, {
      id,
      annotations: { "io.kubernetes.cri.sandbox-name": "web", "io.kubernetes.cri.sandbox-namespace": NS },
      steps: ["create", "start"],
    });
    assert.deepEqual(
      steps.map((s) => s.code),
      [0, 0],
      JSON.stringify(steps),
    );
    const view = (await (await fetch(`${ops}/v1/sandboxes/${id}`)).json()) as {
      pooled?: boolean;
      instanceId?: string;
    };
    assert.equal(view.pooled, true);
    assert.equal(view.instanceId, vm.instanceId);

    const authFile = join(vmDir, "root", "run", "peerpod", "auth.json");
    assert.deepEqual(JSON.parse(await readFile(authFile, "utf8")), {
      auths: { "registry.example.com": { auth: AUTH } },
    });

    // What could leak: the credential, the pool's client key, the VM's bootstrap key, the pod's TLS key.
    const record = await readFile(join(daemon.stateDir, "sandboxes", `${id}.json`), "utf8");
    const poolClientKey = await readFile(join(daemon.stateDir, "pool-tls", "client.key"), "utf8");
    const keys = [poolClientKey, bootUserData, record].map(privateKeyBodies);
    assert.ok(
      keys.every((k) => k.length > 0),
      "the pool's client key, the VM's bootstrap key and the pod's TLS key were found to look for",
    );
    const secrets = [PASSWORD, AUTH, "auths", ...keys.flat()];
    const consoleLog = await readFile(join(vmDir, "console.log"), "utf8");
    for (const [where, text] of [
      ["daemon log", daemon.logs()],
      ["VM console", consoleLog],
    ])
      for (const s of secrets) assert.ok(!text.includes(s), `the ${where} holds ${s.slice(0, 12)}…`);
    assert.match(consoleLog, /bound to a pod/);

    const [stop] = await goShimLifecycle(daemon.socket, { id, steps: ["stop"] });
    assert.equal(stop.code, 0);
  });
});
