// `caa serve` as a child process on one state directory, restarted, killed and handed over by the
// scenarios (the DaemonUnderTest of target.ts). Every target uses it with its own environment.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startDaemon, type DaemonProcess } from "../helpers/daemon.ts";
import type { DaemonUnderTest } from "./target.ts";

/** Start-up under load: recovery of 50 sandboxes on a busy 2-core machine. */
const START_TIMEOUT_MS = 180_000;
/** The old daemon logs this once its successor serves (src/daemon/ownership.ts). */
const HANDED_OVER = "handed over;";

export interface ProcessDaemonOptions {
  dir: string;
  env: Record<string, string>;
  args?: string[];
  /** Run `caa serve` in this network namespace (a worker node's). */
  netns?: string;
}

export class ProcessDaemon implements DaemonUnderTest {
  readonly socket: string;
  readonly stateDir: string;
  readonly podsDir: string;
  private readonly opts: ProcessDaemonOptions;
  private current: DaemonProcess | undefined;
  /** Logs of daemons that are gone, so the report can quote them. */
  private past = "";

  constructor(opts: ProcessDaemonOptions) {
    this.opts = opts;
    this.socket = opts.env.REMOTE_HYPERVISOR_ENDPOINT;
    this.stateDir = opts.env.STATE_DIR;
    this.podsDir = opts.env.PODS_DIR;
  }

  /** The pid of the daemon that serves now, if any. */
  get pid(): number | undefined {
    return this.up() ? this.current?.child.pid : undefined;
  }

  up(): boolean {
    const c = this.current?.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.up()) throw new Error("a daemon is already up; kill it or hand over");
    this.retire();
    this.current = await this.spawn();
  }

  async kill9(): Promise<void> {
    await this.current?.kill("SIGKILL");
  }

  async sigterm(): Promise<void> {
    await this.current?.kill("SIGTERM");
  }

  async handover(): Promise<void> {
    const old = this.current;
    if (!old || !this.up()) throw new Error("no daemon is up to hand over from");
    const next = await this.spawn();
    this.current = next;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!old.logs().includes(HANDED_OVER) && old.child.exitCode === null) {
      if (Date.now() > deadline) throw new Error(`the old daemon did not hand over:\n${old.logs()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await old.kill("SIGTERM");
    this.past += old.logs();
  }

  /** CHAOS_LOG_DIR keeps every daemon's log of the run, to read what a finding came from. */
  async keepLogs(target: string): Promise<void> {
    const keep = process.env.CHAOS_LOG_DIR;
    if (!keep) return;
    await mkdir(keep, { recursive: true });
    await writeFile(join(keep, `${target}-${Date.now()}.log`), this.logs());
  }

  logs(): string {
    return this.past + (this.current?.logs() ?? "");
  }

  async stop(): Promise<void> {
    if (!this.current) return;
    const c = this.current;
    const killer = setTimeout(() => c.child.kill("SIGKILL"), 60_000);
    await c.kill("SIGTERM");
    clearTimeout(killer);
  }

  private spawn(): Promise<DaemonProcess> {
    return startDaemon(this.opts.dir, this.opts.env, START_TIMEOUT_MS, {
      args: this.opts.args,
      netns: this.opts.netns,
    });
  }

  private retire(): void {
    if (this.current) this.past += this.current.logs();
    this.current = undefined;
  }
}
