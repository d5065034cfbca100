// list() filters by every owner tag it is given: the leak collector and restart recovery rely on
// it never returning an instance that belongs to another cluster, node or sandbox.
import { OWNER_TAG_KEYS, type OwnerTags } from "../../../providers/types.ts";
import type { ConformanceCase } from "../types.ts";
import { describeOwner, ids, listChecked } from "./instances.ts";

export const listCase: ConformanceCase = {
  id: "list",
  title: "list filters by cluster, node and sandbox tags",
  needs: ["create"],
  async run(ctx) {
    const first = ctx.first!;
    const tag = (k: keyof OwnerTags) => first.tags[OWNER_TAG_KEYS[k]];
    const byCluster = await listChecked(ctx, { cluster: ctx.cluster });
    if (!byCluster.some((i) => i.id === first.id)) {
      throw new Error(
        `list({${describeOwner({ cluster: ctx.cluster })}}) does not return ${first.id} (returned ${ids(byCluster)})`,
      );
    }
    const bySandbox = await listChecked(ctx, { cluster: ctx.cluster, sandboxId: tag("sandboxId") });
    if (bySandbox.length !== 1 || bySandbox[0].id !== first.id) {
      throw new Error(
        `list by ${first.id}'s sandbox tag returned ${ids(bySandbox)}, expected exactly ${first.id}`,
      );
    }
    for (const other of [
      { cluster: `${ctx.cluster}-other` },
      { cluster: ctx.cluster, node: `${tag("node")}-other` },
    ]) {
      const none = await listChecked(ctx, other);
      if (none.length > 0)
        throw new Error(`list({${describeOwner(other)}}) returned ${ids(none)}, expected none`);
    }
    return `${byCluster.length} instance(s) under the run's cluster tag; foreign cluster and node tags match none`;
  },
};
