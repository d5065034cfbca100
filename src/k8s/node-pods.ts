// Pods scheduled on this node with their Ready condition, for the startup probe
// (src/ops/startup.ts; upstream lists with the field selector spec.nodeName=<node>).
import type { CoreV1Api } from "@kubernetes/client-node";
import type { NodePod, NodePodLister } from "../ops/startup.ts";

export class KubeNodePods implements NodePodLister {
  private readonly core: CoreV1Api;
  private readonly nodeName: string;

  constructor(core: CoreV1Api, nodeName: string) {
    this.core = core;
    this.nodeName = nodeName;
  }

  async listNodePods(): Promise<NodePod[]> {
    const list = await this.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${this.nodeName}` });
    return list.items.map((pod) => {
      const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
      return {
        name: pod.metadata?.name ?? "",
        namespace: pod.metadata?.namespace ?? "",
        runtimeClassName: pod.spec?.runtimeClassName,
        ready: ready && {
          status: ready.status,
          lastTransitionTime: ready.lastTransitionTime ? new Date(ready.lastTransitionTime) : undefined,
        },
      };
    });
  }
}
