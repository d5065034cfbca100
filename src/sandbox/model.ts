// The sandbox as the daemon records it. One JSON file per sandbox (src/sandbox/store.ts), written
// at every transition, so that a restart knows every sandbox and every instance it created.
import type { CloudVolume } from "./cloud-volumes.ts";
import type { InstanceSpec } from "../../providers/types.ts";
import type { PodNetworkConfig } from "../userdata/apf-config.ts";

/** Where a sandbox is in its life; reported in logs, metrics and the admin API. */
export type Stage =
  | "validating"
  | "created"
  | "provisioning"
  | "booting"
  | "agent-connect"
  | "running"
  | "stopping"
  | "stopped"
  | "failed";

/** Stages StartVM passes through, in order; a failure names the one that did not finish. */
export const START_STAGES = ["provisioning", "booting", "agent-connect"] as const;
export type StartStage = (typeof START_STAGES)[number];

export interface InstanceRecord {
  id: string;
  name: string;
  ips: string[];
}

export interface SandboxError {
  stage: Stage;
  message: string;
  code?: string;
}

export interface SandboxRecord {
  id: string;
  podName: string;
  podNamespace: string;
  netnsPath: string;
  vmName: string;
  spec: InstanceSpec;
  podDir: string;
  agentSocketPath: string;
  /** Tunnel index (VNI = min id + index); allocated durably so a restart never hands it out twice. */
  tunnelIndex?: number;
  /** The apf.json `pod-network` object, when the pod has a network namespace. */
  podNetwork?: PodNetworkConfig;
  /** The pod's cloud_volumes, kept for the agent proxy across restarts (src/sandbox/cloud-volumes.ts). */
  cloudVolumes?: CloudVolume[];
  /** Rendered cloud-config. Holds the VM's TLS key: the state directory is 0700, the file 0600. */
  userData: string;
  stage: Stage;
  createdAt: string;
  updatedAt: string;
  /** Milliseconds spent in each finished stage. */
  timings: Partial<Record<Stage, number>>;
  instance?: InstanceRecord;
  /** The instance came from the warm pool (a claim and a bind, no create). */
  pooled?: boolean;
  lastError?: SandboxError;
}

/** What the admin API, metrics and the leak collector may see: no user-data, no keys. */
export interface SandboxView {
  id: string;
  podName: string;
  podNamespace: string;
  stage: Stage;
  createdAt: string;
  instanceId?: string;
  instanceName?: string;
  instanceType: string;
  ips: string[];
  vni?: number;
  timings: Partial<Record<Stage, number>>;
  pooled?: boolean;
  lastError?: SandboxError;
}
