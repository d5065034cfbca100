// createAndAttach (src/sandbox/early-dial.ts) with a scripted create: what StartVM builds on an
// early-reported instance, when it is dropped, and what happens to a create that outlives StartVM.
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { test } from "node:test";
import type { Instance } from "../../providers/types.ts";
import { createAndAttach, type EarlyDialSteps } from "../../src/sandbox/early-dial.ts";

const vm = (id: string, ip = `10.0.0.${id.length}`): Instance => ({ id, name: id, ips: [ip], tags: {} });

interface Script {
  /** Runs as the provider's create: may report, then settles. */
  create(report: (i: Instance) => void, signal: AbortSignal): Promise<Instance>;
  /** How attaching to an instance goes; default: succeeds at once. */
  attach?(i: Instance, signal: AbortSignal): Promise<void>;
}

function harness(script: Script) {
  const log: string[] = [];
  let createSignal: AbortSignal | undefined;
  const late: Array<{ instance: Instance } | { err: unknown }> = [];
  const steps: EarlyDialSteps = {
    create: (onAddress, signal) => {
      createSignal = signal;
      return script.create((i) => {
        log.push(`report ${i.id}`);
        onAddress(i);
      }, signal);
    },
    adopt: async (i) => void log.push(`adopt ${i.id}`),
    attach: async (i, signal) => {
      log.push(`attach ${i.id}`);
      await (script.attach ?? (async () => {}))(i, signal);
      log.push(`attached ${i.id}`);
    },
    detach: async (i) => void log.push(`detach ${i.id}`),
    late: (o) => late.push(o),
  };
  return { steps, log, late, createSignal: () => createSignal };
}

/** A promise and its resolvers, to settle a scripted call from the test. */
function gate<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setImmediate(r));

test("without a report: create, adopt, then attach", async () => {
  const h = harness({ create: async () => vm("a") });
  const got = await createAndAttach(h.steps, new AbortController().signal);
  assert.equal(got.id, "a");
  assert.deepEqual(h.log, ["adopt a", "attach a", "attached a"]);
});

test("StartVM's signal keeps no listener once it returned, early or not", async () => {
  // A daemon serving thousands of StartVMs on long-lived signals must not pile up listeners.
  const signal = new AbortController().signal;
  await createAndAttach(harness({ create: async () => vm("a") }).steps, signal);
  assert.equal(getEventListeners(signal, "abort").length, 0);
  const done = gate<Instance>();
  const early = harness({
    create: (report) => {
      report(vm("b"));
      return done.promise;
    },
  });
  await createAndAttach(early.steps, signal);
  assert.equal(getEventListeners(signal, "abort").length, 0);
  done.resolve(vm("b"));
});

test("a reported instance is attached at once; StartVM returns before the create settles", async () => {
  const done = gate<Instance>();
  const h = harness({
    create: (report) => {
      report(vm("a"));
      return done.promise;
    },
  });
  const got = await createAndAttach(h.steps, new AbortController().signal);
  assert.equal(got.id, "a");
  assert.deepEqual(h.log, ["report a", "adopt a", "attach a", "attached a"]);
  assert.equal(h.createSignal()?.aborted, false, "the create goes on");
  done.reject(Object.assign(new Error("VM create Failed"), { code: "InternalExecutionError" }));
  await tick();
  assert.equal(h.late.length, 1);
  assert.match(String((h.late[0] as { err: Error }).err.message), /VM create Failed/);
});

test("the caller's deadline after an early answer does not cut the create off", async () => {
  const done = gate<Instance>();
  const deadline = new AbortController();
  const h = harness({
    create: (report) => {
      report(vm("a"));
      return done.promise;
    },
  });
  await createAndAttach(h.steps, deadline.signal);
  deadline.abort();
  assert.equal(h.createSignal()?.aborted, false);
  done.resolve(vm("a"));
  await tick();
  assert.deepEqual(h.late, [], "the create ended with the instance in use");
});

test("a create that fails while its report is being dialled: detach, then its error", async () => {
  const done = gate<Instance>();
  const h = harness({
    create: (report) => {
      report(vm("a"));
      return done.promise;
    },
    attach: (_i, signal) =>
      new Promise((_res, rej) => signal.addEventListener("abort", () => rej(new Error("dial aborted")))),
  });
  const started = createAndAttach(h.steps, new AbortController().signal);
  await tick();
  done.reject(new Error("AllocationFailed"));
  await assert.rejects(started, /AllocationFailed/);
  assert.deepEqual(h.log, ["report a", "adopt a", "attach a", "detach a"]);
});

test("capacity fallback moves to another instance: the first is dropped, the second attached", async () => {
  const done = gate<Instance>();
  let attachA: ((v: void) => void) | undefined;
  const h = harness({
    create: (report) => {
      report(vm("a"));
      setTimeout(() => {
        report(vm("bb"));
        setTimeout(() => done.resolve(vm("bb")), 5);
      }, 5);
      return done.promise;
    },
    attach: (i, signal) =>
      i.id === "a"
        ? new Promise((res, rej) => {
            attachA = res;
            signal.addEventListener("abort", () => rej(new Error("dial aborted")));
          })
        : Promise.resolve(),
  });
  const got = await createAndAttach(h.steps, new AbortController().signal);
  assert.equal(got.id, "bb");
  assert.ok(attachA, "a was being dialled");
  assert.deepEqual(h.log, [
    "report a",
    "adopt a",
    "attach a",
    "report bb",
    "detach a",
    "adopt bb",
    "attach bb",
    "attached bb",
  ]);
  assert.deepEqual(h.late, []);
});

test("an attach that fails on its own ends the create too", async () => {
  const done = gate<Instance>();
  const h = harness({
    create: (report, signal) => {
      report(vm("a"));
      signal.addEventListener("abort", () => done.reject(new Error("create aborted")));
      return done.promise;
    },
    attach: async () => {
      throw new Error("agent-connect: no answer");
    },
  });
  await assert.rejects(createAndAttach(h.steps, new AbortController().signal), /no answer/);
  assert.equal(h.createSignal()?.aborted, true);
});

test("an instance the create ends with that is not the one answering is handed to late()", async () => {
  const done = gate<Instance>();
  const h = harness({
    create: (report) => {
      report(vm("a"));
      return done.promise;
    },
  });
  await createAndAttach(h.steps, new AbortController().signal);
  done.resolve(vm("zz"));
  await tick();
  assert.deepEqual(
    h.late.map((o) => ("instance" in o ? o.instance.id : "err")),
    ["zz"],
  );
});
