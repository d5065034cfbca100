// The daemon's per-VM agent work alone, 100 VMs at once, in a process of its own: issue the VM's
// server certificate for its user-data (AgentPort.apfTls), then AgentPort.connect (the agent
// proxy's unix listener and its mTLS dial to the VM's forwarder) and close it, through the same
// adapter the daemon wires (src/daemon/ports.ts), against the stand-in forwarder. No cloud, no
// ttrpc, no records, logs off: a part of what the daemon does per sandbox, measured on its own so
// that the daemon's figure can be read against what its parts cost.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { agentPort } from "../../src/daemon/ports.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { CertAuthority } from "../../src/tls/authority.ts";
import { tlsConfig } from "../fixtures/test-agent-env.ts";
import { cleanupDaemon, freePort, makeDaemonDir } from "../helpers/daemon.ts";
import { runJsonChild } from "./json-child.ts";
import { standInForwarder, startAgentStandIn, type StandInForwarder } from "./stand-in-forwarder.ts";

export interface AgentConnectBurstResult {
  n: number;
  cpuMsPerSandbox: number;
  /** A second burst of n in the same process. */
  again?: { cpuMsPerSandbox: number };
}

/** The child: n VMs' certificate + connect + close at once, twice with `again`; CPU per VM. */
async function childBurst(stateDir: string, port: number, n: number, again: boolean) {
  const ca = await CertAuthority.loadOrCreate(path.join(stateDir, "tls"));
  const agent = agentPort({
    tls: tlsConfig(),
    ca,
    forwarderHost: "127.0.0.1",
    forwarderPort: port,
    proxyTimeoutMs: 60_000,
    logger: silentLogger(),
  });
  const one = async (i: number) => {
    const vmName = `podvm-floor-${i + 1}`;
    const dir = path.join(stateDir, "pods", `floor${i + 1}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await agent.apfTls(vmName);
    const session = await agent.connect({
      sandboxId: `floor${i + 1}`,
      socketPath: path.join(dir, "agent.ttrpc"),
      vmName,
      ip: "127.0.0.1",
      signal: AbortSignal.timeout(60_000),
    });
    await session.close();
  };
  const burst = async (first: number) => {
    const c0 = process.cpuUsage();
    await Promise.all(Array.from({ length: n }, (_, k) => one(first + k)));
    const c = process.cpuUsage(c0);
    return { cpuMsPerSandbox: (c.user + c.system) / 1000 / n };
  };
  await one(-1); // as the other levels: one VM before timing
  const first = await burst(0);
  return { n, ...first, ...(again && { again: await burst(n) }) };
}

/** Agent stand-in and stand-in forwarder here; the measured work in a fresh process. */
export async function benchAgentConnectBurst(n: number, again = false): Promise<AgentConnectBurstResult> {
  const dir = await makeDaemonDir("/dev/shm");
  const stateDir = path.join(dir, "state");
  const agentSocket = path.join(dir, "agent.sock");
  const agent = await startAgentStandIn(agentSocket);
  let forwarder: StandInForwarder | undefined;
  try {
    const port = await freePort();
    // Its CertAuthority.loadOrCreate makes stateDir/tls and the CA there, which the child loads.
    forwarder = await standInForwarder(stateDir, port, agentSocket);
    const args = ["--child", stateDir, String(port), String(n), ...(again ? ["--again"] : [])];
    return await runJsonChild<AgentConnectBurstResult>(
      fileURLToPath(import.meta.url),
      args,
      "agent connect burst",
    );
  } finally {
    await forwarder?.close();
    agent.kill("SIGTERM");
    await cleanupDaemon({ dir, bridge: "" });
  }
}

if (import.meta.main && process.argv[2] === "--child") {
  const [stateDir, port, n] = process.argv.slice(3, 6);
  const r = await childBurst(stateDir, Number(port), Number(n), process.argv.includes("--again"));
  console.log(JSON.stringify(r));
} else if (import.meta.main) {
  const r = await benchAgentConnectBurst(Number(process.argv[2] ?? 100), true);
  console.log(
    `agent work per VM (certificate + connect + close): ${r.cpuMsPerSandbox.toFixed(2)} ms; second burst ${r.again?.cpuMsPerSandbox.toFixed(2)} ms`,
  );
}
