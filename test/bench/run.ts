// `npm run bench`: every benchmark in one run, each beside its baseline, printed as markdown for
// BENCHMARKS.md. Figures are medians/percentiles of repeated runs on this machine.
import { benchDaemonOverhead, benchLocalLifecycle } from "./lifecycle.ts";
import { benchTtrpcUnary } from "./ttrpc.ts";
import { availableParallelism, loadavg } from "node:os";
import { ms, percentile } from "./stats.ts";
import { benchAgentPath } from "./agent-path.ts";
import { benchTunnelThroughput } from "./tunnel.ts";
import { benchAwsBurstInFreshProcess, type AwsBurstResult } from "./aws-burst.ts";
import { benchAwsDaemonBurst } from "./aws-daemon-burst.ts";
import { benchAgentConnectBurst } from "./agent-connect-burst.ts";
import { benchAzureBurstScenarios } from "./azure-burst.ts";
import {
  benchCliVersion,
  benchForwarderStart,
  benchServeRss,
  buildOutput,
  SUSTAINED_CALLS,
  type BuildOutput,
} from "./footprint.ts";
import { PODVM_NODE_FLAGS } from "../../src/podvm/node-flags.ts";
import { benchPool } from "./pool.ts";
import { benchAzureEarlyDial } from "./azure-early-dial.ts";
import { benchAgentDial } from "./agent-dial.ts";
import { AWS_BUDGET_SCENARIOS, BUDGET_HEADER, benchAwsBudget, budgetRow } from "./aws-budget.ts";

const only = process.argv.slice(2);
/** The 1-minute load average, printed with figures that other work on the machine skews. */
const load = () => `load average ${loadavg()[0].toFixed(2)}`;
const want = (name: string) => only.length === 0 || only.includes(name);
const out: string[] = [];
const line = (s = "") => {
  out.push(s);
  console.log(s);
};

line(`# Benchmark run ${new Date().toISOString()} (node ${process.version}, ${process.arch})`);
line();
line(
  `Load average at start: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(", ")} on ${availableParallelism()} CPUs`,
);
line();

// The production build (scripts/build.ts) in a temp dir: what the image runs and a pod VM boots.
let built: BuildOutput | undefined;
const build = async (): Promise<BuildOutput> => (built ??= await buildOutput());
process.once("beforeExit", () => void built?.cleanup());

// `forwarder` alone: the forwarder rows of `footprint`, without the CLI and `caa serve` ones.
if (want("footprint") || only.includes("forwarder")) {
  const b = await build();
  const rounds = await benchForwarderStart(b.bundle);
  line(
    `## Forwarder start (spawn to listening) and RSS once it served an mTLS agent call, ${rounds.length} rounds, medians of 5 each; RSS after ${SUSTAINED_CALLS} calls, one run each (${load()})`,
  );
  line(
    `The pod VM's forwarder is dist/podvm/caa-podvm: the bundle with \`node ${PODVM_NODE_FLAGS.join(" ")}\` (src/podvm/node-flags.ts), reading the apf.json that process-user-data wrote (-skip-provision, as under upstream's units); the last column: \`caa-podvm forwarder\` writing it itself from user-data on a cidata volume, median of 5.`,
  );
  line(
    `| round | \`node -e 0\` (baseline) | pod VM's forwarder | RSS | sources (src/forwarder/main.ts) | RSS | pod VM's forwarder after ${SUSTAINED_CALLS} calls | the bundle with node's default flags after ${SUSTAINED_CALLS} calls | RSS of the pod VM's forwarder provisioning in its own process |`,
  );
  line("|---|---|---|---|---|---|---|---|---|");
  rounds.forEach((f, i) =>
    line(
      `| ${i + 1} | ${ms(f.nodeBaselineMs)} | ${ms(f.bundle.startMs)} | ${f.bundle.rssMiB.toFixed(1)} MiB | ${ms(f.source.startMs)} | ${f.source.rssMiB.toFixed(1)} MiB | ${f.sustained.podVmMiB.toFixed(1)} MiB | ${f.sustained.defaultFlagsMiB.toFixed(1)} MiB | ${f.provisionedInProcessMiB.toFixed(1)} MiB |`,
    ),
  );
  line();
}

