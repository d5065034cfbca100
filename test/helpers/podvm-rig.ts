// A pod-VM build to run as a pod VM runs it: the bundle and its launchers (src/podvm/bundle.ts), a
// CA with the VM's server certificate, the VM's apf.json and a stand-in kata agent, all under one
// temp dir; and one agent call through an AgentProxy, as the daemon makes it.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { AgentProxy } from "../../src/agentproxy/index.ts";
import { agentHealth } from "../../src/cli/agent-health.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { bundlePodVm } from "../../src/podvm/bundle.ts";
import { CertAuthority, buildClientTls } from "../../src/tls/index.ts";
import { renderApfJson } from "../../src/userdata/apf-config.ts";
import { tlsConfig } from "../fixtures/test-agent-env.ts";

const repo = path.resolve(import.meta.dirname, "../..");

export interface Rig {
  dir: string;
  loader: string;
  apfJson: string;
  /** The stand-in kata agent's socket. */
  agentSocket: string;
  /** `forwarder <flags>` on `port`; `source`: where the VM's config comes from (default the apf.json, no provisioning). */
  args: (port: number, source?: string[]) => string[];
  clientTls: ReturnType<typeof buildClientTls>;
}

/** The pod-VM build, a CA, VM `vm`'s apf.json and a stand-in kata agent, all under one temp dir. */
export async function podVmRig(t: { after(fn: () => Promise<void> | void): void }, vm: string): Promise<Rig> {
  const dir = await mkdtemp(path.join(tmpdir(), "caa-launcher-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const loader = await bundlePodVm(path.join(dir, "podvm"));
  const ca = await CertAuthority.loadOrCreate(path.join(dir, "tls"));
  const server = await ca.issueServerCert(vm);
  const apf = path.join(dir, "apf.json");
  const apfJson = renderApfJson({
    "pod-network": null,
    "pod-namespace": "default",
    "pod-name": "launcher",
    "tls-server-key": server.keyPem,
    "tls-server-cert": server.certPem,
    "tls-client-ca": ca.clientCaPem,
  });
  await writeFile(apf, apfJson);
  const agentSocket = path.join(dir, "agent.sock");
  const agent = spawn(
    process.execPath,
    [path.join(repo, "providers/local/kata-agent.ts"), "--socket", agentSocket],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  t.after(() => void agent.kill("SIGTERM"));
  await waitFor(agent, "listening");
  return {
    dir,
    loader,
    apfJson,
    agentSocket,
    clientTls: buildClientTls(tlsConfig(), ca, vm),
    args: (port, source = ["-config", apf, "-skip-provision"]) => [
      ...["forwarder", ...source, "-no-pod-network"],
      ...["-listen", `127.0.0.1:${port}`, "-kata-agent-socket", agentSocket],
    ],
  };
}

export function waitFor(child: ChildProcess, text: string): Promise<void> {
  let out = "";
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes(text)) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`exited ${code} before "${text}": ${out}`)));
  });
}

/** One Health/Check through an AgentProxy to the forwarder on `port`. */
export async function healthCheck(r: Rig, port: number): Promise<string> {
  const proxy = new AgentProxy({
    socketPath: path.join(r.dir, `proxy-${port}/agent.ttrpc`),
    host: "127.0.0.1",
    port,
    tls: r.clientTls,
    timeoutMs: 15_000,
    logger: silentLogger(),
    sandboxId: "launcher",
  });
  try {
    await proxy.start();
    return await agentHealth(proxy.socketPath);
  } finally {
    await proxy.close();
  }
}
