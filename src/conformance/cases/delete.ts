// Delete is idempotent (the lifecycle retries it, and StopVM may run again after a restart), and
// a deleted instance disappears from get() and list().
import { OWNER_TAG_KEYS } from "../../../providers/types.ts";
import type { ConformanceCase } from "../types.ts";
import { ids, waitFor, waitUntilGone } from "./instances.ts";

export const deleteCase: ConformanceCase = {
  id: "delete",
  title: "delete is idempotent and the instance disappears from get and list",
  needs: ["create"],
  async run(ctx) {
    const first = ctx.first!;
    await ctx.provider.delete(first.id, ctx.signal);
    ctx.step(`deleted ${first.id}; deleting it again`);
    try {
      await ctx.provider.delete(first.id, ctx.signal);
    } catch (err) {
      throw new Error(
        `a second delete(${first.id}) failed: ${(err as Error).message}; delete must be idempotent`,
        { cause: err },
      );
    }
    ctx.step(`waiting until get(${first.id}) reports it gone`);
    await waitUntilGone(ctx, first.id);
    const owner = { cluster: ctx.cluster, sandboxId: first.tags[OWNER_TAG_KEYS.sandboxId] };
    let listed = await ctx.provider.list(owner, ctx.signal);
    await waitFor(
      ctx,
      async () => (listed = await ctx.provider.list(owner, ctx.signal)).length === 0,
      () => `list() still returns ${ids(listed)} after ${first.id} was deleted`,
    );
    try {
      await ctx.provider.delete(first.id, ctx.signal);
    } catch (err) {
      throw new Error(`delete(${first.id}) of an instance already gone failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return `${first.id} deleted three times; get() says not found, list() omits it`;
  },
};
