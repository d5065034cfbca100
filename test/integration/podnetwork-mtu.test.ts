// Jumbo frames survive the tunnel: MTU = min(pod MTU, underlay MTU − 50), not upstream's 1450 cap
// (upstream issue #1992).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { silentLogger } from "../../src/log/logger.ts";
import { inspectPodNetwork } from "../../src/podnetwork/inspect.ts";
import { setupPodNode, teardownPodNode, tunnelMtu } from "../../src/podnetwork/podnode.ts";
import { setupWorkerTunnel, teardownWorkerTunnel } from "../../src/podnetwork/worker.ts";
import {
  POD_GW,
  VM_IP,
  buildTopology,
  destroyTopology,
  sh,
  type Topology,
} from "../helpers/podnetwork-topology.ts";
import { needsRoot } from "../helpers/requires.ts";

const logger = silentLogger();

describe("tunnel MTU", () => {
  it("is the pod MTU capped at the underlay MTU minus the 50-byte VXLAN overhead", () => {
    assert.equal(tunnelMtu(9001, 9001), 8951);
    assert.equal(tunnelMtu(1500, 9001), 1500);
    assert.equal(tunnelMtu(1500, 1500), 1450);
    assert.equal(tunnelMtu(8000, 9001), 8000);
  });
});

describe(
  "tunnel MTU on a jumbo-frame network",
  {
    skip: needsRoot(),
  },
  () => {
    let t: Topology;
    before(async () => {
      t = await buildTopology({ mtu: 9001, prefix: "m" });
    });
    after(async () => {
      if (t) await destroyTopology(t);
    });

    it("gives a pod with MTU 9001 over a 9001 underlay a tunnel MTU of 8951, and such frames pass", async () => {
      const config = await inspectPodNetwork({
        netnsPath: t.podPath,
        index: 0,
        vxlanPort: 4789,
        vxlanMinId: 555000,
        hostNetns: t.worker,
      });
      assert.equal(config.mtu, 9001);
      const worker = { netnsPath: t.podPath, config, remoteIp: VM_IP, logger, hostNetns: t.worker };
      const vm = {
        config,
        podNetns: t.vmPod,
        logger,
        vmNetns: t.vm,
        detectTimeoutMs: 5000,
        deletePodNetns: true,
      };
      await setupWorkerTunnel(worker);
      try {
        await setupPodNode(vm);
        const [link] = JSON.parse(await sh(["ip", "-j", "link", "show", "eth0"], t.vmPod)) as {
          mtu: number;
        }[];
        assert.equal(link?.mtu, 8951);
        // 8951-byte IP packets with DF set cross the tunnel unfragmented (8951 − 20 IP − 8 ICMP).
        await sh(["ping", "-c", "1", "-W", "3", "-M", "do", "-s", "8923", POD_GW], t.vmPod);
      } finally {
        await teardownPodNode(vm);
        await teardownWorkerTunnel(worker);
      }
    });
  },
);
