// The read-only view of the sandbox manager that the ops server and the leak collector use.
// The manager in src/sandbox/ satisfies it structurally; nothing here can change a sandbox.

import type { Stage } from "../sandbox/model.ts";

export type { Stage };

export const STAGES: readonly Stage[] = [
  "validating",
  "created",
  "provisioning",
  "booting",
  "agent-connect",
  "running",
  "stopping",
  "stopped",
  "failed",
];

export interface SandboxView {
  id: string;
  podName: string;
  podNamespace: string;
  stage: Stage;
  createdAt: string;
  instanceId?: string;
  instanceName?: string;
  instanceType?: string;
  ips: string[];
  vni?: number;
  /** Milliseconds spent in each stage reached so far. */
  timings: Partial<Record<Stage, number>>;
  lastError?: { stage: Stage; message: string; code?: string };
}

export interface SandboxSource {
  list(): SandboxView[];
  get(id: string): SandboxView | undefined;
  /** True when a known sandbox (in flight or done) owns this cloud instance. */
  ownsInstance(instanceId: string): boolean;
  /** Ids of sandboxes whose instance create is in flight. */
  inFlightSandboxIds(): Set<string>;
}
