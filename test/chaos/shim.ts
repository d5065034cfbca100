// The harness's kata shim: each sandbox's calls on a connection of their own to the daemon's
// ttrpc socket, as each shim process has. A call that could not even be sent (the daemon is down
// between a fault and its restart) is retried for a while, as kubelet retries the pod sandbox.
import { HypervisorDefinition } from "../../src/gen/hypervisor/hypervisor.ts";
import { TtrpcClient } from "../../src/ttrpc/client.ts";
import { TtrpcError } from "../../src/ttrpc/status.ts";

/** Longer than StartVM may take on a loaded machine (PROXY_TIMEOUT is 5 min). */
const CALL_TIMEOUT_MS = 360_000;
/** How long a shim keeps dialling a daemon that is not up. */
export const DIAL_RETRY_MS = 180_000;

export type ShimCall = "createVM" | "startVM" | "stopVM";

/** Dial failures send nothing: safe to retry. Everything after the dial is the daemon's answer. */
function notSent(err: unknown): boolean {
  return err instanceof TtrpcError && err.message.startsWith("ttrpc: dial");
}

async function dial(socket: string): Promise<TtrpcClient> {
  const deadline = Date.now() + DIAL_RETRY_MS;
  for (;;) {
    try {
      return await TtrpcClient.connect(socket);
    } catch (err) {
      if (!notSent(err) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function once<T>(socket: string, f: (c: TtrpcClient) => Promise<T>): Promise<T> {
  const client = await dial(socket);
  try {
    return await f(client);
  } finally {
    client.close();
  }
}

const POD_NAMESPACE = "chaos";

export function createVM(socket: string, id: string, podName: string, netns = ""): Promise<string> {
  return once(socket, async (c) => {
    const res = await c.callMethod(
      HypervisorDefinition,
      "createVM",
      {
        id,
        annotations: {
          "io.kubernetes.cri.sandbox-name": podName,
          "io.kubernetes.cri.sandbox-namespace": POD_NAMESPACE,
        },
        networkNamespacePath: netns,
      },
      { timeoutMs: CALL_TIMEOUT_MS },
    );
    return res.agentSocketPath;
  });
}

export function startVM(socket: string, id: string): Promise<void> {
  return once(socket, async (c) => {
    await c.callMethod(HypervisorDefinition, "startVM", { id }, { timeoutMs: CALL_TIMEOUT_MS });
  });
}

export function stopVM(socket: string, id: string): Promise<void> {
  return once(socket, async (c) => {
    await c.callMethod(HypervisorDefinition, "stopVM", { id }, { timeoutMs: CALL_TIMEOUT_MS });
  });
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
