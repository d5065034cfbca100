// Several sandboxes start at once on a node (a Deployment scaling up): each gets its own instance
// and address, and all of them can be listed and deleted concurrently.
import type { Instance } from "../../../providers/types.ts";
import type { ConformanceCase } from "../types.ts";
import {
  checkInstance,
  createInstance,
  createRequest,
  ids,
  listChecked,
  ownerTags,
  waitUntilGone,
} from "./instances.ts";

const NODE = "conformance-concurrent";

export const concurrentCase: ConformanceCase = {
  id: "concurrent-create",
  title: "concurrent creates give distinct instances that list and delete together",
  needs: ["start"],
  async run(ctx) {
    const n = ctx.concurrency;
    const requests = Array.from({ length: n }, (_, i) =>
      createRequest(ctx, ownerTags(ctx, `concurrent-${i}`, NODE)),
    );
    ctx.step(`creating ${n} instances at once`);
    const settled = await Promise.allSettled(requests.map((req) => createInstance(ctx, req)));
    const failed = settled.flatMap((s, i) =>
      s.status === "rejected" ? [`${requests[i].name}: ${(s.reason as Error).message}`] : [],
    );
    if (failed.length > 0)
      throw new Error(`${failed.length} of ${n} concurrent creates failed:\n- ${failed.join("\n- ")}`);
    const made = settled.map((s) => (s as PromiseFulfilledResult<Instance>).value);
    made.forEach((inst, i) => checkInstance(inst, requests[i], "concurrent create()"));
    const distinctIds = new Set(made.map((i) => i.id));
    if (distinctIds.size !== n)
      throw new Error(`${n} concurrent creates returned only ${distinctIds.size} distinct ids: ${ids(made)}`);
    const distinctIps = new Set(made.map((i) => i.ips[0]));
    if (distinctIps.size !== n) {
      throw new Error(
        `${n} concurrent creates share addresses: ${made.map((i) => `${i.id}=${i.ips[0]}`).join(", ")}`,
      );
    }
    const listed = await listChecked(ctx, { cluster: ctx.cluster, node: NODE });
    const listedIds = new Set(listed.map((i) => i.id));
    if (listedIds.size !== n || made.some((i) => !listedIds.has(i.id))) {
      throw new Error(`list by the batch's node tag returned ${ids(listed)}, expected ${ids(made)}`);
    }
    ctx.step(`deleting ${n} instances at once`);
    await Promise.all(made.map((inst) => ctx.provider.delete(inst.id, ctx.signal)));
    await Promise.all(made.map((inst) => waitUntilGone(ctx, inst.id)));
    return `${n} instances with distinct ids and addresses, listed and deleted together`;
  },
};
