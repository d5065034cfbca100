// A chaos target on a cloud emulator (moto behind the fault proxy, or the ARM emulator with its
// random faults): `caa serve <cloud>` as a child process, the cloud's VMs played on this host
// (vm-host.ts), and the leftovers read from the cloud itself once the leak collector had its chance.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { cleanupDaemon, daemonEnv, freePort, makeDaemonDir } from "../../helpers/daemon.ts";
import { ProcessDaemon } from "../daemon.ts";
import type { ChaosTarget, DaemonUnderTest, Leftover, TargetOptions } from "../target.ts";
import { FakeVmHost, type CloudVm } from "./vm-host.ts";

/** The cloud faults injected during a run. */
export interface CloudFaultOptions {
  /** Share of cloud API calls that get a fault, in [0, 1] (default 0.3). */
  rate?: number;
  /** Seed of the fault schedule (default 1). */
  seed?: number;
  /** How long a slow answer is held (default 2000 ms). */
  slowMs?: number;
}

/** One emulated cloud, started for a run. */
export interface CloudSide {
  /** The provider's env for the daemon (CLOUD_PROVIDER and its settings). */
  env: Record<string, string>;
  /** The VMs that exist now (booting or running), for the VM host. */
  vms(): Promise<CloudVm[]>;
  /** Everything of the run's cluster the cloud holds now (instances; on Azure NICs, IPs, disks too). */
  resources(): Promise<Leftover[]>;
  /** Faults injected so far, by kind. */
  injected(): Record<string, number>;
  stop(): Promise<void>;
}

export const CLUSTER = "chaos";

/**
 * The leak collector's settings for a run: an unowned instance is deleted once 20 s old, in passes
 * 5 s apart (production: 2 min and 5 min), so that a leak is reclaimed within the run.
 */
export const LEAK_GRACE_MS = 20_000;
export const LEAK_INTERVAL_MS = 5_000;
/** A fake VM's boot time: StartVMs stay in flight long enough for a kill to land inside them. */
const BOOT_DELAY_MS = 1_500;

export class CloudTarget implements ChaosTarget {
  readonly name: string;
  faults: Required<CloudFaultOptions>;
  private readonly start: (dir: string, faults: Required<CloudFaultOptions>) => Promise<CloudSide>;
  private dir?: string;
  private cloud?: CloudSide;
  private host?: FakeVmHost;
  private daemon?: ProcessDaemon;

  /** What the provider's error says after the cloud answered a create with one of the injected faults. */
  private readonly faultError: RegExp;

  constructor(
    name: string,
    start: (dir: string, faults: Required<CloudFaultOptions>) => Promise<CloudSide>,
    faultError: RegExp,
    faults: CloudFaultOptions = {},
  ) {
    this.name = name;
    this.start = start;
    this.faultError = faultError;
    this.faults = { rate: faults.rate ?? 0.3, seed: faults.seed ?? 1, slowMs: faults.slowMs ?? 2000 };
  }

  async setup(opts: TargetOptions = {}): Promise<DaemonUnderTest> {
    if (opts.stateTmpfsBytes !== undefined) throw new Error(`${this.name}: no tmpfs state directory`);
    const dir = (this.dir = await makeDaemonDir());
    const cloud = (this.cloud = await this.start(dir, this.faults));
    const port = await freePort();
    this.host = new FakeVmHost({
      dir: join(dir, "vms"),
      port,
      list: () => cloud.vms(),
      bootDelayMs: BOOT_DELAY_MS,
    });
    this.host.start();
    const env = daemonEnv(dir, {
      ...cloud.env,
      CLUSTER_NAME: CLUSTER,
      FORWARDER_PORT: String(port),
      PROXY_TIMEOUT: "90s",
      LEAK_INTERVAL: `${LEAK_INTERVAL_MS}ms`,
      LEAK_GRACE_PERIOD: `${LEAK_GRACE_MS}ms`,
      LOG_LEVEL: "info",
    });
    this.daemon = new ProcessDaemon({ dir, env });
    return this.daemon;
  }

  /** Waits until the cloud holds nothing of the run, or the collector had two passes past its grace. */
  async leftovers(): Promise<Leftover[]> {
    if (!this.cloud) return [];
    const deadline = Date.now() + LEAK_GRACE_MS + 2 * LEAK_INTERVAL_MS + 15_000;
    for (;;) {
      const left = await this.cloud.resources();
      if (left.length === 0 || Date.now() > deadline) return left;
      await sleep(1000);
    }
  }

  configureFaults(faults: { seed: number; rate: number }): void {
    this.faults = { ...this.faults, ...faults };
  }

  faultsInjected(): Record<string, number> {
    return this.cloud?.injected() ?? {};
  }

  /** Only a StartVM that failed creating its VM (stage provisioning), on what a fault produces. */
  isInjectedFault(error: string): boolean {
    return this.faults.rate > 0 && error.startsWith("StartVM: provisioning: ") && this.faultError.test(error);
  }

  /** Instances the leak collector deleted (each one an instance a sandbox left, then reclaimed). */
  collected(): number {
    return (this.daemon?.logs().match(/deleted leaked instance/g) ?? []).length;
  }

  async teardown(): Promise<void> {
    await this.daemon?.stop().catch(() => undefined);
    await this.daemon?.keepLogs(this.name);
    await this.host?.stop();
    await this.cloud?.stop();
    if (this.dir) await cleanupDaemon({ dir: this.dir, bridge: "" });
    this.daemon = this.host = this.cloud = this.dir = undefined;
  }
}
