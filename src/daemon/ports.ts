// Adapters from the parts below the lifecycle (pod network, TLS + agent proxy) to the ports the
// sandbox manager calls (src/sandbox/ports.ts).
import type { Logger } from "../log/logger.ts";
import { AgentProxy, type CallObserver } from "../agentproxy/index.ts";
import { apfTlsFields, sharedClientTls, type TlsConfig } from "../tls/index.ts";
import type { CertAuthority } from "../tls/authority.ts";
import { inspectPodNetwork } from "../podnetwork/inspect.ts";
import { setupWorkerTunnel, teardownWorkerTunnel } from "../podnetwork/worker.ts";
import { vniFor } from "../podnetwork/vni.ts";
import type { AgentPort, PodNetworkPort } from "../sandbox/ports.ts";

export function podNetworkPort(opts: {
  hostInterface: string;
  vxlanPort: number;
  vxlanMinId: number;
  externalNetViaPodVm: boolean;
  podSubnetCidrs: readonly string[];
  logger: Logger;
}): PodNetworkPort {
  const { logger } = opts;
  return {
    inspect: (netnsPath, index) =>
      inspectPodNetwork({
        netnsPath,
        index,
        hostInterface: opts.hostInterface === "" ? undefined : opts.hostInterface,
        vxlanPort: opts.vxlanPort,
        vxlanMinId: opts.vxlanMinId,
        externalNetViaPodVm: opts.externalNetViaPodVm,
        podSubnetCidrs: [...opts.podSubnetCidrs],
        logger,
      }),
    vni: (index) => vniFor(index, opts.vxlanMinId),
    setup: (netnsPath, config, remoteIp) => setupWorkerTunnel({ netnsPath, config, remoteIp, logger }),
    teardown: (netnsPath, config, remoteIp) => teardownWorkerTunnel({ netnsPath, config, remoteIp, logger }),
  };
}

export function agentPort(opts: {
  tls: TlsConfig;
  ca: CertAuthority;
  /** FORWARDER_HOST: dial this instead of the VM's IP when set. */
  forwarderHost: string;
  forwarderPort: number;
  proxyTimeoutMs: number;
  logger: Logger;
  onCall?: CallObserver;
}): AgentPort {
  return {
    apfTls: async (vmName) => ({ ...(await apfTlsFields(opts.tls, opts.ca, vmName)) }),
    async connect({ sandboxId, socketPath, vmName, ip, signal, cloudVolumes }) {
      const proxy = new AgentProxy({
        socketPath,
        host: opts.forwarderHost !== "" ? opts.forwarderHost : ip,
        port: opts.forwarderPort,
        tls: sharedClientTls(opts.tls, opts.ca, vmName),
        timeoutMs: opts.proxyTimeoutMs,
        logger: opts.logger,
        sandboxId,
        onCall: opts.onCall,
        cloudVolumes,
      });
      await proxy.start(signal);
      return proxy;
    },
  };
}
