// Footprint benchmarks, each beside its baseline in the same run:
// - the forwarder (what every pod VM runs): spawn to "listening on", and its RSS once it serves an
//   agent call over mTLS; the pod-VM bundle against the sources, baseline `node -e 0`; its RSS when
//   it provisioned itself instead of reading what process-user-data wrote (docs/pod-vm-image.md);
// - `caa version` wall from the build output and from the sources, baseline `node -e 0`;
// - `caa serve` (build output, local provider) RSS idle and with 100 running sandboxes whose VMs
//   run a light agent (a sleeping shell: the daemon's memory does not depend on the agent).
// The build output runs with the node flags of the image's `caa` shim (Dockerfile), as on a node.
import { spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { AgentProxy } from "../../src/agentproxy/index.ts";
import { agentHealth } from "../../src/cli/agent-health.ts";
import { createVM, podAnnotations, startVM, stopVM } from "../../src/cli/sandbox.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { PODVM_NODE_FLAGS } from "../../src/podvm/node-flags.ts";
import { CertAuthority, buildClientTls } from "../../src/tls/index.ts";
import { renderApfJson } from "../../src/userdata/apf-config.ts";
import { renderCloudConfig } from "../../src/userdata/cloud-config.ts";
import { PEERPOD_PATHS } from "../../src/userdata/paths.ts";
import { closedPort, tlsConfig } from "../fixtures/test-agent-env.ts";
import { cleanupDaemon, daemonEnv, makeDaemonDir, startDaemon } from "../helpers/daemon.ts";
import { imageShim } from "../helpers/image.ts";
import { timedPool } from "./stats.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const VM = "podvm-footprint-00000000";

export { buildOutput, type BuildOutput } from "../helpers/build-output.ts";

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kb / 1024;
}

/** Wall time of a command run to completion, median of `runs`. */
function wallMs(argv: string[], runs: number, cwd = repo): number {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(argv[0], argv.slice(1), { cwd, stdio: "ignore" });
    if (r.status !== 0) throw new Error(`bench: ${argv.join(" ")} exited ${r.status}`);
    xs.push(performance.now() - t0);
  }
  return median(xs);
}

export interface ForwarderStart {
  /** Spawn to "listening on", ms (median). */
  startMs: number;
  /** RSS after serving `calls` Health/Checks over mTLS (one by default), MiB (median). */
  rssMiB: number;
}

/** How to start a forwarder: node's arguments before the forwarder's flags, and extra env. */
export interface ForwarderEntry {
  argv: string[];
  env?: Record<string, string>;
  /**
   * Provision in the forwarder's own process, from user-data on a cidata volume, as
   * `caa-podvm forwarder` does; by default it reads the apf.json that process-user-data would
   * have written (-skip-provision, as under upstream's units).
   */
  provision?: boolean;
}

export interface ForwarderRound {
  nodeBaselineMs: number;
  /** As a pod VM runs it: the bundle with PODVM_NODE_FLAGS. */
  bundle: ForwarderStart;
  source: ForwarderStart;
  /** RSS after SUSTAINED_CALLS calls: as a pod VM runs it, and with node's default flags. */
  sustained: { podVmMiB: number; defaultFlagsMiB: number };
  /** RSS after one call of the pod VM's forwarder that provisioned itself (ForwarderEntry.provision). */
  provisionedInProcessMiB: number;
}

/** Calls after which the sustained RSS is read: optimising compilers and young-generation growth have run by then. */
export const SUSTAINED_CALLS = 3000;

/** `rounds` rounds of `runs` starts each of `node -e 0`, the bundle and the sources, so the spread shows. */
export async function benchForwarderStart(bundle: string, runs = 5, rounds = 3): Promise<ForwarderRound[]> {
  return withForwarderRig(async (measure) => {
    const podVm = { argv: [...PODVM_NODE_FLAGS, bundle, "forwarder"] };
    // One unmeasured start fills the compile cache, as the first boot of a pod-VM image would.
    await measure(podVm, 1);
    const out: ForwarderRound[] = [];
    for (let r = 0; r < rounds; r++) {
      out.push({
        nodeBaselineMs: wallMs([process.execPath, "-e", "0"], runs),
        bundle: await measure(podVm, runs),
        source: await measure({ argv: [path.join(repo, "src/forwarder/main.ts")] }, runs),
        sustained: {
          podVmMiB: (await measure(podVm, 1, SUSTAINED_CALLS)).rssMiB,
          defaultFlagsMiB: (await measure({ argv: [bundle, "forwarder"] }, 1, SUSTAINED_CALLS)).rssMiB,
        },
        provisionedInProcessMiB: (await measure({ ...podVm, provision: true }, runs)).rssMiB,
      });
    }
    return out;
  });
}

type Measure = (entry: ForwarderEntry, runs: number, calls?: number) => Promise<ForwarderStart>;

