// apf.json's pod-network handed to the podnetwork helper's VM side (docs/upstream-compat.md §4.3).
import type { Logger } from "../log/logger.ts";
import { setupPodNode, teardownPodNode } from "../podnetwork/podnode.ts";
import type { PodNetworkConfig } from "../podnetwork/types.ts";
import type { PodNetworkConfig as ApfPodNetwork } from "../userdata/apf-types.ts";
import type { ForwarderConfig } from "./options.ts";

export interface PodNetworkHandle {
  close(): Promise<void>;
}

export async function startPodNetwork(
  apfNet: ApfPodNetwork,
  cfg: ForwarderConfig,
  logger: Logger,
): Promise<PodNetworkHandle> {
  const config = toPodNetworkConfig(apfNet);
  const opts = {
    config,
    podNetns: cfg.podNamespace,
    hostInterface: cfg.hostInterface !== "" ? cfg.hostInterface : undefined,
    logger,
  };
  await setupPodNode(opts);
  return {
    close: () =>
      teardownPodNode(opts).catch((err: unknown) =>
        logger.warn({ err: (err as Error).message }, "failed to tear down pod network"),
      ),
  };
}

/** The two packages type the same JSON; only the neighbour state "none" (0) needs dropping. */
function toPodNetworkConfig(n: ApfPodNetwork): PodNetworkConfig {
  return {
    ...n,
    neighbors:
      n.neighbors?.map(({ state, ...rest }) => (state === "none" ? rest : { ...rest, state })) ?? null,
  };
}
