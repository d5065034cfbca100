// Where StartVM's instance comes from: a warm-pool claim, else the cloud call with the core's
// capacity fallback (capacity.ts). Either way the instance is on the record, on disk, before
// anything else can fail, so a restart finds it. Steps of Lifecycle.start (lifecycle.ts) only.
import type { Instance } from "../../providers/types.ts";
import { messageOf, partialInstance } from "../../providers/errors.ts";
import { createWithFallback } from "./capacity.ts";
import { createAndAttach } from "./early-dial.ts";
import type { LifecycleDeps, LifecycleSteps } from "./lifecycle-steps.ts";
import type { SandboxRecord } from "./model.ts";
import type { AgentSessions } from "./sessions.ts";

/**
 * A pool hit: the claimed VM is on the sandbox's record before the bind, so a restart finds it.
 * A VM that cannot be bound is deleted and StartVM goes on cold (undefined).
 */
export async function claimPooled(
  d: LifecycleDeps,
  steps: LifecycleSteps,
  record: SandboxRecord,
  signal: AbortSignal,
): Promise<Instance | undefined> {
  const { pool, observer, logger, store } = d;
  const instance = await pool?.claim(record.id, record.spec);
  if (!pool || !instance) return undefined;
  await steps.recordInstance(record, instance);
  try {
    await pool.bind(instance.id, record.userData, signal);
  } catch (err) {
    logger.warn(
      { sandbox: record.id, pod: record.podName, instance: instance.id, err: messageOf(err) },
      "binding a pooled VM failed; deleting it and creating one",
    );
    // If the delete fails too, the VM is unrecorded and pool-tagged: the leak collector removes it.
    await steps.deleteInstance(record);
    record.instance = undefined;
    record.lastError = undefined;
    await store.put(record);
    if (signal.aborted) throw err;
    return undefined;
  }
  record.pooled = true;
  logger.info(
    { component: "adaptor/cloud", sandbox: record.id, pod: record.podName, instance: instance.id },
    `took pooled instance ${instance.name} for sandbox ${record.id}`,
  );
  await observer?.instanceCreated?.(record);
  return instance;
}

/**
 * The cloud call, with the core's capacity fallback. `onAddress` goes to the provider (an early
 * address, early-dial.ts); once `detached()` the sandbox no longer waits for this call, and a
 * late failure must not touch its record.
 */
export async function createInstance(
  d: LifecycleDeps,
  steps: LifecycleSteps,
  record: SandboxRecord,
  signal: AbortSignal,
  early: { onAddress?: (instance: Instance) => void; detached: () => boolean } = { detached: () => false },
): Promise<Instance> {
  const { provider, config, logger } = d;
  const log = { component: "adaptor/cloud", sandbox: record.id, pod: record.podName };
  try {
    return await createWithFallback(
      provider,
      {
        name: record.vmName,
        userData: record.userData,
        spec: record.spec,
        owner: {
          cluster: config.cluster,
          node: config.node,
          sandboxId: record.id,
          podName: record.podName,
          podNamespace: record.podNamespace,
        },
        ...(early.onAddress ? { onAddress: early.onAddress } : {}),
      },
      {
        signal,
        offerings: d.offerings,
        onNoCapacity: (instanceType, code) =>
          logger.warn({ ...log, instanceType, code }, "no capacity for instance type, trying the next one"),
      },
    );
  } catch (err) {
    // Upstream's partial Instance: it exists, so record it for the undo that follows.
    const partial = partialInstance(err);
    if (partial && !early.detached()) await steps.recordInstance(record, partial, { durable: false });
    throw err;
  }
}

/**
 * The instance StartVM runs on goes on the record before anything is built on it; without an
 * fsync, as it carries the sandbox's owner tags (LifecycleSteps.recordInstance).
 */
export async function adoptInstance(
  d: LifecycleDeps,
  steps: LifecycleSteps,
  record: SandboxRecord,
  instance: Instance,
): Promise<void> {
  await steps.recordInstance(record, instance, { durable: false });
  d.logger.info(
    { component: "adaptor/cloud", sandbox: record.id, pod: record.podName, instance: instance.id },
    `created an instance ${instance.name} for sandbox ${record.id}`,
  );
  await d.observer?.instanceCreated?.(record);
}

/**
 * StartVM's cloud instance, adopted and attached (`attach`: the pod network and the agent
 * connect), dialled as soon as the provider reports an address (early-dial.ts).
 */
export async function cloudInstance(
  d: LifecycleDeps,
  steps: LifecycleSteps,
  sessions: AgentSessions,
  record: SandboxRecord,
  opts: {
    attach: (instance: Instance, signal: AbortSignal) => Promise<void>;
    onDetach: () => void;
    signal: AbortSignal;
  },
): Promise<Instance> {
  const { logger, provider, observer } = d;
  const log = { sandbox: record.id, pod: record.podName, vm: record.vmName };
  let detached = false;
  try {
    return await createAndAttach(
      {
        // Dialling early needs something that dials: without an agent port (tests of the core
        // alone) an attachment would "succeed" on a VM whose create may still fail.
        create: (onAddress, signal) =>
          createInstance(d, steps, record, signal, {
            onAddress: d.agent ? onAddress : undefined,
            detached: () => detached,
          }),
        adopt: (instance) => adoptInstance(d, steps, record, instance),
        attach: opts.attach,
        detach: async () => {
          // The create failed or replaced the instance; its provider removed it.
          opts.onDetach();
          await sessions.close(record.id);
          await steps.teardownNetwork(record);
          await observer?.instanceDeleted?.(record);
        },
        late: (outcome) => {
          if ("err" in outcome) {
            logger.error(
              { ...log, err: messageOf(outcome.err) },
              `the cloud reported the create of ${record.vmName} failed after its agent had answered`,
            );
            return;
          }
          // A second instance nobody uses (the first one answered): it must not be left behind.
          const id = outcome.instance.id;
          logger.warn({ ...log, instance: id }, "deleting an instance the sandbox does not use");
          provider
            .delete(id)
            .catch((err: unknown) =>
              logger.error({ ...log, instance: id, err: messageOf(err) }, "deleting it failed"),
            );
        },
      },
      opts.signal,
    );
  } finally {
    detached = true;
  }
}
