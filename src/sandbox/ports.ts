// What the sandbox lifecycle needs from the parts below it. The daemon wiring (src/daemon/) adapts
// the pod network, the agent proxy, TLS and Kubernetes to these, so the lifecycle imports none of them.
import type { SandboxError, SandboxRecord, Stage } from "./model.ts";

/** Worker side of the pod tunnel (src/podnetwork). */
export interface PodNetworkPort {
  /** Read the pod netns at CreateVM; returns the apf.json `pod-network` object. */
  inspect(netnsPath: string, tunnelIndex: number): Promise<unknown>;
  /** VNI of a tunnel index, for the admin API. */
  vni(tunnelIndex: number): number;
  setup(netnsPath: string, podNetwork: unknown, remoteIp: string): Promise<void>;
  /** Safe to repeat and on partial state. */
  teardown(netnsPath: string, podNetwork: unknown, remoteIp: string): Promise<void>;
}

/** TLS fields of apf.json for one VM (`tls-server-cert`, `tls-server-key`, `tls-client-ca`, …). */
export type ApfTlsFields = Record<string, string | string[]>;

/** The mTLS agent connection (src/tls + src/agentproxy). */
export interface AgentPort {
  apfTls(vmName: string): Promise<ApfTlsFields>;
  /** Serve `socketPath` and resolve once the forwarder in the VM answers. */
  connect(opts: {
    sandboxId: string;
    socketPath: string;
    vmName: string;
    ip: string;
    signal: AbortSignal;
  }): Promise<AgentSession>;
}

export interface AgentSession {
  close(): Promise<void>;
}

/** Side effects that report the lifecycle (metrics, Kubernetes PeerPods and Events). Never throw. */
export interface LifecycleObserver {
  /** A whole call: CreateVM, StartVM or StopVM, with its duration and outcome. */
  call?(operation: "create" | "start" | "stop", ms: number, ok: boolean): void;
  stage?(sandbox: SandboxRecord, stage: Stage, ms: number): void;
  failed?(sandbox: SandboxRecord, error: SandboxError): void;
  instanceCreated?(sandbox: SandboxRecord): Promise<void>;
  instanceDeleted?(sandbox: SandboxRecord): Promise<void>;
}

/** Registry credentials for the pod's images (src/k8s/pull-secrets.ts), only in Kubernetes. */
export interface PullSecretsPort {
  /** The merged auth.json text, or undefined when the pod has none. Never throws. */
  authJson(podNamespace: string, podName: string): Promise<string | undefined>;
}
