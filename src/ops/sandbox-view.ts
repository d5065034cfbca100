// The read-only view of the sandbox manager that the ops server and the leak collector use.
// The manager in src/sandbox/ satisfies it structurally; nothing here can change a sandbox.

import type { SandboxView, Stage } from "../sandbox/model.ts";

export type { SandboxView, Stage };

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

export interface SandboxSource {
  list(): SandboxView[];
  get(id: string): SandboxView | undefined;
  /** True when a known sandbox (in flight or done) owns this cloud instance. */
  ownsInstance(instanceId: string): boolean;
  /** Ids of sandboxes whose instance create is in flight. */
  inFlightSandboxIds(): Set<string>;
}
