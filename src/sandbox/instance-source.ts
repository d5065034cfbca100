// Where StartVM's instance comes from: a warm-pool claim, else the cloud call with the core's
// capacity fallback (capacity.ts). Either way the instance is on the record, on disk, before
// anything else can fail, so a restart finds it. Steps of Lifecycle.start (lifecycle.ts) only.
import type { Instance } from "../../providers/types.ts";
import { messageOf, partialInstance } from "../../providers/errors.ts";
import { createWithFallback } from "./capacity.ts";
import type { LifecycleDeps, LifecycleSteps } from "./lifecycle-steps.ts";
import type { SandboxRecord } from "./model.ts";

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

/** The cloud call, with the core's capacity fallback. */
export async function createInstance(
  d: LifecycleDeps,
  steps: LifecycleSteps,
  record: SandboxRecord,
  signal: AbortSignal,
): Promise<Instance> {
  const { provider, config, observer, logger } = d;
  const log = { component: "adaptor/cloud", sandbox: record.id, pod: record.podName };
  let instance: Instance;
  try {
    instance = await createWithFallback(
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
    if (partial) await steps.recordInstance(record, partial);
    throw err;
  }
  await steps.recordInstance(record, instance);
  logger.info(
    { ...log, instance: instance.id },
    `created an instance ${instance.name} for sandbox ${record.id}`,
  );
  await observer?.instanceCreated?.(record);
  return instance;
}
