// StartVM's cloud instance and its attachment (pod network, then the agent connect), for a create
// that may report the instance's address before it settles (CreateRequest.onAddress; Azure's VM
// PUT stays `Creating` while the VM boots). With a report, the attachment starts at once and
// StartVM returns when the agent answers, not when the cloud's operation ends; the create goes on
// in the background. Without one this is create, then attach. Used by Lifecycle.start only.
import type { Instance } from "../../providers/types.ts";

export interface EarlyDialSteps {
  /** The cloud call; `onAddress` is handed to the provider, `signal` ends it. */
  create(onAddress: (instance: Instance) => void, signal: AbortSignal): Promise<Instance>;
  /** Put the instance on the record (durably), before anything is built on it. */
  adopt(instance: Instance): Promise<void>;
  /** Pod network to the instance, then the agent connect. */
  attach(instance: Instance, signal: AbortSignal): Promise<void>;
  /** Undo attach: the create failed or replaced the instance (its capacity fallback). */
  detach(instance: Instance): Promise<void>;
  /** After StartVM returned: the create settled otherwise than with the instance dialled. */
  late(outcome: { instance: Instance } | { err: unknown }): void;
}

function same(a: Instance, b: Instance | undefined): boolean {
  return b !== undefined && a.id === b.id && a.ips[0] === b.ips[0];
}

/** The newest instance a create reported, and a wait for one that differs from a given one. */
class Reports {
  private latest: Instance | undefined;
  private waiters: Array<() => void> = [];

  report(instance: Instance): void {
    this.latest = instance;
    for (const wake of this.waiters.splice(0)) wake();
  }

  async other(than: Instance | undefined): Promise<Instance> {
    while (!this.latest || same(this.latest, than)) await new Promise<void>((r) => this.waiters.push(r));
    return this.latest;
  }
}

type Settled = { kind: "created"; instance: Instance } | { kind: "failed"; err: unknown };
type Reported = { kind: "reported"; instance: Instance };
type Attached = { kind: "attached" } | { kind: "attach-failed"; err: unknown };

/** Returns the instance StartVM runs on, adopted and attached; throws what failed first. */
export async function createAndAttach(steps: EarlyDialSteps, signal: AbortSignal): Promise<Instance> {
  // The create is bound to StartVM's signal only until StartVM returns: an operation that goes
  // on after an early answer must not be cut off by the caller's deadline.
  const createAbort = new AbortController();
  const follow = () => createAbort.abort(signal.reason);
  signal.addEventListener("abort", follow, { once: true });
  const reports = new Reports();
  const created = steps.create((i) => reports.report(i), createAbort.signal);
  const settled: Promise<Settled> = created.then(
    (instance) => ({ kind: "created", instance }),
    (err: unknown) => ({ kind: "failed", err }),
  );
  const reported = (than: Instance | undefined): Promise<Reported> =>
    reports.other(than).then((instance) => ({ kind: "reported", instance }));
  try {
    const first = await Promise.race([settled, reported(undefined)]);
    if (first.kind === "failed") throw first.err;
    let current = first.instance;
    await steps.adopt(current);
    if (first.kind === "created") {
      await steps.attach(current, signal);
      return current;
    }
    for (;;) {
      const attempt = new AbortController();
      const attaching: Promise<Attached> = steps
        .attach(current, AbortSignal.any([signal, attempt.signal]))
        .then(
          () => ({ kind: "attached" }),
          (err: unknown) => ({ kind: "attach-failed", err }),
        );
      let r: Settled | Reported | Attached = await Promise.race([attaching, settled, reported(current)]);
      // The create finished with the instance being dialled: only the attachment is left.
      if (r.kind === "created" && same(r.instance, current)) r = await attaching;
      if (r.kind === "attached") {
        void settled.then((o) => {
          if (o.kind === "failed") steps.late({ err: o.err });
          else if (o.kind === "created" && !same(o.instance, current)) steps.late({ instance: o.instance });
        });
        return current;
      }
      if (r.kind === "attach-failed") throw r.err;
      // The create failed, or moved on to another instance: drop what was built on this one.
      attempt.abort();
      await attaching;
      await steps.detach(current);
      if (r.kind === "failed") throw r.err;
      current = r.instance;
      await steps.adopt(current);
    }
  } catch (err) {
    // Nothing will be built on a create that is still going: end it (its provider cleans up).
    createAbort.abort(err);
    throw err;
  } finally {
    // However StartVM ends, its deadline no longer reaches the create.
    signal.removeEventListener("abort", follow);
  }
}
