// The leak collector (src/leak/) finds an instance that carries this node's owner tags but that no
// sandbox owns, deletes it, and leaves alone the instance a live sandbox owns and another node's
// instance (docs/background.md §1.1: leaked VMs are upstream's most reported problem).
import { LeakCollector } from "../../leak/collector.ts";
import { silentLogger } from "../../log/logger.ts";
import type { SandboxSource, SandboxView } from "../../ops/sandbox-view.ts";
import { isNotFound } from "../../../providers/errors.ts";
import type { Instance } from "../../../providers/types.ts";
import type { ConformanceCase } from "../types.ts";
import { createInstance, createRequest, ids, NAMESPACE, ownerTags, waitUntilGone } from "./instances.ts";

const NODE = "conformance-leak";

/** The one sandbox this node knows: it owns `owned`. */
function knownSandbox(owned: Instance, sandboxId: string): SandboxSource {
  const view: SandboxView = {
    id: sandboxId,
    podName: "conformance-owned",
    podNamespace: NAMESPACE,
    stage: "running",
    createdAt: new Date().toISOString(),
    instanceId: owned.id,
    instanceType: "",
    ips: owned.ips,
    timings: {},
  };
  return {
    list: () => [view],
    get: (id) => (id === sandboxId ? view : undefined),
    ownsInstance: (id) => id === owned.id,
    inFlightSandboxIds: () => new Set(),
  };
}

export const leakCase: ConformanceCase = {
  id: "leak-collection",
  title: "the leak collector deletes a planted orphan and nothing else",
  needs: ["start", "list"],
  async run(ctx) {
    const ownedReq = createRequest(ctx, ownerTags(ctx, "owned", NODE));
    const orphanReq = createRequest(ctx, ownerTags(ctx, "orphan", NODE));
    const otherNodeReq = createRequest(ctx, ownerTags(ctx, "other-node", `${NODE}-other`));
    ctx.step("planting an orphan beside an owned instance and another node's instance");
    const [owned, orphan, otherNode] = await Promise.all(
      [ownedReq, orphanReq, otherNodeReq].map((req) => createInstance(ctx, req)),
    );
    const collector = new LeakCollector({
      provider: ctx.provider,
      source: knownSandbox(owned, ownedReq.owner.sandboxId),
      cluster: ctx.cluster,
      node: NODE,
      graceMs: 0,
      logger: silentLogger(),
    });
    const pass = await collector.runOnce();
    if (pass.removed.length !== 1 || pass.removed[0] !== orphan.id) {
      throw new Error(
        `the leak collector removed ${pass.removed.join(", ") || "nothing"} (found ${ids(pass.found)}), ` +
          `expected exactly the orphan ${orphan.id}; owned ${owned.id}, other node ${otherNode.id}`,
      );
    }
    ctx.step(`collector deleted ${orphan.id}; waiting until it is gone`);
    await waitUntilGone(ctx, orphan.id);
    for (const keep of [owned, otherNode]) {
      await ctx.provider.get(keep.id, ctx.signal).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
        throw new Error(`${keep.id} (${keep.name}) is gone after the leak collector ran; it must be kept`);
      });
    }
    return `orphan ${orphan.id} deleted; owned ${owned.id} and other node's ${otherNode.id} kept`;
  },
};
