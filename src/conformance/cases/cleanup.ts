// Runs after every other case, whatever happened: deletes each instance this run created and
// everything listed under the run's cluster tag, then waits until the list is empty.
import type { CaseContext } from "../types.ts";
import { ids, waitFor } from "./instances.ts";

export async function cleanup(ctx: CaseContext): Promise<string> {
  const errors: string[] = [];
  const listed = await ctx.provider.list({ cluster: ctx.cluster }, ctx.signal).catch((err: Error) => {
    errors.push(`list: ${err.message}`);
    return [];
  });
  const targets = [...new Set([...ctx.created.keys(), ...listed.map((i) => i.id)])];
  ctx.step(`deleting ${targets.length} instance(s) of this run`);
  await Promise.all(
    targets.map((id) =>
      ctx.provider.delete(id, ctx.signal).catch((err: Error) => errors.push(`delete ${id}: ${err.message}`)),
    ),
  );
  let left = listed;
  if (errors.length === 0) {
    await waitFor(
      ctx,
      async () => (left = await ctx.provider.list({ cluster: ctx.cluster }, ctx.signal)).length === 0,
      () => `${left.length} instance(s) still listed`,
    ).catch((err: Error) => errors.push(err.message));
  }
  if (errors.length > 0) {
    throw new Error(
      `cleanup could not remove everything this run made; delete by hand what carries peerpod-cluster=${ctx.cluster} ` +
        `(created: ${[...ctx.created.keys()].join(", ") || "none"}; still listed: ${ids(left)}):\n- ${errors.join("\n- ")}`,
    );
  }
  return `removed ${targets.length} instance(s); nothing left under peerpod-cluster=${ctx.cluster}`;
}
