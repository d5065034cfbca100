// What a chaos scenario runs against. A target knows how to start `caa serve` for one provider
// (local, or a cloud behind moto or the ARM emulator) and how to list what a sandbox could leave
// behind in that provider; the scenarios and the invariants only see these two interfaces.

/** One resource that should not exist once every sandbox of the run is gone. */
export interface Leftover {
  /** e.g. "vm-process", "netns", "instance", "record", "socket". */
  kind: string;
  /** What and where, for the report. */
  what: string;
}

/**
 * The daemon under test: one `caa serve` at a time on one state directory, restarted after a
 * fault. `socket` is where the shim dials; it does not change across restarts and handovers.
 */
export interface DaemonUnderTest {
  readonly socket: string;
  readonly stateDir: string;
  readonly podsDir: string;
  /** Start a daemon; resolves once it serves and has recovered its state directory. */
  start(): Promise<void>;
  /** kill -9 the current daemon and wait for it to exit. */
  kill9(): Promise<void>;
  /** SIGTERM the current daemon and wait for it to exit (it drains calls in flight). */
  sigterm(): Promise<void>;
  /**
   * A rolling upgrade: start a second daemon on the same state directory while the current one
   * runs; resolves once the new one serves and the old one has handed over and been stopped with
   * SIGTERM (as Kubernetes stops the old pod once the new one is started).
   */
  handover(): Promise<void>;
  /** Whether a daemon is up now. */
  up(): boolean;
  /** Everything every daemon of this run logged, oldest first. */
  logs(): string;
  /** Stop whatever runs (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** Put the state directory on a tmpfs of this many bytes (the disk-full scenario). */
  stateTmpfsBytes?: number;
  /** Make each VM take about this long to boot, so that a fault lands inside StartVMs. */
  bootDelayMs?: number;
  /** Bound each StartVM's wait for the agent (PROXY_TIMEOUT) to this, when a scenario expects VMs that never answer. */
  proxyTimeoutMs?: number;
  /** The most sandboxes one burst runs at once (the local target sizes its VM address range by it). */
  burst?: number;
}

export interface ChaosTarget {
  /** "local", "moto", "arm-emulator": the report's first column. */
  readonly name: string;
  /** Prepare a fresh environment (dirs, emulators) and return its daemon, not yet started. */
  setup(opts?: TargetOptions): Promise<DaemonUnderTest>;
  /**
   * What is left in the provider that belongs to no sandbox any more: called once every sandbox
   * the harness made is stopped, with the daemon still up.
   */
  leftovers(): Promise<Leftover[]>;
  /**
   * Kill the agent-protocol-forwarder of a running sandbox's VM, if this target can (the local
   * VMs run it as a process on this host). Resolves false when the target cannot.
   */
  killForwarder?(sandboxId: string): Promise<boolean>;
  /** Whether setup() can put the state directory on a small tmpfs (stateTmpfsBytes). */
  readonly stateTmpfs?: boolean;
  /** A target that injects cloud API faults: their seed and share of calls, told before setup(). */
  configureFaults?(faults: { seed: number; rate: number }): void;
  /** Cloud API faults injected so far, by kind (throttle, unavailable, capacity, …). */
  faultsInjected?(): Record<string, number>;
  /**
   * Whether a failed StartVM's error is what one of this target's injected faults produces (the
   * cloud's answer to a create, passed on by the daemon), as opposed to a failure of the daemon.
   */
  isInjectedFault?(error: string): boolean;
  /** Remove everything setup() made, also after a failed run. Safe to call twice. */
  teardown(): Promise<void>;
}
