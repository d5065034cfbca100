// Agent dial to a VM that is still booting: its network drops SYNs silently until it "booted" at
// `bootMs` (test/helpers/syn-dropping-vm.ts), then its forwarder answers at once. Timed from the
// first dial to the connection: our agent proxy (a fresh connect every CONNECT_ATTEMPT_MS) vs. one
// connect left to the kernel's SYN schedule, as upstream's dial makes (net.Dialer{Timeout:
// PROXY_TIMEOUT} under retry.Do), both dialling at once in the same run. Root only.
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentProxy } from "../../src/agentproxy/proxy.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { startSynDroppingVm } from "../helpers/syn-dropping-vm.ts";

export interface AgentDialResult {
  bootMs: number;
  /** When each side's connection was up, ms after the first dial. */
  oursMs: number;
  singleConnectMs: number;
}

export async function benchAgentDial(bootMs = 20_000): Promise<AgentDialResult> {
  const dir = await mkdtemp(join(tmpdir(), "caa-dial-"));
  const vm = await startSynDroppingVm("203.0.113.252", 15150);
  const proxy = new AgentProxy({
    socketPath: join(dir, "agent.ttrpc"),
    host: vm.ip,
    port: vm.port,
    tls: null,
    timeoutMs: 120_000,
    logger: silentLogger(),
    sandboxId: "bench-dial",
  });
  try {
    const t0 = performance.now();
    const since = () => performance.now() - t0;
    const ours = proxy.start().then(since);
    const single = new Promise<number>((resolve, reject) => {
      const s = net.connect({ host: vm.ip, port: vm.port });
      s.once("connect", () => (resolve(since()), s.destroy())).once("error", reject);
    });
    const booted = new Promise<void>((resolve) => setTimeout(resolve, bootMs)).then(() => vm.open());
    const [oursMs, singleConnectMs] = await Promise.all([ours, single, booted]);
    return { bootMs, oursMs, singleConnectMs };
  } finally {
    await proxy.close();
    await vm.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) console.log(JSON.stringify(await benchAgentDial(Number(process.argv[2] ?? 20_000))));
