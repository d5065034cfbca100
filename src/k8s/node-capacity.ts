// The node's peer-pod capacity: extended resource `kata.peerpods.io/vm` = PEERPODS_LIMIT_PER_NODE,
// set with a JSON patch on the node status like upstream (CAA pkg/adaptor/k8sops/node.go), and the
// owner annotation `kata.peerpods.io/caa-owner` = POD_UID (CAA#3172). During a rolling update two
// daemons share the node; the old one removes the capacity at shutdown only if the annotation still
// names it, so it cannot take away the capacity the new one advertised.
import { PatchStrategy, setHeaderOptions, type CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "../log/logger.ts";
import { apiError } from "./api-error.ts";
import { pointerSegment } from "./json-pointer.ts";

export const VM_RESOURCE = "kata.peerpods.io/vm";
export const OWNER_ANNOTATION = "kata.peerpods.io/caa-owner";

const CAPACITY_PATH = `/status/capacity/${pointerSegment(VM_RESOURCE)}`;
const OWNER_PATH = `/metadata/annotations/${pointerSegment(OWNER_ANNOTATION)}`;

export interface NodeCapacityOptions {
  core: CoreV1Api;
  nodeName: string;
  /** POD_UID; without it the capacity is removed at shutdown unconditionally (upstream before CAA#3172). */
  podUid?: string;
  /** PEERPODS_LIMIT_PER_NODE; negative means "leave the capacity alone" (upstream). */
  limit: number;
  logger: Logger;
}

export class NodeCapacity {
  private readonly opts: NodeCapacityOptions;

  constructor(opts: NodeCapacityOptions) {
    this.opts = opts;
  }

  /** Advertise the capacity; false (logged) when the API refused. Never throws. */
  async advertise(): Promise<boolean> {
    const { core, nodeName, podUid, limit, logger } = this.opts;
    const log = logger.child({ node: nodeName });
    if (limit < 0) {
      log.info("no extended resource limit to set");
      return true;
    }
    try {
      // Ownership first, capacity second: an old daemon shutting down in between then already
      // sees that it no longer owns the capacity (upstream writes them the other way round).
      if (podUid) {
        await core.patchNode(
          { name: nodeName, body: { metadata: { annotations: { [OWNER_ANNOTATION]: podUid } } } },
          setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
        );
      }
      await core.patchNodeStatus({
        name: nodeName,
        body: [{ op: "add", path: CAPACITY_PATH, value: String(limit) }],
      });
      log.info({ resource: VM_RESOURCE, limit, owner: podUid || undefined }, "advertised peer-pod capacity");
      return true;
    } catch (err) {
      log.error({ resource: VM_RESOURCE, api: apiError(err) }, "failed to advertise peer-pod capacity");
      return false;
    }
  }

  /**
   * Remove the capacity at shutdown if this daemon still owns it. Returns "removed", "not-owner"
   * (another daemon took over; left in place) or "failed" (logged). Never throws.
   */
  async remove(): Promise<"removed" | "not-owner" | "failed"> {
    const { core, nodeName, podUid, limit, logger } = this.opts;
    const log = logger.child({ node: nodeName });
    if (limit < 0) return "not-owner";
    try {
      const patch: object[] = [{ op: "remove", path: CAPACITY_PATH }];
      if (podUid) {
        const node = await core.readNode({ name: nodeName });
        const owner = node.metadata?.annotations?.[OWNER_ANNOTATION];
        if (owner !== podUid) {
          log.info({ owner, self: podUid }, "peer-pod capacity now owned by another daemon; leaving it");
          return "not-owner";
        }
        if (node.status?.capacity?.[VM_RESOURCE] === undefined) {
          log.info({ resource: VM_RESOURCE }, "no peer-pod capacity to remove");
          return "removed";
        }
        // The test op makes the check and the removal one atomic step on the API server.
        patch.unshift({ op: "test", path: OWNER_PATH, value: podUid });
      }
      await core.patchNodeStatus({ name: nodeName, body: patch });
      log.info({ resource: VM_RESOURCE }, "removed peer-pod capacity");
      return "removed";
    } catch (err) {
      log.error({ resource: VM_RESOURCE, api: apiError(err) }, "failed to remove peer-pod capacity");
      return "failed";
    }
  }
}
