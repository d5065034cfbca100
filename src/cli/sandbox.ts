// `caa sandbox …`: a client that plays the kata shim against the hypervisor socket, so a newcomer
// can watch the daemon work: each call with its time, and the sandbox's stages as it moves.
import { randomBytes } from "node:crypto";
import { HypervisorDefinition } from "../gen/hypervisor/hypervisor.ts";
import { TtrpcClient, TtrpcError } from "../ttrpc/index.ts";
import { ANNOTATION } from "../sandbox/annotations.ts";

export interface ShimOptions {
  socket: string;
  /** Where `caa serve` answers GET /v1/sandboxes (ops endpoint). */
  adminUrl?: string;
  out?: (line: string) => void;
}

/** The shim's StartVM deadline with the shipped remote_hypervisor_timeout (docs/upstream-compat.md §1.3). */
const START_TIMEOUT_MS = 600_000;

async function withClient<T>(socket: string, fn: (c: TtrpcClient) => Promise<T>): Promise<T> {
  // Like the Go shim: one connection per call.
  const client = await TtrpcClient.connect(socket);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

export function newSandboxId(): string {
  return randomBytes(32).toString("hex");
}

export function podAnnotations(pod: string, namespace: string, extra: Record<string, string> = {}) {
  return { [ANNOTATION.sandboxName]: pod, [ANNOTATION.sandboxNamespace]: namespace, ...extra };
}

export async function createVM(
  o: ShimOptions,
  id: string,
  annotations: Record<string, string>,
  netns: string,
): Promise<string> {
  const res = await withClient(o.socket, (c) =>
    c.callMethod(HypervisorDefinition, "createVM", { id, annotations, networkNamespacePath: netns }),
  );
  return res.agentSocketPath;
}

export async function startVM(o: ShimOptions, id: string): Promise<void> {
  await withClient(o.socket, (c) =>
    c.callMethod(HypervisorDefinition, "startVM", { id }, { timeoutMs: START_TIMEOUT_MS }),
  );
}

export async function stopVM(o: ShimOptions, id: string): Promise<void> {
  await withClient(o.socket, (c) => c.callMethod(HypervisorDefinition, "stopVM", { id }));
}

interface AdminSandbox {
  id: string;
  podName: string;
  podNamespace: string;
  stage: string;
  instanceId?: string;
  ips: string[];
  pooled?: boolean;
  timings: Record<string, number>;
  lastError?: { stage: string; message: string };
}

export async function fetchSandboxes(adminUrl: string): Promise<AdminSandbox[]> {
  const res = await fetch(`${adminUrl}/v1/sandboxes`);
  if (!res.ok) throw new Error(`GET ${adminUrl}/v1/sandboxes: HTTP ${res.status}`);
  const body = (await res.json()) as { sandboxes?: AdminSandbox[] } | AdminSandbox[];
  return Array.isArray(body) ? body : (body.sandboxes ?? []);
}

/** Print the sandbox's stage each time it changes, until stopped. */
function watchStages(o: ShimOptions, id: string, print: (s: string) => void): () => void {
  if (!o.adminUrl) return () => undefined;
  let last = "";
  let stopped = false;
  const started = Date.now();
  const tick = async () => {
    while (!stopped) {
      const s = (await fetchSandboxes(o.adminUrl!).catch(() => [])).find((x) => x.id === id);
      if (s && s.stage !== last) {
        last = s.stage;
        print(`  … ${s.stage.padEnd(14)} +${((Date.now() - started) / 1000).toFixed(1)}s`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  void tick();
  return () => {
    stopped = true;
  };
}

async function timed<T>(label: string, print: (s: string) => void, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    const v = await fn();
    print(`✓ ${label.padEnd(10)} ${(performance.now() - t0).toFixed(1)} ms`);
    return v;
  } catch (err) {
    const msg = err instanceof TtrpcError ? err.describe() : (err as Error).message;
    print(`✗ ${label.padEnd(10)} ${(performance.now() - t0).toFixed(1)} ms: ${msg}`);
    throw err;
  }
}

export interface RunOptions {
  pod: string;
  namespace: string;
  netns: string;
  annotations: Record<string, string>;
  /** Checks the agent through the agent socket after StartVM (grpc.Health/Check). */
  healthCheck?: (agentSocketPath: string) => Promise<string>;
}

/** A whole lifecycle: CreateVM → StartVM (with stages) → agent health check → StopVM. */
export async function runLifecycle(o: ShimOptions, r: RunOptions): Promise<void> {
  const print = o.out ?? ((s: string) => console.log(s));
  const id = newSandboxId();
  print(`sandbox ${id} for pod ${r.namespace}/${r.pod}`);
  const socket = await timed("CreateVM", print, () =>
    createVM(o, id, podAnnotations(r.pod, r.namespace, r.annotations), r.netns),
  );
  print(`  agent socket ${socket}`);
  try {
    const unwatch = watchStages(o, id, print);
    try {
      await timed("StartVM", print, () => startVM(o, id));
    } finally {
      unwatch();
    }
    if (o.adminUrl) {
      const s = (await fetchSandboxes(o.adminUrl)).find((x) => x.id === id);
      if (s) {
        print(`  instance ${s.instanceId ?? "?"} ${s.ips.join(", ")}`);
        print(
          `  warm pool: ${s.pooled === true ? "hit (claimed a pooled VM, no create call)" : "miss (created a VM)"}`,
        );
        for (const [stage, ms] of Object.entries(s.timings)) print(`  ${stage.padEnd(14)} ${ms} ms`);
      }
    }
    if (r.healthCheck) {
      const status = await timed("Health", print, () => r.healthCheck!(socket));
      print(`  agent says ${status}`);
    }
  } finally {
    await timed("StopVM", print, () => stopVM(o, id));
  }
}
