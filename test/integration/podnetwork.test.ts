// The VXLAN pod tunnel for real: a CNI-like pod netns on a "worker" netns, a "VM" netns, a peer
// behind the worker; traffic crosses the tunnel both ways, and teardown leaves nothing behind.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { silentLogger } from "../../src/log/logger.ts";
import { inspectPodNetwork } from "../../src/podnetwork/inspect.ts";
import { setupPodNode, teardownPodNode } from "../../src/podnetwork/podnode.ts";
import { parseApfJson, renderApfJson, type PodNetworkConfig } from "../../src/userdata/apf-config.ts";
import { setupWorkerTunnel, teardownWorkerTunnel } from "../../src/podnetwork/worker.ts";
import {
  PEER_IP,
  POD_GW,
  POD_IP,
  VM_IP,
  buildTopology,
  destroyTopology,
  netnsExists,
  residue,
  sh,
  startTcpTool,
  tcpTool,
  type Topology,
} from "../helpers/podnetwork-topology.ts";
import { needsRoot } from "../helpers/requires.ts";

const logger = silentLogger();
const skip = needsRoot();

async function inspect(t: Topology, index: number): Promise<PodNetworkConfig> {
  return inspectPodNetwork({
    netnsPath: t.podPath,
    index,
    vxlanPort: 4789,
    vxlanMinId: 555000,
    hostNetns: t.worker,
  });
}

async function assertClean(t: Topology): Promise<void> {
  for (const ns of [t.worker, t.vm, t.pod]) {
    assert.deepEqual(await residue(ns), { vxlans: [], ingress: [], iptables: [] }, `residue in ${ns}`);
  }
  assert.equal(await netnsExists(t.vmPod), false, "VM pod netns deleted");
  const workerLinks = await sh(["ip", "-br", "link"], t.worker);
  assert.doesNotMatch(workerLinks, /ppvxlan/);
}

