// Plays the cloud's VMs on this host. moto's instances and the ARM emulator's VMs run nothing, so
// for each one the cloud lists the host boots what a pod VM runs — our forwarder, provisioned from
// the user-data the cloud holds, and the kata-agent stand-in — in this process, listening on the
// instance's own private address: the cloud targets give their VMs addresses of 127.0.0.0/8, which
// this host's loopback answers, so the daemon dials each instance where the cloud says it is (no
// FORWARDER_HOST). Once the cloud no longer lists an instance, its VM side is closed.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startAgentStandIn, type AgentStandIn } from "../../../providers/local/kata-agent.ts";
import { runForwarder, type ForwarderHandle } from "../../../src/forwarder/index.ts";
import { silentLogger } from "../../../src/log/logger.ts";

/** One VM as the cloud lists it. */
export interface CloudVm {
  id: string;
  /** The private address the daemon dials (127.0.0.0/8 here). */
  ip: string;
  /** The user-data the VM boots with; undefined while the cloud does not show it yet. */
  userData(): Promise<string | undefined>;
}

export interface VmHostOptions {
  /** Where each VM's root and cidata go. */
  dir: string;
  /** FORWARDER_PORT of the daemon. */
  port: number;
  /** The VMs that exist now (booting or running). */
  list: () => Promise<CloudVm[]>;
  /** How long a VM takes to boot once the cloud lists it (a real one takes tens of seconds). */
  bootDelayMs?: number;
  intervalMs?: number;
}

interface HostedVm {
  agent: AgentStandIn;
  forwarder: ForwarderHandle;
  root: string;
}

export class FakeVmHost {
  /** VMs booted so far. */
  booted = 0;
  private readonly opts: VmHostOptions;
  private readonly hosted = new Map<string, HostedVm>();
  /** First time each listed VM was seen, for the boot delay. */
  private readonly seen = new Map<string, number>();
  private readonly booting = new Set<string>();
  private timer?: NodeJS.Timeout;
  private pass?: Promise<void>;
  private stopped = false;
  private serial = 0;

  constructor(opts: VmHostOptions) {
    this.opts = opts;
  }

  start(): void {
    const tick = (): void => {
      this.pass = this.reconcile()
        .catch(() => undefined)
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs ?? 250);
        });
    };
    tick();
  }

  /** VMs whose forwarder listens now. */
  get running(): number {
    return this.hosted.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
    await Promise.all([...this.hosted.keys()].map((id) => this.close(id)));
  }

  private async reconcile(): Promise<void> {
    const listed = await this.opts.list();
    const ids = new Set(listed.map((v) => v.id));
    const now = Date.now();
    await Promise.all([...this.hosted.keys()].filter((id) => !ids.has(id)).map((id) => this.close(id)));
    for (const id of this.seen.keys()) if (!ids.has(id)) this.seen.delete(id);
    for (const vm of listed) {
      if (!this.seen.has(vm.id)) this.seen.set(vm.id, now);
      const due = (this.seen.get(vm.id) ?? now) + (this.opts.bootDelayMs ?? 0) <= now;
      if (due && !this.hosted.has(vm.id) && !this.booting.has(vm.id)) {
        this.booting.add(vm.id);
        // A VM that cannot boot yet (no user-data listed, its address still held by a VM being
        // closed) is tried again on the next pass.
        void this.boot(vm)
          .catch(() => undefined)
          .finally(() => this.booting.delete(vm.id));
      }
    }
  }

  private async boot(vm: CloudVm): Promise<void> {
    const userData = await vm.userData();
    if (userData === undefined || this.stopped) return;
    // A short name: the agent socket's path must stay within the 108 bytes of a unix address.
    const root = join(this.opts.dir, `vm${++this.serial}`);
    const cidata = join(root, "cidata");
    await rm(root, { recursive: true, force: true });
    await mkdir(cidata, { recursive: true });
    await mkdir(join(root, "run/kata-containers"), { recursive: true });
    await writeFile(join(cidata, "user-data"), userData, { mode: 0o600 });
    const agentSocket = join(root, "run/kata-containers/agent.sock");
    const agent = await startAgentStandIn({ socketPath: agentSocket });
    let forwarder: ForwarderHandle;
    try {
      forwarder = await runForwarder(
        {
          listen: `${vm.ip}:${this.opts.port}`,
          cidataDir: cidata,
          rootDir: root,
          kataAgentSocket: agentSocket,
          imds: "none",
          noPodNetwork: true,
        },
        silentLogger(),
      );
    } catch (err) {
      await agent.close();
      throw err;
    }
    if (this.stopped) {
      await forwarder.close();
      await agent.close();
      return;
    }
    this.hosted.set(vm.id, { agent, forwarder, root });
    this.booted++;
  }

  private async close(id: string): Promise<void> {
    const vm = this.hosted.get(id);
    if (!vm) return;
    this.hosted.delete(id);
    await vm.forwarder.close();
    await vm.agent.close();
    await rm(vm.root, { recursive: true, force: true });
  }
}