if (want("footprint")) {
  const b = await build();
  const c = benchCliVersion(b.cli);
  line(`## \`caa version\` wall, median of 7 (${load()})`);
  line(
    `\`node -e 0\` (baseline) ${ms(c.nodeBaselineMs)}; build output ${ms(c.builtMs)}; sources ${ms(c.sourceMs)}`,
  );
  line();
  const r = await benchServeRss(b.cli);
  line(`## \`caa serve\` RSS (build output, local provider, VMs with a light agent; ${load()})`);
  line(
    `idle ${r.idleMiB.toFixed(1)} MiB; with ${r.sandboxes} running sandboxes ${r.runningMiB.toFixed(1)} MiB`,
  );
  line();
}

if (want("ttrpc")) {
  const t = await benchTtrpcUnary(5000);
  line("## ttrpc unary round trip (Go client, 64-byte echo, 5000 sequential calls)");
  line("| server | p50 | p99 |");
  line("|---|---|---|");
  line(`| containerd Go server (baseline) | ${t.goServer.p50Us} µs | ${t.goServer.p99Us} µs |`);
  line(`| ours | ${t.ourServer.p50Us} µs | ${t.ourServer.p99Us} µs |`);
  line(`ratio ours/Go p50: ${(t.ourServer.p50Us / t.goServer.p50Us).toFixed(2)}`);
  line();
}

if (want("lifecycle")) {
  line("## Daemon overhead per lifecycle (CreateVM+StartVM+StopVM, connection per call, instant provider)");
  line("| state dir | concurrency | n | p50 | p99 |");
  line("|---|---|---|---|---|");
  for (const on of ["tmpfs", "disk"] as const) {
    for (const c of [1, 50]) {
      const s = await benchDaemonOverhead(c === 1 ? 300 : 500, c, on);
      line(`| ${on} | ${c} | ${s.n} | ${ms(s.p50)} | ${ms(s.p99)} |`);
    }
  }
  line();
}

if (want("local") && process.getuid?.() === 0) {
  line(
    `## Whole local lifecycle through \`caa serve\` (VM namespace, pod-VM bundle boot, mTLS agent connect, teardown; no boot delay; ${load()})`,
  );
  line("| concurrency | n | p50 | p99 |");
  line("|---|---|---|---|");
  for (const [c, n] of [
    [1, 10],
    [50, 50],
  ] as const) {
    const s = await benchLocalLifecycle(n, c, (await build()).cli);
    line(`| ${c} | ${s.n} | ${ms(s.p50)} | ${ms(s.p99)} |`);
  }
  line();
}

if (want("pool") && process.getuid?.() === 0) {
  const p = await benchPool();
  line("## Warm pool: StartVM on a hit vs. the cold path (local provider, LOCAL_BOOT_DELAY=30s)");
  line("| path | n | p50 | p99 |");
  line("|---|---|---|---|");
  line(
    `| cold: create + boot + agent connect (baseline) | ${p.cold.n} | ${ms(p.cold.p50)} | ${ms(p.cold.p99)} |`,
  );
  line(
    `| pool hit: claim + bind + tunnel + agent connect | ${p.hit.n} | ${ms(p.hit.p50)} | ${ms(p.hit.p99)} |`,
  );
  line(
    `whole \`caa sandbox run\` on a ${p.sandboxRunHit ? "hit" : "miss"} (CreateVM → StartVM → Health → StopVM): ${ms(p.sandboxRunMs)}`,
  );
  line();
}

