// One PeerPod per started VM (CAA pkg/adaptor/k8sops/peerpod.go, docs/upstream-compat.md §9.1): owned by
// the Pod (controller reference, blockOwnerDeletion), carrying the finalizer `peer.pod/finalizer`
// that CAA removes once it deleted the VM itself. If the Pod goes away while the finalizer is still
// there, peerpod-ctrl (or our leak collector) deletes the VM. API failures are logged, never thrown.
import type { CustomObjectsApi, CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "../log/logger.ts";
import { apiError } from "./api-error.ts";
import {
  PEERPOD_FINALIZER,
  PEERPOD_GROUP,
  PEERPOD_KIND,
  PEERPOD_PLURAL,
  PEERPOD_VERSION,
  peerPodName,
  type PeerPod,
  type PeerPodList,
} from "./peerpod.ts";

export interface PeerPodServiceOptions {
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** CLOUD_PROVIDER, written into spec.cloudProvider. */
  cloudProvider: string;
  logger: Logger;
}

const API = { group: PEERPOD_GROUP, version: PEERPOD_VERSION, plural: PEERPOD_PLURAL };

export class PeerPodService {
  private readonly opts: PeerPodServiceOptions;

  constructor(opts: PeerPodServiceOptions) {
    this.opts = opts;
  }

  /** Create the PeerPod for a started VM; its name, or undefined (logged) when the API refused. */
  async own(podName: string, namespace: string, instanceId: string): Promise<string | undefined> {
    const log = this.opts.logger.child({ pod: podName, namespace, instance: instanceId });
    try {
      const pod = await this.opts.core.readNamespacedPod({ name: podName, namespace });
      const uid = pod.metadata?.uid;
      if (!uid) throw new Error(`pod ${namespace}/${podName} has no uid`);
      const body: PeerPod = {
        apiVersion: `${PEERPOD_GROUP}/${PEERPOD_VERSION}`,
        kind: PEERPOD_KIND,
        metadata: {
          name: peerPodName(podName),
          namespace,
          finalizers: [PEERPOD_FINALIZER],
          ownerReferences: [
            { apiVersion: "v1", kind: "Pod", name: podName, uid, controller: true, blockOwnerDeletion: true },
          ],
        },
        spec: { cloudProvider: this.opts.cloudProvider, instanceID: instanceId },
      };
      await this.opts.custom.createNamespacedCustomObject({ ...API, namespace, body });
      log.info({ peerpod: body.metadata.name }, `${podName} is now owning a PeerPod object`);
      return body.metadata.name;
    } catch (err) {
      log.error({ api: apiError(err) }, "failed to create the PeerPod object");
      return undefined;
    }
  }

  /**
   * Remove the finalizer from the pod's PeerPod(s) for this instance after the VM was deleted.
   * Found by spec.instanceID rather than an in-memory map, so it also works after a restart.
   * Returns how many were released (0 when there was none), or undefined (logged) on failure.
   */
  async release(podName: string, namespace: string, instanceId: string): Promise<number | undefined> {
    const log = this.opts.logger.child({ pod: podName, namespace, instance: instanceId });
    try {
      const list = (await this.opts.custom.listNamespacedCustomObject({ ...API, namespace })) as PeerPodList;
      const mine = list.items.filter((pp) => this.matches(pp, instanceId));
      for (const pp of mine) await this.removeFinalizers(pp);
      if (mine.length > 0) log.info(`${podName}'s owned PeerPod object can now be deleted`);
      return mine.length;
    } catch (err) {
      log.error({ api: apiError(err) }, "failed to release the PeerPod object");
      return undefined;
    }
  }

  /** Instance ids of this provider's PeerPods that are being deleted with the finalizer still set. */
  async deletingInstanceIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const pp of await this.listAll()) {
      if (pp.metadata.deletionTimestamp && pp.metadata.finalizers?.includes(PEERPOD_FINALIZER))
        ids.add(pp.spec.instanceID);
    }
    return ids;
  }

  /** Release every PeerPod of this instance in any namespace (after the leak collector deleted it). */
  async releaseInstance(instanceId: string): Promise<void> {
    for (const pp of await this.listAll()) {
      if (!this.matches(pp, instanceId)) continue;
      try {
        await this.removeFinalizers(pp);
      } catch (err) {
        throw cleanError(
          `removing the finalizer of PeerPod ${pp.metadata.namespace}/${pp.metadata.name}`,
          err,
        );
      }
    }
  }

  /** PeerPods of this provider in all namespaces. Throws a short Error on API failure. */
  private async listAll(): Promise<PeerPod[]> {
    let list: PeerPodList;
    try {
      list = (await this.opts.custom.listClusterCustomObject(API)) as PeerPodList;
    } catch (err) {
      throw cleanError("listing PeerPods", err);
    }
    return list.items.filter((pp) => pp.spec?.cloudProvider === this.opts.cloudProvider);
  }

  private matches(pp: PeerPod, instanceId: string): boolean {
    return pp.spec?.instanceID === instanceId && pp.spec.cloudProvider === this.opts.cloudProvider;
  }

  private async removeFinalizers(pp: PeerPod): Promise<void> {
    if (!pp.metadata.finalizers?.length) return;
    // Upstream's patch: remove the whole finalizers list (JSON patch, the client's default type).
    await this.opts.custom.patchNamespacedCustomObject({
      ...API,
      namespace: pp.metadata.namespace,
      name: pp.metadata.name,
      body: [{ op: "remove", path: "/metadata/finalizers" }],
    });
  }
}

/** An Error naming the call, the HTTP code and the API's message, without the raw response. */
function cleanError(what: string, err: unknown): Error {
  const info = apiError(err);
  const status = info.status ? ` (HTTP ${info.status}${info.reason ? ` ${info.reason}` : ""})` : "";
  return new Error(`${what} failed${status}: ${info.message}`);
}
