// The local provider as a chaos target: `caa serve --provider local` as root, each VM a network
// namespace with its own pod-VM process pair (forwarder and kata-agent stand-in) on a bridge.
// Names are unique per run (bridge, namespace prefix, temp dir), so concurrent tests are not hit.
import { execFile } from "node:child_process";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { cleanupDaemon, daemonEnv, makeDaemonDir, processesMentioning } from "../helpers/daemon.ts";
import { ProcessDaemon } from "./daemon.ts";
import type { ChaosTarget, DaemonUnderTest, Leftover, TargetOptions } from "./target.ts";
import { mountTmpfs, unmountTmpfs } from "./tmpfs.ts";

const exec = promisify(execFile);

interface LocalVmRecord {
  id: string;
  netns?: string;
  process?: { pid: number };
  tags: Record<string, string>;
}

export class LocalTarget implements ChaosTarget {
  readonly name = "local";
  readonly stateTmpfs = true;
  private dir = "";
  private env: Record<string, string> = {};
  private daemon: ProcessDaemon | undefined;
  private tmpfs: string | undefined;

  async setup(opts: TargetOptions = {}): Promise<DaemonUnderTest> {
    if (process.getuid?.() !== 0) throw new Error("the local chaos target needs root (network namespaces)");
    this.dir = await makeDaemonDir();
    // info, not debug: a campaign of a thousand sandboxes would log hundreds of megabytes.
    this.env = daemonEnv(this.dir, {
      LOG_LEVEL: "info",
      // The test helper's /28 holds 13 VMs: past that a burst's StartVMs fail on "no free address"
      // instead of meeting the fault. Campaign bursts get a /25 of TEST-NET-2 (125 VMs), clear of
      // the /28s of 203.0.113.0/24 the tests take and of conformance's 198.51.100.240/28.
      ...(opts.burst && opts.burst > 12 ? { LOCAL_VM_SUBNET: "198.51.100.0/25" } : {}),
      ...(opts.bootDelayMs ? { LOCAL_BOOT_DELAY: `${opts.bootDelayMs}ms` } : {}),
      ...(opts.proxyTimeoutMs ? { PROXY_TIMEOUT: `${opts.proxyTimeoutMs}ms` } : {}),
    });
    if (opts.stateTmpfsBytes) {
      await mountTmpfs(this.env.STATE_DIR, opts.stateTmpfsBytes);
      this.tmpfs = this.env.STATE_DIR;
    }
    this.daemon = new ProcessDaemon({ dir: this.dir, env: this.env });
    return this.daemon;
  }

  private get vmRecordDir(): string {
    return join(this.env.STATE_DIR, "provider-local");
  }

  private async vmRecords(): Promise<LocalVmRecord[]> {
    const names = await readdir(this.vmRecordDir).catch(() => [] as string[]);
    const out: LocalVmRecord[] = [];
    for (const n of names.filter((x) => x.endsWith(".json"))) {
      const text = await readFile(join(this.vmRecordDir, n), "utf8").catch(() => "");
      try {
        out.push(JSON.parse(text) as LocalVmRecord);
      } catch {
        /* checkRecords reports it */
      }
    }
    return out;
  }

  async leftovers(): Promise<Leftover[]> {
    const out: Leftover[] = [];
    for (const r of await this.vmRecords()) {
      out.push({ kind: "instance", what: `local VM ${r.id} of sandbox ${r.tags["peerpod-sandbox-id"]}` });
    }
    for (const name of await readdir(this.vmRecordDir).catch(() => [] as string[])) {
      if (name.startsWith("local-") && !name.endsWith(".json")) {
        out.push({ kind: "vm-dir", what: join(this.vmRecordDir, name) });
      }
    }
    const { stdout } = await exec("ip", ["-j", "netns", "list"]);
    for (const ns of stdout.trim() ? (JSON.parse(stdout) as { name: string }[]) : []) {
      if (ns.name.startsWith(this.env.LOCAL_NETNS_PREFIX)) out.push({ kind: "netns", what: ns.name });
    }
    const links = await exec("ip", ["-j", "link", "show", "master", this.env.LOCAL_BRIDGE]).catch(() => ({
      stdout: "[]",
    }));
    for (const l of JSON.parse(links.stdout || "[]") as { ifname: string }[]) {
      out.push({ kind: "veth", what: `${l.ifname} on bridge ${this.env.LOCAL_BRIDGE}` });
    }
    for (const pid of processesMentioning(this.dir)) {
      const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
      if (cmd)
        out.push({ kind: "vm-process", what: `pid ${pid}: ${cmd.split("\0").join(" ").slice(0, 200)}` });
    }
    return out;
  }

  /** The forwarder runs inside the VM's `caa podvm` process (src/podvm/boot.ts): kill -9 that. */
  async killForwarder(sandboxId: string): Promise<boolean> {
    const rec = (await this.vmRecords()).find((r) => r.tags["peerpod-sandbox-id"] === sandboxId);
    if (!rec?.process) return false;
    try {
      process.kill(rec.process.pid, "SIGKILL");
      return true;
    } catch {
      return false;
    }
  }

  async teardown(): Promise<void> {
    if (!this.dir) return;
    await this.daemon?.stop().catch(() => undefined);
    await this.daemon?.keepLogs(this.name);
    // Processes first: they hold files in the tmpfs.
    for (const pid of processesMentioning(this.dir)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    // Namespaces with our prefix, also those no record names any more (a leak the run reported).
    const { stdout } = await exec("ip", ["-j", "netns", "list"]).catch(() => ({ stdout: "" }));
    for (const ns of stdout.trim() ? (JSON.parse(stdout) as { name: string }[]) : []) {
      if (ns.name.startsWith(this.env.LOCAL_NETNS_PREFIX))
        await exec("ip", ["netns", "del", ns.name]).catch(() => undefined);
    }
    await rm(this.vmRecordDir, { recursive: true, force: true });
    if (this.tmpfs) await unmountTmpfs(this.tmpfs);
    this.tmpfs = undefined;
    await cleanupDaemon({ dir: this.dir, bridge: this.env.LOCAL_BRIDGE });
    this.dir = "";
  }
}