describe("pod network VXLAN tunnel", { skip }, () => {
  let t: Topology;
  before(async () => {
    t = await buildTopology();
  });
  after(async () => {
    if (t) await destroyTopology(t);
  });

  it("carries ping and TCP between the VM's pod netns and a peer behind the worker, both ways", async () => {
    const config = await inspect(t, 3);
    assert.equal(config.podip, `${POD_IP}/24`);
    assert.equal(config["worker-node-ip"], "192.0.2.1/24");
    assert.equal(config["vxlan-id"], 555003);

    const worker = { netnsPath: t.podPath, config, remoteIp: VM_IP, logger, hostNetns: t.worker };
    // The VM side gets the config the way a pod VM does: rendered into apf.json and parsed back.
    const apf = renderApfJson({ "pod-network": config, "pod-namespace": "default", "pod-name": "p" });
    const vmConfig = parseApfJson(apf)["pod-network"];
    assert.ok(vmConfig);
    const vm = {
      config: vmConfig,
      podNetns: t.vmPod,
      logger,
      vmNetns: t.vm,
      detectTimeoutMs: 5000,
      deletePodNetns: true,
    };
    await setupWorkerTunnel(worker);
    await setupPodNode(vm);

    const iptables = await sh(["iptables", "-w", "-t", "raw", "-S"], t.worker);
    assert.match(iptables, /-A OUTPUT -j peerpod-OUTPUT/);
    assert.match(
      iptables,
      /-A peerpod-OUTPUT -d 192\.0\.2\.2\/32 .*--comment "peerpod \[vni:555003\]".*--dport 4789 -j NOTRACK/,
    );
    assert.match(iptables, /-A peerpod-PREROUTING -s 192\.0\.2\.2\/32 .*-j NOTRACK/);

    await sh(["ping", "-c", "2", "-W", "3", PEER_IP], t.vmPod);
    await sh(["ping", "-c", "2", "-W", "3", POD_IP], t.peer);

    const peerEcho = await startTcpTool(t.peer, ["echo-server", PEER_IP, "7001"]);
    try {
      assert.equal(await tcpTool(t.vmPod, ["echo-client", PEER_IP, "7001", "from the VM"]), "from the VM");
    } finally {
      peerEcho.stop();
    }
    // Nothing listens in the worker's pod netns: an answer can only come from the VM through VXLAN.
    const podEcho = await startTcpTool(t.vmPod, ["echo-server", POD_IP, "7002"]);
    try {
      assert.equal(await tcpTool(t.peer, ["echo-client", POD_IP, "7002", "to the pod"]), "to the pod");
    } finally {
      podEcho.stop();
    }

    const stats = JSON.parse(await sh(["ip", "-j", "-s", "link", "show", "vxlan1"], t.pod)) as {
      stats64: { rx: { packets: number }; tx: { packets: number } };
    }[];
    assert.ok(stats[0].stats64.rx.packets > 0 && stats[0].stats64.tx.packets > 0, "frames crossed vxlan1");

    await setupWorkerTunnel(worker).then(
      () => assert.fail("a second setup must fail while the tunnel exists"),
      (err: Error) => assert.match(err.message, /^set up worker tunnel for pod netns /),
    );
    await assertResidueAfterFailedSecondSetup(t);

    await teardownPodNode(vm);
    await teardownWorkerTunnel(worker);
    await assertClean(t);
    await teardownPodNode(vm);
    await teardownWorkerTunnel(worker);
    await assertClean(t);
    // The pod's own network is back to plain CNI: the worker reaches it over the veth.
    await sh(["ping", "-c", "1", "-W", "3", POD_IP], t.worker);
  });

  async function assertResidueAfterFailedSecondSetup(topo: Topology): Promise<void> {
    // The failed second setup must not have touched the working tunnel.
    await sh(["ping", "-c", "1", "-W", "3", PEER_IP], topo.vmPod);
    const links = await sh(["ip", "-br", "link"], topo.worker);
    assert.doesNotMatch(links, /ppvxlan/);
  }

  it("sets up two pods' tunnels concurrently, and removes the shared chains only with the last one", async () => {
    const pod2 = `${t.pod}b`;
    await sh(["ip", "netns", "add", pod2]);
    try {
      await sh(["ip", "link", "add", "eth0", "netns", pod2, "type", "veth", "peer", "pod1"], t.worker);
      await sh(["ip", "addr", "add", "198.51.100.130/25", "dev", "eth0"], pod2);
      await sh(["ip", "link", "set", "eth0", "up"], pod2);
      await sh(["ip", "route", "add", "default", "via", "198.51.100.129", "dev", "eth0"], pod2);
      const opts = { index: 0, vxlanPort: 4789, vxlanMinId: 555000, hostNetns: t.worker };
      const [c1, c2] = await Promise.all([
        inspectPodNetwork({ ...opts, netnsPath: t.podPath, index: 10 }),
        inspectPodNetwork({ ...opts, netnsPath: `/run/netns/${pod2}`, index: 11 }),
      ]);
      const w1 = { netnsPath: t.podPath, config: c1, remoteIp: VM_IP, logger, hostNetns: t.worker };
      const w2 = {
        netnsPath: `/run/netns/${pod2}`,
        config: c2,
        remoteIp: "192.0.2.3",
        logger,
        hostNetns: t.worker,
      };
      await Promise.all([setupWorkerTunnel(w1), setupWorkerTunnel(w2)]);
      for (const [ns, vni, remote] of [
        [t.pod, 555010, VM_IP],
        [pod2, 555011, "192.0.2.3"],
      ] as const) {
        const [link] = JSON.parse(await sh(["ip", "-j", "-d", "link", "show", "vxlan1"], ns)) as {
          linkinfo: { info_data: { id: number; remote: string } };
        }[];
        assert.deepEqual(
          { id: link?.linkinfo.info_data.id, remote: link?.linkinfo.info_data.remote },
          { id: vni, remote },
        );
      }
      assert.doesNotMatch(await sh(["ip", "-br", "link"], t.worker), /ppvxlan/);
      await teardownWorkerTunnel(w1);
      const left = (await residue(t.worker)).iptables;
      assert.ok(
        left.includes("-N peerpod-OUTPUT") && left.includes("-A OUTPUT -j peerpod-OUTPUT"),
        left.join("\n"),
      );
      assert.equal(left.filter((r) => r.includes("vni:555011")).length, 2);
      assert.equal(left.filter((r) => r.includes("vni:555010")).length, 0);
      await teardownWorkerTunnel(w2);
      await assertClean(t);
    } finally {
      await sh(["ip", "netns", "del", pod2]);
    }
  });

  it("a worker failure midway leaves nothing behind", async () => {
    const config = { ...(await inspect(t, 4)), interface: "nope0" };
    const worker = { netnsPath: t.podPath, config, remoteIp: VM_IP, logger, hostNetns: t.worker };
    await assert.rejects(setupWorkerTunnel(worker), (err: Error) => {
      assert.match(
        err.message,
        /^set up worker tunnel for pod netns \/run\/netns\/\S+: add tc redirect nope0 → vxlan1: /,
      );
      return true;
    });
    await assertClean(t);
    await teardownWorkerTunnel(worker);
    await assertClean(t);
  });

  it("a VM-side failure midway leaves nothing behind, including the pod netns it created", async () => {
    const base = await inspect(t, 5);
    const config: PodNetworkConfig = {
      ...base,
      routes: [...(base.routes ?? []), { dst: "203.0.113.128/25", gw: "192.0.2.77", dev: "eth0" }],
    };
    const vm = {
      config,
      podNetns: t.vmPod,
      logger,
      vmNetns: t.vm,
      detectTimeoutMs: 5000,
      deletePodNetns: true,
    };
    await assert.rejects(setupPodNode(vm), (err: Error) => {
      assert.match(err.message, /: add route 203\.0\.113\.128\/25 via 192\.0\.2\.77 dev eth0: /);
      return true;
    });
    await assertClean(t);
    await teardownPodNode(vm);
    await assertClean(t);
  });

  it("a VM-side failure keeps a pod netns it did not create and its other interfaces", async () => {
    await sh(["ip", "netns", "add", t.vmPod]);
    try {
      await sh(["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"], t.vmPod);
      const config = await inspect(t, 6);
      const vm = { config, podNetns: t.vmPod, logger, vmNetns: t.vm, detectTimeoutMs: 5000 };
      await assert.rejects(setupPodNode(vm), /: rename vxlan0 to eth0: .*File exists/);
      assert.equal(await netnsExists(t.vmPod), true);
      const links = await sh(["ip", "-br", "link"], t.vmPod);
      assert.match(links, /^eth0@eth1/m);
      assert.doesNotMatch(links, /vxlan0/);
      assert.deepEqual(await residue(t.vm), { vxlans: [], ingress: [], iptables: [] });
    } finally {
      await sh(["ip", "netns", "del", t.vmPod]);
    }
  });

  it("with external-net-via-pod-vm, moves the VM's secondary NIC into the pod netns as its default route", async () => {
    await sh(["ip", "link", "add", "eth1", "type", "veth", "peer", "name", "ext1"], t.vm);
    await sh(["ip", "addr", "add", "203.0.113.50/24", "dev", "eth1"], t.vm);
    await sh(["ip", "link", "set", "eth1", "up"], t.vm);
    await sh(["ip", "route", "add", "default", "via", "203.0.113.1", "dev", "eth1", "metric", "200"], t.vm);
    const config = { ...(await inspect(t, 8)), "external-net-via-pod-vm": true };
    const vm = {
      config,
      podNetns: t.vmPod,
      logger,
      vmNetns: t.vm,
      detectTimeoutMs: 5000,
      deletePodNetns: true,
    };
    try {
      await setupPodNode(vm);
      assert.match(await sh(["ip", "-br", "addr", "show", "eth1"], t.vmPod), /203\.0\.113\.50\/24/);
      // Only one default route is left: the copied one via the pod gateway was replaced.
      const defaults = (await sh(["ip", "route", "show", "default"], t.vmPod)).trim().split("\n");
      assert.equal(defaults.length, 1);
      assert.match(defaults[0], /^default via 203\.0\.113\.1 dev eth1\b/);
      assert.match(await sh(["ip", "-br", "link"], t.vm), /^ext1@/m);
      assert.doesNotMatch(await sh(["ip", "-br", "link"], t.vm), /^eth1@/m);
    } finally {
      await teardownPodNode(vm);
    }
    // The pod netns went with the veth end inside it, which took its peer along.
    await assertClean(t);
    assert.doesNotMatch(await sh(["ip", "-br", "link"], t.vm), /ext1/);
  });

  it("names the step when the pod netns has 2 IPv4 addresses on its interface", async () => {
    await sh(["ip", "addr", "add", "198.51.100.11/24", "dev", "eth0"], t.pod);
    try {
      await assert.rejects(inspect(t, 7), {
        message: `inspect pod netns ${t.podPath}: 2 IPv4 addresses on eth0, expected 1`,
      });
    } finally {
      await sh(["ip", "addr", "del", "198.51.100.11/24", "dev", "eth0"], t.pod);
    }
    assert.equal((await inspect(t, 7)).routes?.[0]?.gw, POD_GW);
  });
});
