// TCP throughput from the worker into the VM: to the pod IP through the VXLAN tunnel (pod veth → tc
// mirred → vxlan1 → underlay veth → vxlan → the VM's pod netns), against the VM's own IP over the same
// underlay veth without VXLAN. Runs alternate between the two paths in one tunnel set-up, so load
// from other processes on a shared machine hits both alike; median of 3 runs of ~2 s each.
// Needs root. Run alone with `node test/bench/tunnel.ts`.
import { silentLogger } from "../../src/log/logger.ts";
import { inspectPodNetwork } from "../../src/podnetwork/inspect.ts";
import { setupPodNode, teardownPodNode } from "../../src/podnetwork/podnode.ts";
import { setupWorkerTunnel, teardownWorkerTunnel } from "../../src/podnetwork/worker.ts";
import {
  POD_IP,
  VM_IP,
  buildTopology,
  destroyTopology,
  startTcpTool,
  tcpTool,
} from "../helpers/podnetwork-topology.ts";

export interface TunnelThroughput {
  /** MB/s (10^6 bytes) worker → pod through the tunnel. */
  vxlanMBps: number;
  /** MB/s worker → pod over the plain veth. */
  vethMBps: number;
  /** vxlanMBps / vethMBps */
  ratio: number;
}

const SECONDS = 2;
const RUNS = 3;
const PORT = "7100";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** One transfer: sink on `ip` in `receiverNs`, source in `senderNs`; MB/s seen by the sink. */
async function transfer(senderNs: string, receiverNs: string, ip: string): Promise<number> {
  const sink = await startTcpTool(receiverNs, ["sink", ip, PORT]);
  try {
    await tcpTool(senderNs, ["source", ip, PORT, String(SECONDS)], (SECONDS + 20) * 1000);
    const { bytes, ms } = JSON.parse(await sink.output) as { bytes: number; ms: number };
    return bytes / (ms / 1000) / 1e6;
  } finally {
    sink.stop();
  }
}

export async function benchTunnelThroughput(): Promise<TunnelThroughput> {
  const logger = silentLogger();
  const t = await buildTopology({ prefix: "b" });
  try {
    const config = await inspectPodNetwork({
      netnsPath: t.podPath,
      index: 0,
      vxlanPort: 4789,
      vxlanMinId: 555000,
      hostNetns: t.worker,
    });
    const worker = { netnsPath: t.podPath, config, remoteIp: VM_IP, logger, hostNetns: t.worker };
    const vm = {
      config,
      podNetns: t.vmPod,
      logger,
      vmNetns: t.vm,
      detectTimeoutMs: 5000,
      deletePodNetns: true,
    };
    const veth: number[] = [];
    const vxlan: number[] = [];
    await setupWorkerTunnel(worker);
    try {
      await setupPodNode(vm);
      for (let i = 0; i < RUNS; i++) {
        veth.push(await transfer(t.worker, t.vm, VM_IP));
        vxlan.push(await transfer(t.worker, t.vmPod, POD_IP));
      }
    } finally {
      await teardownPodNode(vm);
      await teardownWorkerTunnel(worker);
    }
    const vethMBps = median(veth);
    const vxlanMBps = median(vxlan);
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      vxlanMBps: round(vxlanMBps),
      vethMBps: round(vethMBps),
      ratio: Math.round((vxlanMBps / vethMBps) * 1000) / 1000,
    };
  } finally {
    await destroyTopology(t);
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchTunnelThroughput()));
}
