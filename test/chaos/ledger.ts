// What the harness did to each sandbox and what the daemon answered: the invariants judge the run
// from this and from what is on the host.

export interface SandboxEntry {
  id: string;
  /** Which scenario and round made it, for the report. */
  origin: string;
  /** Set once CreateVM answered OK. */
  agentSocket?: string;
  created: boolean;
  /** StartVM answered OK: from then on the sandbox must stay running until the harness stops it. */
  started: boolean;
  /** StopVM answered OK, or the daemon has no record of it. */
  gone: boolean;
  /** The last error the daemon (or the connection) gave, if any. */
  error?: string;
  /** A fault the scenario did to this sandbox itself (its VM's forwarder killed): not lost, but must end cleanly. */
  faulted?: string;
}

/** Sandbox ids, VM names and paths differ per call: a message's shape, to count alike ones together. */
export function shapeOf(message: string): string {
  return message
    .replace(/[0-9a-f]{16,}/g, "<id>")
    .replace(/podvm-[\w-]+/g, "<vm>")
    .replace(/\/[^\s:,'"]+/g, "<path>");
}

export interface Finding {
  sandbox?: string;
  what: string;
}

export class Ledger {
  readonly entries = new Map<string, SandboxEntry>();
  /** Faults injected, by what was done ("kill -9 after 12 answers"). */
  readonly injections: string[] = [];
  readonly lost: Finding[] = [];
  readonly leaked: Finding[] = [];
  /** Other broken expectations (a record that does not parse, an unclear error). */
  readonly violations: Finding[] = [];
  /**
   * Not findings, counted for the report: calls that failed on an injected cloud fault where a
   * scenario holds every call to succeed (the handover), and StopVMs that failed on one and were
   * finished by the daemon's own retry.
   */
  readonly faultFailed: Finding[] = [];
  readonly retriedStops: Finding[] = [];
  /** Error messages the daemon gave, counted (the report quotes the most common). */
  readonly errors = new Map<string, number>();

  add(id: string, origin: string): SandboxEntry {
    const e: SandboxEntry = { id, origin, created: false, started: false, gone: false };
    this.entries.set(id, e);
    return e;
  }

  /** Findings are kept once: a leak seen after two rounds is one leak. */
  private seen = new Set<string>();

  private note(list: Finding[], kind: string, f: Finding): void {
    const key = `${kind}\0${f.sandbox ?? ""}\0${f.what}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    list.push(f);
  }

  lose(f: Finding): void {
    this.note(this.lost, "lost", f);
  }

  leak(f: Finding): void {
    this.note(this.leaked, "leaked", f);
  }

  violate(f: Finding): void {
    this.note(this.violations, "violation", f);
  }

  inject(what: string): void {
    this.injections.push(what);
  }

  noteError(e: SandboxEntry, message: string): void {
    e.error = message;
    const shape = shapeOf(message);
    this.errors.set(shape, (this.errors.get(shape) ?? 0) + 1);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Sandboxes that must be running now. */
  running(): SandboxEntry[] {
    return [...this.entries.values()].filter((e) => e.started && !e.gone && e.faulted === undefined);
  }

  /** Sandboxes that failed somewhere and are not yet cleaned up by a StopVM. */
  unsettled(): SandboxEntry[] {
    return [...this.entries.values()].filter((e) => !e.started && !e.gone);
  }
}