/** A stand-in agent, a CA and an apf.json; `body` starts forwarders against them. */
export async function withForwarderRig<T>(body: (measure: Measure) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), "caa-fwb-"));
  const agent = spawn(
    process.execPath,
    [path.join(repo, "providers/local/kata-agent.ts"), "--socket", path.join(dir, "agent.sock")],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      // The stand-in says "listening" on stderr.
      let said = "";
      const onData = (d: Buffer): void => {
        said += d.toString();
        if (said.includes("listening")) resolve();
      };
      agent.stdout.on("data", onData);
      agent.stderr.on("data", onData);
      agent.once("exit", () => reject(new Error("bench: test agent exited")));
    });
    const ca = await CertAuthority.loadOrCreate(path.join(dir, "tls"));
    const server = await ca.issueServerCert(VM);
    const apf = path.join(dir, "apf.json");
    await writeFile(
      apf,
      renderApfJson({
        "pod-network": null,
        "pod-namespace": "default",
        "pod-name": "footprint",
        "tls-server-key": server.keyPem,
        "tls-server-cert": server.certPem,
        "tls-client-ca": ca.clientCaPem,
      }),
    );
    const clientTls = buildClientTls(tlsConfig(), ca, VM);
    const cidata = path.join(dir, "cidata");
    await mkdir(cidata);
    await writeFile(
      path.join(cidata, "user-data"),
      renderCloudConfig([{ path: PEERPOD_PATHS.apfConfig, content: await readFile(apf, "utf8") }]),
    );
    let proxies = 0;
    const once = async (entry: ForwarderEntry, calls: number): Promise<ForwarderStart> => {
      const port = await closedPort();
      const t0 = performance.now();
      const child = spawn(
        process.execPath,
        [
          ...entry.argv,
          ...(entry.provision
            ? ["-root-dir", path.join(dir, "root"), "-cidata-dir", cidata, "-imds", "none"]
            : ["-config", apf, "-skip-provision"]),
          ...["-no-pod-network", "-listen", `127.0.0.1:${port}`],
          ...["-kata-agent-socket", path.join(dir, "agent.sock")],
        ],
        { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...entry.env } },
      );
      let out = "";
      const listening = new Promise<number>((resolve, reject) => {
        const onData = (d: Buffer): void => {
          out += d.toString();
          if (out.includes("listening on")) resolve(performance.now() - t0);
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onData);
        child.once("exit", (code) => reject(new Error(`bench: forwarder exited ${code}: ${out}`)));
      });
      const proxy = new AgentProxy({
        socketPath: path.join(dir, `p${proxies++}/agent.ttrpc`),
        host: "127.0.0.1",
        port,
        tls: clientTls,
        timeoutMs: 15_000,
        logger: silentLogger(),
        sandboxId: "footprint",
      });
      try {
        const startMs = await listening;
        await proxy.start();
        for (let i = 0; i < calls; i++) {
          const status = await agentHealth(proxy.socketPath);
          if (status !== "SERVING") throw new Error(`bench: forwarder answered ${status}`);
        }
        return { startMs, rssMiB: await rssMiB(child.pid!) };
      } finally {
        await proxy.close();
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    };
    return await body(async (entry, runs, calls = 1) => {
      const starts: number[] = [];
      const rss: number[] = [];
      for (let i = 0; i < runs; i++) {
        const r = await once(entry, calls);
        starts.push(r.startMs);
        rss.push(r.rssMiB);
      }
      return { startMs: median(starts), rssMiB: median(rss) };
    });
  } finally {
    agent.kill("SIGTERM");
    await rm(dir, { recursive: true, force: true });
  }
}

export interface CliBench {
  nodeBaselineMs: number;
  builtMs: number;
  sourceMs: number;
}

export function benchCliVersion(cli: string, runs = 7): CliBench {
  return {
    nodeBaselineMs: wallMs([process.execPath, "-e", "0"], runs),
    builtMs: wallMs([process.execPath, ...imageShim().nodeArgs, cli, "version"], runs),
    sourceMs: wallMs([process.execPath, path.join(repo, "src/cli/main.ts"), "version"], runs),
  };
}

export interface ServeRssBench {
  idleMiB: number;
  runningMiB: number;
  sandboxes: number;
}

/** Light agent: a shell that sleeps (its --socket/--record arguments become $0…). */
const LIGHT_AGENT = 'sh -c "exec sleep 86400"';

export async function benchServeRss(cli: string, sandboxes = 100): Promise<ServeRssBench> {
  const dir = await makeDaemonDir();
  const env = daemonEnv(dir, {
    LOG_LEVEL: "warn",
    // RFC 2544's benchmarking range: the documentation ranges are the other daemons' defaults.
    LOCAL_VM_SUBNET: "198.18.0.0/24",
    LOCAL_AGENT_COMMAND: LIGHT_AGENT,
  });
  await mkdir(env.STATE_DIR, { recursive: true });
  const daemon = await startDaemon(dir, env, 60_000, { cli, nodeArgs: imageShim().nodeArgs });
  const ids = Array.from({ length: sandboxes }, (_, i) =>
    `rss${i.toString(16).padStart(6, "0")}`.padEnd(64, "0"),
  );
  try {
    await new Promise((r) => setTimeout(r, 2000));
    const idleMiB = await rssMiB(daemon.child.pid!);
    const o = { socket: daemon.socket };
    await timedPool(ids.length, 10, async (i) => {
      await createVM(o, ids[i], podAnnotations("rss", "default"), "");
      await startVM(o, ids[i]);
    });
    await new Promise((r) => setTimeout(r, 2000));
    const runningMiB = await rssMiB(daemon.child.pid!);
    await timedPool(ids.length, 10, (i) => stopVM(o, ids[i]));
    return { idleMiB, runningMiB, sandboxes };
  } finally {
    await daemon.kill("SIGTERM");
    await cleanupDaemon({ dir, bridge: env.LOCAL_BRIDGE });
  }
}
