// What the sandbox lifecycle needs from the parts below it. The daemon wiring (src/daemon/) adapts
// the pod network, the agent proxy, TLS and Kubernetes to these, so the lifecycle imports none of
// them (only the apf.json types it records, from src/userdata).
import type { PodNetworkConfig } from "../userdata/apf-config.ts";
import type { Instance, InstanceSpec } from "../../providers/types.ts";
import type { CloudVolume } from "./cloud-volumes.ts";
import type { SandboxError, SandboxRecord, Stage } from "./model.ts";

/** The apf.json `pod-network` object: what the VM needs to rebuild the pod's network. */
export type PodNetwork = PodNetworkConfig;

/** Worker side of the pod tunnel (src/podnetwork). */
export interface PodNetworkPort {
  /** Read the pod netns at CreateVM. */
  inspect(netnsPath: string, tunnelIndex: number): Promise<PodNetwork>;
  /** VNI of a tunnel index, for the admin API. */
  vni(tunnelIndex: number): number;
  /** Build the worker end of the tunnel to the VM at `remoteIp` (VXLAN device, NOTRACK rules). */
  setup(netnsPath: string, podNetwork: PodNetwork, remoteIp: string): Promise<void>;
  /** Remove what setup built; safe to repeat and on partial state. */
  teardown(netnsPath: string, podNetwork: PodNetwork, remoteIp: string): Promise<void>;
}

/** TLS fields of apf.json for one VM (`tls-server-cert`, `tls-server-key`, `tls-client-ca`, …). */
export type ApfTlsFields = Record<string, string | string[]>;

export interface AgentConnectOptions {
  sandboxId: string;
  /** The agent socket the shim dials (`<pods-dir>/<id>/agent.ttrpc`). */
  socketPath: string;
  /** The VM's name: its certificate's subject. */
  vmName: string;
  /** Where the forwarder in the VM listens. */
  ip: string;
  signal: AbortSignal;
  /** The pod's cloud volumes, for the worker-side CreateContainer edit. */
  cloudVolumes?: readonly CloudVolume[];
}

/** The mTLS agent connection (src/tls + src/agentproxy). */
export interface AgentPort {
  /** Issue the VM's server certificate (kept in memory only: nothing to undo if CreateVM fails later). */
  apfTls(vmName: string): Promise<ApfTlsFields>;
  /** Serve `socketPath` and resolve once the forwarder in the VM answers. */
  connect(opts: AgentConnectOptions): Promise<AgentSession>;
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

/** The pod's own annotations from the API server: the shims send CreateVM only a fixed set. */
export interface PodAnnotationsPort {
  /** The annotation's value, or undefined when absent or the pod can't be read (logged). Never throws. */
  annotation(podNamespace: string, podName: string, key: string): Promise<string | undefined>;
}

/** The warm pool (src/pool/): StartVM takes a ready VM instead of creating one, when it has one. */
export interface WarmPoolPort {
  /** Claim a ready VM of this spec's pool key for the sandbox, durably; undefined on a miss. */
  claim(sandboxId: string, spec: InstanceSpec): Promise<Instance | undefined>;
  /** Push the sandbox's user-data to the claimed VM; throws when it cannot be bound. */
  bind(instanceId: string, userData: string, signal: AbortSignal): Promise<void>;
}

/** Registry credentials for the pod's images (src/k8s/pull-secrets.ts), only in Kubernetes. */
export interface PullSecretsPort {
  /** The merged auth.json text, or undefined when the pod has none. Never throws. */
  authJson(podNamespace: string, podName: string): Promise<string | undefined>;
}
