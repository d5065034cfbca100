// Kubernetes Events the daemon records: on the pod, where a peer pod failed (the lifecycle stage
// — provisioning / booting / agent-connect — and the cloud's error code, so that a pod stuck in
// ContainerCreating explains itself in `kubectl describe pod`, docs/background.md §1.8); and on a
// deleted node, what the cluster leak collector did with the VMs it left behind.
import type { CoreV1Api, CoreV1Event, V1ObjectReference } from "@kubernetes/client-node";
import type { Logger } from "../log/logger.ts";
import { apiError } from "./api-error.ts";
import { COMPONENT, START_FAILED_REASON } from "./event-reasons.ts";

export { COMPONENT, RECORD_QUARANTINED_REASON, START_FAILED_REASON } from "./event-reasons.ts";

// Node events live in `default`, where the kubelet records them and `kubectl describe node` looks.
const NODE_EVENT_NAMESPACE = "default";

// The API server rejects longer Event messages in events.k8s.io/v1 (`note`); keep core/v1 the same.
const MAX_MESSAGE = 1024;

export interface PodEvent {
  reason: string;
  message: string;
  type: "Normal" | "Warning";
}

export interface KubeEventsOptions {
  core: CoreV1Api;
  nodeName: string;
  logger: Logger;
  now?: () => Date;
}

export class KubeEvents {
  private readonly opts: KubeEventsOptions;

  constructor(opts: KubeEventsOptions) {
    this.opts = opts;
  }

  /** Record an Event on the pod; false (logged) when the API refused. Never throws. */
  async emit(podName: string, namespace: string, ev: PodEvent): Promise<boolean> {
    const uid = await this.podUid(podName, namespace);
    return this.record(namespace, { apiVersion: "v1", kind: "Pod", name: podName, namespace, uid }, ev);
  }

  /** Record an Event on a node (which may no longer exist); false (logged) when refused. Never throws. */
  emitOnNode(node: string, ev: PodEvent): Promise<boolean> {
    return this.record(NODE_EVENT_NAMESPACE, { apiVersion: "v1", kind: "Node", name: node }, ev);
  }

  private async record(namespace: string, involvedObject: V1ObjectReference, ev: PodEvent): Promise<boolean> {
    const { core, nodeName, logger } = this.opts;
    const now = (this.opts.now ?? (() => new Date()))();
    const name = involvedObject.name ?? "";
    const body: CoreV1Event = {
      metadata: { name: `${name}.${(BigInt(now.getTime()) * 1_000_000n).toString(16)}`, namespace },
      involvedObject,
      reason: ev.reason,
      message: truncate(ev.message),
      type: ev.type,
      source: { component: COMPONENT, host: nodeName },
      reportingComponent: COMPONENT,
      reportingInstance: nodeName,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await core.createNamespacedEvent({ namespace, body });
      return true;
    } catch (err) {
      logger.error(
        { kind: involvedObject.kind, name, namespace, reason: ev.reason, api: apiError(err) },
        `failed to record ${involvedObject.kind?.toLowerCase() ?? ""} event`,
      );
      return false;
    }
  }

  /** A failed StartVM: `Warning PeerPodStartFailed` naming the stage and the cloud's error code. */
  startFailed(
    podName: string,
    namespace: string,
    failure: { stage: string; message: string; code?: string },
  ): Promise<boolean> {
    const code = failure.code ? ` (${failure.code})` : "";
    return this.emit(podName, namespace, {
      reason: START_FAILED_REASON,
      type: "Warning",
      message: `StartVM failed at stage ${failure.stage}${code}: ${failure.message}`,
    });
  }

  /** The pod's UID links the Event to it in `kubectl describe`; omitted when the pod can't be read. */
  private async podUid(name: string, namespace: string): Promise<string | undefined> {
    try {
      return (await this.opts.core.readNamespacedPod({ name, namespace })).metadata?.uid;
    } catch (err) {
      this.opts.logger.warn({ pod: name, namespace, api: apiError(err) }, "could not read pod for its event");
      return undefined;
    }
  }
}

function truncate(text: string): string {
  return text.length <= MAX_MESSAGE ? text : `${text.slice(0, MAX_MESSAGE - 3)}...`;
}