if (want("agent")) {
  line(
    "## Agent path: Go client → proxy → mTLS → forwarder → agent, vs. the agent directly, vs. Node's own TLS pipe in the forwarder's place and vs. socat doing the same two hops (unix → TLS → unix), three rounds",
  );
  line(
    `The forwarder runs as a pod VM runs it: the pod-VM bundle with \`node ${PODVM_NODE_FLAGS.join(" ")}\`; the proxy runs in the bench process. Node's TLS pipe (test/bench/node-tls-pipe.ts: \`socket.pipe(agent).pipe(socket)\`, no ttrpc framing) runs with the same flags behind the same proxy: what a relay process in Node costs at least.`,
  );
  line(
    "Unary grpc.Health/Check, 3000 sequential calls per path, the four paths' calls taken in turn (one direct, one through ours, one through the Node pipe, one through socat, and again), so that each path is measured over the same moments; added = through the relay − direct. CPU µs/call = user + system CPU of the two relay processes per call (warm-up included), from a run of 3000 calls on each relay alone. Streaming: 1 MiB WriteStdin (upload) / ReadStdout (download), 8 in flight, 2 s each, ours and socat alternating within the round; CPU ms/MiB = user + system CPU of the two relay processes (ours: the proxy's process + the forwarder; socat: both socats) per MiB moved.",
  );
  line();
  line(
    "| round | direct p50 / p99 | added by ours p50 / p99 | added by proxy + Node's TLS pipe p50 / p99 | added by socat p50 / p99 | CPU µs/call ours / proxy + Node pipe / socat | upload ours / socat MiB/s | ratio | CPU ms/MiB ours / socat | download ours / socat MiB/s | ratio | CPU ms/MiB ours / socat | load |",
  );
  line("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  const us = (v: number): string => `${v.toFixed(0)} µs`;
  const tp = (t: { ours: number; socat: number }): string => `${t.ours.toFixed(0)} / ${t.socat.toFixed(0)}`;
  const cpu = (t: { oursCpuMsPerMiB: number; socatCpuMsPerMiB: number }): string =>
    `${t.oursCpuMsPerMiB.toFixed(1)} / ${t.socatCpuMsPerMiB.toFixed(1)}`;
  const perCall = (t: {
    oursCpuUsPerCall: number;
    nodePipeCpuUsPerCall: number;
    socatCpuUsPerCall: number;
  }): string =>
    `${t.oursCpuUsPerCall.toFixed(0)} / ${t.nodePipeCpuUsPerCall.toFixed(0)} / ${t.socatCpuUsPerCall.toFixed(0)}`;
  let n = 0;
  const a = await benchAgentPath({
    forwarder: [...PODVM_NODE_FLAGS, (await build()).bundle, "forwarder"],
    onRound: (r) =>
      line(
        `| ${++n} | ${us(r.direct.p50Us)} / ${us(r.direct.p99Us)} | ${us(r.addedP50Us)} / ${us(r.addedP99Us)} | ${us(r.nodePipeAddedP50Us)} / ${us(r.nodePipeAddedP99Us)} | ${us(r.socatAddedP50Us)} / ${us(r.socatAddedP99Us)} | ${perCall(r)} | ${tp(r.upload)} | ${r.upload.ratio.toFixed(2)} | ${cpu(r.upload)} | ${tp(r.download)} | ${r.download.ratio.toFixed(2)} | ${cpu(r.download)} | ${r.load.toFixed(1)} |`,
      ),
  });
  const m = a.median;
  line(
    `| median | | ${us(m.addedP50Us)} / ${us(m.addedP99Us)} | ${us(m.nodePipeAddedP50Us)} / ${us(m.nodePipeAddedP99Us)} | ${us(m.socatAddedP50Us)} / ${us(m.socatAddedP99Us)} | ${perCall(m)} | ${tp(m.upload)} | ${m.upload.ratio.toFixed(2)} | ${cpu(m.upload)} | ${tp(m.download)} | ${m.download.ratio.toFixed(2)} | ${cpu(m.download)} | ${m.load.toFixed(1)} |`,
  );
  line();
}

if (want("tunnel") && process.getuid?.() === 0) {
  const t = await benchTunnelThroughput();
  line("## Pod network: TCP worker → pod VM through VXLAN vs. the same veth path without VXLAN");
  line(
    `VXLAN ${t.vxlanMBps.toFixed(0)} MB/s, plain veth ${t.vethMBps.toFixed(0)} MB/s (baseline), ratio ${t.ratio.toFixed(2)}`,
  );
  line();
}

if (want("aws")) {
  const rounds = 3;
  const SDK_ONLY = { AWS_LEAN_EC2_CALLS: "false" };
  line(`## AWS burst: 100 sandboxes at once against moto, ${rounds} rounds (${load()})`);
  line(
    "Provider level: the provider's create + delete in a process of its own, its CPU (the baseline). " +
      "Daemon level: CreateVM + StartVM + StopVM through `caa serve`'s ttrpc socket (build output), the daemon process's CPU, " +
      "its state directory on this machine's disk (ext4) or on tmpfs (/dev/shm), as the default /run/peerpod is on a node. " +
      "Each round starts a new daemon. " +
      "The rows \"every call through the SDK\" set AWS_LEAN_EC2_CALLS=false: RunInstances and TerminateInstances go through the AWS SDK's serialisation, signer and HTTP handler instead of the lean path (providers/aws/query). The split: the daemon's main thread / libuv's thread pool / V8's workers (GC, compilers). " +
      "The last column: a second burst of 100 in the same process, after the first (its code compiled and optimised), beside the provider's own second burst. " +
      "Agent work alone (a part of the daemon's, test/bench/agent-connect-burst.ts): each VM's server certificate for its user-data, then the agent proxy's unix listener and its mTLS dial to the VM's forwarder, and its close, " +
      "through the daemon's own adapter (src/daemon/ports.ts), 100 VMs at once, in a process of its own, no cloud, no records, logs off.",
  );
  line(
    "| round | level | wall | create p50 / p99 | delete p50 / p99 | EC2 calls per sandbox | CPU per sandbox | main / thread pool / V8 workers | failed | CPU per sandbox, second burst |",
  );
  line("|---|---|---|---|---|---|---|---|---|---|");
  const cpu: Record<string, number[]> = {};
  const warm: Record<string, number[]> = {};
  for (let round = 1; round <= rounds; round++) {
    const { cli } = await build();
    const rows: Array<[string, AwsBurstResult]> = [
      ["provider (baseline)", await benchAwsBurstInFreshProcess(100, true)],
      ["provider, every call through the SDK", await benchAwsBurstInFreshProcess(100, true, SDK_ONLY)],
      ["daemon, state on disk", await benchAwsDaemonBurst(100, cli, "disk", true)],
      ["daemon, state on tmpfs", await benchAwsDaemonBurst(100, cli, "tmpfs", true)],
      [
        "daemon, state on tmpfs, every call through the SDK",
        await benchAwsDaemonBurst(100, cli, "tmpfs", true, SDK_ONLY),
      ],
    ];
    const agentWork = await benchAgentConnectBurst(100, true);
    for (const [level, r] of rows) {
      (cpu[level] ??= []).push(r.cpuMsPerSandbox);
      if (r.again) (warm[level] ??= []).push(r.again.cpuMsPerSandbox);
      const t = r.threadCpuMsPerSandbox;
      const split = t
        ? ["main", "thread pool", "V8 workers"].map((g) => (t[g] ?? 0).toFixed(1)).join(" / ") + " ms"
        : "";
      line(
        `| ${round} | ${level} | ${ms(r.wallMs)} | ${ms(r.create.p50)} / ${ms(r.create.p99)} | ${ms(r.delete.p50)} / ${ms(r.delete.p99)} | ${r.ec2CallsPerSandbox.toFixed(2)} | ${r.cpuMsPerSandbox.toFixed(1)} ms | ${split} | ${r.failed + (r.again?.failed ?? 0)} | ${r.again ? `${r.again.cpuMsPerSandbox.toFixed(1)} ms` : ""} |`,
      );
    }
    // A VM that fails fails the child process and the bench with it: a printed row had 0 failures.
    const agentLevel = "agent work alone (certificate + proxy + mTLS dial)";
    (cpu[agentLevel] ??= []).push(agentWork.cpuMsPerSandbox);
    if (agentWork.again) (warm[agentLevel] ??= []).push(agentWork.again.cpuMsPerSandbox);
    line(
      `| ${round} | ${agentLevel} | | | | | ${agentWork.cpuMsPerSandbox.toFixed(1)} ms | | 0 | ${agentWork.again ? `${agentWork.again.cpuMsPerSandbox.toFixed(1)} ms` : ""} |`,
    );
  }
  const spread = (values: number[] = []) =>
    `${percentile(
      [...values].sort((a, b) => a - b),
      50,
    ).toFixed(1)} ms (${values.map((v) => v.toFixed(1)).join(" / ")})`;
  for (const [level, values] of Object.entries(cpu))
    line(`| median | ${level} | | | | | ${spread(values)} | | | ${spread(warm[level])} |`);
  line();
}

if (want("azure")) {
  line(
    "## Azure burst: 100 sandboxes' VMs created and deleted concurrently against the ARM emulator (200 ms LROs)",
  );
  line("| scenario | wall | ARM requests per sandbox | 429s | leftovers |");
  line("|---|---|---|---|---|");
  for (const { label, result: r } of await benchAzureBurstScenarios(100)) {
    line(
      `| ${label} | ${ms(r.wallMs)} | ${r.requestsPerSandbox.toFixed(1)} | ${r.throttled} | ${r.leftovers} |`,
    );
  }
  line();
}

if (want("early-dial")) {
  const e = await benchAzureEarlyDial();
  line(
    `## Azure early dial: StartVM through \`caa serve\` with a ${e.lroMs / 1000} s VM LRO and the forwarder answering ${e.forwarderAtMs / 1000} s after the PUT (ARM emulator)`,
  );
  line("| address dialled | StartVM | VM PUT Succeeded at |");
  line("|---|---|---|");
  line(
    `| public IP, read after the PUT (USE_PUBLIC_IP=true; baseline) | ${ms(e.publicIp.startMs)} | ${ms(e.publicIp.lroDoneMs)} |`,
  );
  line(
    `| private IP, dialled while ARM still creates (default) | ${ms(e.earlyDial.startMs)} | ${ms(e.earlyDial.lroDoneMs)} |`,
  );
  line(`ratio early/baseline: ${(e.earlyDial.startMs / e.publicIp.startMs).toFixed(2)}`);
  line();
}

if (want("agent-dial") && process.getuid?.() === 0) {
  const d = await benchAgentDial();
  line(
    `## Agent dial to a booting VM: its network drops SYNs until it has booted at ${d.bootMs / 1000} s, then its forwarder answers (a network namespace with an iptables DROP rule)`,
  );
  line("| dial | connected at |");
  line("|---|---|");
  line(
    `| one connect left to the kernel's SYN schedule, as upstream's dial makes (baseline) | ${ms(d.singleConnectMs)} |`,
  );
  line(`| ours: a fresh connect every 1.5 s (CONNECT_ATTEMPT_MS) | ${ms(d.oursMs)} |`);
  line(`ratio ours/baseline: ${(d.oursMs / d.singleConnectMs).toFixed(2)}`);
  line();
}

if (want("budget")) {
  line(
    "## Cloud API budgets: 300 sandboxes through the AWS provider, moto behind EC2's published request-rate buckets",
  );
  for (const h of BUDGET_HEADER) line(h);
  for (const s of AWS_BUDGET_SCENARIOS) line(budgetRow(await benchAwsBudget({ n: 300, ...s })));
  line();
}

line(
  `Load average at the end: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(", ")}`,
);

if (process.env.BENCH_OUT) {
  const { writeFile } = await import("node:fs/promises");
  await writeFile(process.env.BENCH_OUT, out.join("\n") + "\n");
}
