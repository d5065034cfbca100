// The cluster's node names, for the cluster-scope leak collector (src/leak/cluster-collector.ts).
import type { CoreV1Api } from "@kubernetes/client-node";
import type { ClusterNodes } from "../leak/cluster-collector.ts";
import { apiError } from "./api-error.ts";

export class KubeClusterNodes implements ClusterNodes {
  private readonly core: CoreV1Api;

  constructor(core: CoreV1Api) {
    this.core = core;
  }

  async nodeNames(): Promise<Set<string>> {
    try {
      const list = await this.core.listNode();
      return new Set(list.items.map((n) => n.metadata?.name ?? "").filter((n) => n !== ""));
    } catch (err) {
      throw new Error(`listing nodes: ${apiError(err).message}`, { cause: err });
    }
  }
}
