// The unavailable-offerings cache as `caa serve` runs it: one per daemon, consulted by every
// StartVM's capacity fallback, shown by GET /v1/cloud-api and /metrics. The local provider
// refuses a type (LOCAL_NO_CAPACITY_TYPES); what it was asked for is in its log.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { goShimLifecycle } from "../helpers/go-peer.ts";
import { startDaemonWithOps, type DaemonProcess } from "../helpers/daemon.ts";

const POD = { "io.kubernetes.cri.sandbox-name": "web", "io.kubernetes.cri.sandbox-namespace": "shop" };

let daemon: DaemonProcess;
let ops: string;
let stop: () => Promise<void> = async () => {};

before(async () => {
  ({ daemon, ops, stop } = await startDaemonWithOps({
    LOCAL_INSTANCE_TYPES: "local.medium,local.large",
    LOCAL_NO_CAPACITY_TYPES: "local.medium",
  }));
});

after(() => stop());

interface CloudApiView {
  families: unknown[];
  unavailableOfferings: { instanceType: string; zone: string; code: string; skips: number }[];
}

const asked = () => (daemon.logs().match(/no capacity for local\.medium/g) ?? []).length;

test("one no-capacity answer: the daemon's next sandboxes skip the type, the admin API and metrics show it", async () => {
  const first = randomBytes(32).toString("hex");
  await goShimLifecycle(daemon.socket, { id: first, annotations: POD, steps: ["create", "start", "stop"] });
  assert.equal(asked(), 1, "the first StartVM asked for local.medium");

  const view = (await (await fetch(`${ops}/v1/cloud-api`)).json()) as CloudApiView;
  assert.deepEqual(view.families, [], "the local provider has no client-side buckets");
  assert.deepEqual(view.unavailableOfferings, [
    {
      ...view.unavailableOfferings[0],
      instanceType: "local.medium",
      zone: "",
      code: "InsufficientCapacity",
      skips: 0,
    },
  ]);

  for (let i = 0; i < 2; i++) {
    const id = randomBytes(32).toString("hex");
    await goShimLifecycle(daemon.socket, { id, annotations: POD, steps: ["create", "start", "stop"] });
  }
  assert.equal(asked(), 1, "the next two went to local.large at once");
  const again = (await (await fetch(`${ops}/v1/cloud-api`)).json()) as CloudApiView;
  assert.equal(again.unavailableOfferings[0].skips, 2);

  const metrics = await (await fetch(`${ops}/metrics`)).text();
  assert.match(
    metrics,
    /^caa_unavailable_offerings\{instance_type="local\.medium",zone="",code="InsufficientCapacity"\} 1$/m,
  );
  assert.match(metrics, /^caa_unavailable_offering_skips 2$/m);
});
