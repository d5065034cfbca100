// Upstream's startup probe (CAA pkg/probe/probe.go, checker.go; docs/upstream-compat.md §9.3): ready once
// the hypervisor socket accepts a connection AND, in a Kubernetes node, every pod of the peer-pod
// runtime class on this node is Ready with a Ready transition after this daemon started (so a
// rolling update waits until the pods served by the old daemon came back). The pod check latches:
// once it passed it is not repeated; the socket check runs on every probe.
import { connect } from "node:net";

/** The Ready condition of one pod on this node, as the startup check needs it. */
export interface NodePod {
  name: string;
  namespace: string;
  runtimeClassName?: string;
  /** Absent when the pod has no Ready condition yet (upstream skips such pods). */
  ready?: { status: string; lastTransitionTime?: Date };
}

/** Lists the pods scheduled on this node (src/k8s/node-pods.ts in the daemon). */
export interface NodePodLister {
  listNodePods(): Promise<NodePod[]>;
}

export interface StartupOptions {
  socketPath: string;
  /** Absent outside Kubernetes: only the socket is checked. */
  pods?: NodePodLister;
  /** RUNTIMECLASS_NAME, default kata-remote. */
  runtimeClassName?: string;
  /** When this daemon started; defaults to the check's creation time. */
  startedAt?: Date;
  connectTimeoutMs?: number;
  /**
   * This daemon took its sandboxes over from a predecessor on the same node (a handover): the
   * peer pods were never interrupted, so their Ready transitions are not waited for.
   */
  handedOver?: boolean;
}

export interface StartupResult {
  ok: boolean;
  reason: string;
}

export class StartupCheck {
  private readonly opts: StartupOptions;
  private readonly startedAt: Date;
  private readonly runtimeClassName: string;
  private podsDone = false;
  private handingOver: string | undefined;

  constructor(opts: StartupOptions) {
    this.opts = opts;
    this.startedAt = opts.startedAt ?? new Date();
    this.runtimeClassName = opts.runtimeClassName || "kata-remote";
    this.podsDone = opts.handedOver === true;
  }

  /**
   * From now on every probe fails with `reason`: this daemon is handing its state directory over,
   * and Kubernetes must not take it for the new pod that is starting (nor send it traffic).
   */
  handOver(reason: string | undefined): void {
    this.handingOver = reason;
  }

  async check(): Promise<StartupResult> {
    if (this.handingOver) return { ok: false, reason: this.handingOver };
    const socket = await this.socketAccepts();
    if (!socket.ok) return socket;
    if (this.podsDone || !this.opts.pods) return { ok: true, reason: "ready" };
    const pods = await this.peerPodsReady(this.opts.pods);
    if (pods.ok) this.podsDone = true;
    return pods;
  }

  /** Only the hypervisor socket: what `/readyz` reports. */
  socketAccepts(): Promise<StartupResult> {
    if (this.handingOver) return Promise.resolve({ ok: false, reason: this.handingOver });
    const { socketPath } = this.opts;
    return new Promise((resolve) => {
      const conn = connect(socketPath);
      const timer = setTimeout(
        () => finish({ ok: false, reason: `connect to ${socketPath} timed out` }),
        this.opts.connectTimeoutMs ?? 2000,
      );
      const finish = (r: StartupResult) => {
        clearTimeout(timer);
        conn.destroy();
        resolve(r);
      };
      conn.once("connect", () => finish({ ok: true, reason: "hypervisor socket accepts connections" }));
      conn.once("error", (err: NodeJS.ErrnoException) =>
        finish({
          ok: false,
          reason: `hypervisor socket ${socketPath} not accepting: ${err.code ?? err.message}`,
        }),
      );
    });
  }

  private async peerPodsReady(lister: NodePodLister): Promise<StartupResult> {
    let pods: NodePod[];
    try {
      pods = await lister.listNodePods();
    } catch (err) {
      return { ok: false, reason: `listing pods on this node failed: ${(err as Error).message}` };
    }
    for (const pod of pods) {
      if (pod.runtimeClassName !== this.runtimeClassName || !pod.ready) continue;
      const id = `${pod.namespace}/${pod.name}`;
      if (pod.ready.status !== "True") return { ok: false, reason: `peer pod ${id} is not Ready` };
      const at = pod.ready.lastTransitionTime;
      if (!at || at.getTime() < this.startedAt.getTime())
        return { ok: false, reason: `peer pod ${id} has not been restarted since this daemon started` };
    }
    return { ok: true, reason: "ready" };
  }
}
