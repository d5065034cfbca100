// The agent data path, measured in rounds (three by default), each beside its baselines in the same
// round so the spread across rounds shows how much the machine's load moves the figures:
// - unary latency of grpc.Health/Check from containerd's Go client, straight to the (test) agent vs.
//   through our AgentProxy + forwarder over mTLS on 127.0.0.1 vs. through the same proxy and Node's
//   own TLS pipe in the forwarder's place (node-tls-pipe.ts, same node flags) vs. through socat's relay,
//   one call on each path in turn so that a moment of load on this 2-core machine falls on all four
//   alike (it used to fall on whichever path was being measured); the relays' CPU per call comes from
//   a run on each alone;
// - streaming throughput (1 MiB WriteStdin/ReadStdout calls, 8 in flight) through our mTLS relay vs.
//   socat doing the same relay (unix → TLS → unix, same certificates, same client and agent),
//   alternating which goes first from round to round.
// Agent, forwarder (the sources, or what opts.forwarder names: `npm run bench` runs the pod VM's),
// socats and the load client run as separate processes; the proxy runs here.
// BENCH_FWD_NODE_ARGS passes node flags to the forwarder (e.g. "--trace-gc" or "--cpu-prof").
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { AgentProxy } from "../../src/agentproxy/index.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { CertAuthority, buildClientTls } from "../../src/tls/index.ts";
import { renderApfJson } from "../../src/userdata/apf-config.ts";
import { closedPort, tlsConfig } from "../fixtures/test-agent-env.ts";
import {
  goBenchClient,
  goBenchClients,
  type GoBenchOptions,
  type GoBenchResult,
} from "../helpers/go-peer.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const VM = "podvm-bench-00000000";

export interface ThroughputResult {
  /** MiB/s. */
  ours: number;
  socat: number;
  /** ours / socat. */
  ratio: number;
  /**
   * CPU (user + system) the two relay processes spent per MiB: ours = this process (the proxy) +
   * the forwarder, socat = both socats with their per-connection children. Less moved by the
   * machine's load than MiB/s, which is mostly the share of the cores each side got.
   */
  oursCpuMsPerMiB: number;
  socatCpuMsPerMiB: number;
}

export interface AgentPathRound {
  direct: GoBenchResult;
  viaProxy: GoBenchResult;
  /** The same calls through the proxy and Node's own TLS pipe (node-tls-pipe.ts) in the forwarder's place. */
  viaNodePipe: GoBenchResult;
  /** The same calls through the socat relay (unix → TLS → unix). */
  viaSocat: GoBenchResult;
  /** Added p50/p99 latency per call in microseconds (viaProxy − direct). */
  addedP50Us: number;
  addedP99Us: number;
  /** What the proxy and Node's TLS pipe add (viaNodePipe − direct). */
  nodePipeAddedP50Us: number;
  nodePipeAddedP99Us: number;
  /** What socat's two hops add (viaSocat − direct). */
  socatAddedP50Us: number;
  socatAddedP99Us: number;
  /**
   * CPU (user + system) µs per unary call of the two relay processes, counted as for throughput.
   * On a loaded machine p99 is mostly the scheduler's doing (the direct p99 moves as much); this is not.
   */
  oursCpuUsPerCall: number;
  /** The proxy's process + Node's TLS pipe, counted as ours. */
  nodePipeCpuUsPerCall: number;
  socatCpuUsPerCall: number;
  upload: ThroughputResult;
  download: ThroughputResult;
  /** 1-minute load average when the round ended. */
  load: number;
}

export interface AgentPathBench {
  rounds: AgentPathRound[];
  /** Medians over the rounds of each figure. */
  median: Omit<AgentPathRound, "direct" | "viaProxy" | "viaNodePipe" | "viaSocat">;
}

interface Child {
  proc: ChildProcess;
  out: () => string;
}

function start(cmd: string, args: string[]): Child {
  const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  return { proc, out: () => out };
}

