// The VM-side interceptors (CAA pkg/forwarder/interceptor/interceptor.go; docs/upstream-compat.md §5.2):
// containers join the pod network namespace, and CreateSandbox's DNS servers are dropped so the VM's
// own /etc/resolv.conf is left alone (CAA issue #98). Undeclared fields survive as unknown fields.
import { CreateSandboxRequest } from "../gen/agent/agent.ts";
import { AGENT_SERVICE, decodeCreateContainer, encodeCreateContainer } from "../relay/agent.ts";
import type { PayloadEdit } from "../relay/relay.ts";
import { Code, TtrpcError } from "../ttrpc/index.ts";

export function addPodNetworkNamespace(podNsPath: string): PayloadEdit {
  return (payload, logger) => {
    const req = decodeCreateContainer(payload);
    const log = logger.child({ container: req.containerId });
    log.info(`CreateContainer: containerID:${req.containerId}`);
    if (req.OCI === undefined) {
      log.warn("CreateContainer without an OCI spec: relayed unchanged");
      return payload;
    }
    req.OCI.Linux ??= { CgroupsPath: "", Namespaces: [] };
    req.OCI.Linux.Namespaces.push({ Type: "network", Path: podNsPath });
    log.info(
      { namespaces: req.OCI.Linux.Namespaces.map((ns) => `${ns.Type}: ${JSON.stringify(ns.Path)}`) },
      "namespaces",
    );
    return encodeCreateContainer(req);
  };
}

export const clearSandboxDns: PayloadEdit = (payload, logger) => {
  let req: CreateSandboxRequest;
  try {
    req = CreateSandboxRequest.decode(payload);
  } catch (err) {
    throw new TtrpcError(Code.InvalidArgument, `ttrpc: error unmarshalling payload: ${String(err)}`);
  }
  logger.info(`CreateSandbox: hostname:${req.hostname} sandboxId:${req.sandboxId}`);
  if (req.dns.length === 0) return payload;
  logger.info(
    { dns: req.dns },
    "eliminated the DNS setting from CreateSandboxRequest to stop updating /etc/resolv.conf on the peer pod VM (CAA issue #98)",
  );
  req.dns = [];
  return CreateSandboxRequest.encode(req).finish();
};

export function vmEdits(podNsPath: string): ReadonlyMap<string, PayloadEdit> {
  return new Map([
    [`${AGENT_SERVICE}/CreateContainer`, addPodNetworkNamespace(podNsPath)],
    [`${AGENT_SERVICE}/CreateSandbox`, clearSandboxDns],
  ]);
}
