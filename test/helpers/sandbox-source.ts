// An in-memory SandboxSource for tests of the ops server and the leak collector.
import type { SandboxSource, SandboxView } from "../../src/ops/sandbox-view.ts";

export class FakeSandboxSource implements SandboxSource {
  readonly sandboxes = new Map<string, SandboxView>();
  readonly inFlight = new Set<string>();

  add(view: SandboxView): this {
    this.sandboxes.set(view.id, view);
    return this;
  }

  list(): SandboxView[] {
    return [...this.sandboxes.values()];
  }

  get(id: string): SandboxView | undefined {
    return this.sandboxes.get(id);
  }

  ownsInstance(instanceId: string): boolean {
    return this.list().some((s) => s.instanceId === instanceId);
  }

  inFlightSandboxIds(): Set<string> {
    return new Set(this.inFlight);
  }
}

export function sandboxView(id: string, over: Partial<SandboxView> = {}): SandboxView {
  return {
    id,
    podName: `pod-${id.slice(0, 6)}`,
    podNamespace: "default",
    stage: "running",
    createdAt: "2026-01-02T03:04:05.000Z",
    instanceType: "",
    ips: [],
    timings: {},
    ...over,
  };
}