async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: ${what} did not come up`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function stopAll(children: Child[]): Promise<void> {
  await Promise.all(
    children.map(async ({ proc }) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
    }),
  );
}

/** CPU ms of a process and its reaped children, from /proc (clock ticks of 10 ms). */
function procCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
}

function selfCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Runs the Go unary client; its latencies and the CPU µs per call that `cpuMs()` counted meanwhile. */
/** CPU µs per unary call that `cpuMs()` counts while the Go client makes `unary`'s calls on `socket`. */
async function unaryCpu(socket: string, unary: GoBenchOptions, cpuMs: () => number): Promise<number> {
  const before = cpuMs();
  await goBenchClient(socket, unary);
  await new Promise((r) => setTimeout(r, 200));
  return ((cpuMs() - before) * 1000) / (unary.n + (unary.warmup ?? 0));
}

/** Runs the stream client; MiB/s and the CPU ms per MiB that `cpuMs()` counted meanwhile. */
async function streamCpu(
  socket: string,
  method: string,
  ms: number,
  cpuMs: () => number,
): Promise<{ mibPerS: number; cpuMsPerMiB: number }> {
  const before = cpuMs();
  const mibPerS = await streamRun(socket, method, ms);
  // A socat child's CPU reaches its parent's count once the parent has reaped it.
  await new Promise((r) => setTimeout(r, 200));
  return { mibPerS, cpuMsPerMiB: (cpuMs() - before) / ((mibPerS * ms) / 1000) };
}

async function streamRun(socket: string, method: string, ms: number): Promise<number> {
  const client = start(process.execPath, [
    path.join(repo, "test/bench/agent-path-client.ts"),
    socket,
    method,
    String(1 << 20),
    "8",
    String(ms),
  ]);
  const code = await new Promise((r) => client.proc.once("exit", r));
  if (code !== 0) throw new Error(`bench: stream client failed: ${client.out()}`);
  const { bytes, ms: took } = JSON.parse(client.out().trim().split("\n").at(-1) ?? "{}") as {
    bytes: number;
    ms: number;
  };
  return bytes / (1 << 20) / (took / 1000);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

type Run = { mibPerS: number; cpuMsPerMiB: number };

function throughput(ours: Run, socat: Run): ThroughputResult {
  return {
    ours: ours.mibPerS,
    socat: socat.mibPerS,
    ratio: ours.mibPerS / socat.mibPerS,
    oursCpuMsPerMiB: ours.cpuMsPerMiB,
    socatCpuMsPerMiB: socat.cpuMsPerMiB,
  };
}

function medians(rounds: AgentPathRound[]): AgentPathBench["median"] {
  const m = (f: (r: AgentPathRound) => number): number => median(rounds.map(f));
  const t = (f: (r: AgentPathRound) => ThroughputResult): ThroughputResult => ({
    ours: m((r) => f(r).ours),
    socat: m((r) => f(r).socat),
    ratio: m((r) => f(r).ratio),
    oursCpuMsPerMiB: m((r) => f(r).oursCpuMsPerMiB),
    socatCpuMsPerMiB: m((r) => f(r).socatCpuMsPerMiB),
  });
  return {
    addedP50Us: m((r) => r.addedP50Us),
    addedP99Us: m((r) => r.addedP99Us),
    nodePipeAddedP50Us: m((r) => r.nodePipeAddedP50Us),
    nodePipeAddedP99Us: m((r) => r.nodePipeAddedP99Us),
    socatAddedP50Us: m((r) => r.socatAddedP50Us),
    socatAddedP99Us: m((r) => r.socatAddedP99Us),
    oursCpuUsPerCall: m((r) => r.oursCpuUsPerCall),
    nodePipeCpuUsPerCall: m((r) => r.nodePipeCpuUsPerCall),
    socatCpuUsPerCall: m((r) => r.socatCpuUsPerCall),
    upload: t((r) => r.upload),
    download: t((r) => r.download),
    load: m((r) => r.load),
  };
}

export async function benchAgentPath(
  opts: {
    calls?: number;
    streamMs?: number;
    rounds?: number;
    onRound?: (r: AgentPathRound) => void;
    /** Node's arguments that start the forwarder, before its flags; default the sources. */
    forwarder?: string[];
  } = {},
): Promise<AgentPathBench> {
  const calls = opts.calls ?? 3000;
  const streamMs = opts.streamMs ?? 2000;
  const rounds = opts.rounds ?? 3;
  const dir = await mkdtemp(path.join(tmpdir(), "caa-apb-"));
  const children: Child[] = [];
  const proxies: AgentProxy[] = [];
  try {
    const ca = await CertAuthority.loadOrCreate(path.join(dir, "tls"));
    const server = await ca.issueServerCert(VM);
    const f = (name: string): string => path.join(dir, name);
    await writeFile(
      f("apf.json"),
      renderApfJson({
        "pod-network": null,
        "pod-namespace": "default",
        "pod-name": "bench",
        "tls-server-key": server.keyPem,
        "tls-server-cert": server.certPem,
        "tls-client-ca": ca.clientCaPem,
      }),
    );
    for (const [name, text] of Object.entries({
      "server.crt": server.certPem,
      "server.key": server.keyPem,
      "client.crt": ca.clientCertPem,
      "client.key": ca.clientKeyPem,
      "ca.crt": ca.caCertPem,
    }))
      await writeFile(f(name), text, { mode: 0o600 });

    const agentSock = f("agent.sock");
    const agent = start(process.execPath, [
      path.join(repo, "providers/local/kata-agent.ts"),
      "--socket",
      agentSock,
    ]);
    children.push(agent);
    await until(() => agent.out().includes("listening"), "test agent");

    const nodeArgs = (process.env.BENCH_FWD_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const forwarderArgv = opts.forwarder ?? [path.join(repo, "src/forwarder/main.ts")];
    /** A relay process in the forwarder's place on a port of its own, and a proxy of ours to it. */
    const relayVia = async (argv: (port: number) => string[], name: string) => {
      const port = await closedPort();
      const relay = start(process.execPath, [...nodeArgs, ...argv(port)]);
      children.push(relay);
      await until(() => relay.out().includes("listening on"), name);
      const proxy = new AgentProxy({
        socketPath: f(`proxy-${name}/agent.ttrpc`),
        host: "127.0.0.1",
        port,
        tls: buildClientTls(tlsConfig(), ca, VM),
        timeoutMs: 15_000,
        logger: silentLogger(),
        sandboxId: "bench",
      });
      proxies.push(proxy);
      await proxy.start();
      return { relay, proxy };
    };
    const { relay: forwarder, proxy } = await relayVia(
      (port) => [
        ...forwarderArgv,
        ...["-config", f("apf.json"), "-skip-provision", "-no-pod-network"],
        ...["-listen", `127.0.0.1:${port}`, "-kata-agent-socket", agentSock],
      ],
      "forwarder",
    );
    // The pipe runs with the forwarder's node flags (what precedes its script in `forwarderArgv`).
    const { relay: nodePipe, proxy: pipeProxy } = await relayVia(
      (port) => [
        ...forwarderArgv.filter((a) => a.startsWith("--")),
        path.join(repo, "test/bench/node-tls-pipe.ts"),
        ...[f("apf.json"), `127.0.0.1:${port}`, agentSock],
      ],
      "node-pipe",
    );

    const unary = { n: calls, payloadSize: 0, warmup: 300, service: "grpc.Health", method: "Check" };
    // socat doing the same two hops: unix → TLS (client cert, CA, name check) → unix.
    const socatPort = await closedPort();
    const socatSock = f("socat.sock");
    children.push(
      start("socat", [
        `OPENSSL-LISTEN:${socatPort},bind=127.0.0.1,reuseaddr,fork,cert=${f("server.crt")},key=${f("server.key")},cafile=${f("client.crt")},verify=1`,
        `UNIX-CONNECT:${agentSock}`,
      ]),
      start("socat", [
        `UNIX-LISTEN:${socatSock},fork,unlink-early`,
        `OPENSSL:127.0.0.1:${socatPort},cert=${f("client.crt")},key=${f("client.key")},cafile=${f("ca.crt")},commonname=${VM},verify=1`,
      ]),
    );
    await until(() => existsSync(socatSock), "socat");
    const socats = children.slice(-2).map((c) => c.proc.pid ?? 0);
    const oursCpu = (): number => selfCpuMs() + procCpuMs(forwarder.proc.pid ?? 0);
    const nodePipeCpu = (): number => selfCpuMs() + procCpuMs(nodePipe.proc.pid ?? 0);
    const socatCpu = (): number => socats.reduce((sum, pid) => sum + procCpuMs(pid), 0);
    const runOurs = (method: string): Promise<Run> => streamCpu(proxy.socketPath, method, streamMs, oursCpu);
    const runSocat = (method: string): Promise<Run> => streamCpu(socatSock, method, streamMs, socatCpu);
    const pair = async (method: string, socatFirst: boolean): Promise<ThroughputResult> => {
      if (socatFirst) {
        const s = await runSocat(method);
        return throughput(await runOurs(method), s);
      }
      const o = await runOurs(method);
      return throughput(o, await runSocat(method));
    };
    const result: AgentPathRound[] = [];
    for (let i = 0; i < rounds; i++) {
      // Latency: the four paths' calls in turn, over the same moments.
      const [direct, viaProxy, viaNodePipe, viaSocat] = await goBenchClients(
        [agentSock, proxy.socketPath, pipeProxy.socketPath, socatSock],
        unary,
      );
      // CPU: each relay alone (the proxies share this process).
      const oursCpuUsPerCall = await unaryCpu(proxy.socketPath, unary, oursCpu);
      const nodePipeCpuUsPerCall = await unaryCpu(pipeProxy.socketPath, unary, nodePipeCpu);
      const socatCpuUsPerCall = await unaryCpu(socatSock, unary, socatCpu);
      const upload = await pair("WriteStdin", i % 2 === 1);
      const download = await pair("ReadStdout", i % 2 === 1);
      const round: AgentPathRound = {
        direct,
        viaProxy,
        viaNodePipe,
        viaSocat,
        addedP50Us: viaProxy.p50Us - direct.p50Us,
        addedP99Us: viaProxy.p99Us - direct.p99Us,
        nodePipeAddedP50Us: viaNodePipe.p50Us - direct.p50Us,
        nodePipeAddedP99Us: viaNodePipe.p99Us - direct.p99Us,
        socatAddedP50Us: viaSocat.p50Us - direct.p50Us,
        socatAddedP99Us: viaSocat.p99Us - direct.p99Us,
        oursCpuUsPerCall,
        nodePipeCpuUsPerCall,
        socatCpuUsPerCall,
        upload,
        download,
        load: loadavg()[0],
      };
      result.push(round);
      opts.onRound?.(round);
    }
    return { rounds: result, median: medians(result) };
  } finally {
    for (const p of proxies) await p.close();
    await stopAll(children);
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchAgentPath(), null, 2));
}
