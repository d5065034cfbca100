// get() returns the instance create() made: same id, name, address and owner tags.
import type { ConformanceCase } from "../types.ts";

export const getCase: ConformanceCase = {
  id: "get",
  title: "get returns the created instance with its tags",
  needs: ["create"],
  async run(ctx) {
    const first = ctx.first!;
    const got = await ctx.provider.get(first.id, ctx.signal);
    if (got.id !== first.id) throw new Error(`get(${first.id}) returned instance ${got.id}`);
    if (got.name !== first.name)
      throw new Error(`get(${first.id}) returned name ${got.name}, create() said ${first.name}`);
    if (got.ips[0] !== first.ips[0]) {
      throw new Error(
        `get(${first.id}) returned IPs ${JSON.stringify(got.ips)}, create() said ${JSON.stringify(first.ips)}`,
      );
    }
    const changed = Object.entries(first.tags).filter(([k, v]) => got.tags[k] !== v);
    if (changed.length > 0) {
      throw new Error(
        `get(${first.id}) lost or changed tags: ${changed.map(([k, v]) => `${k}=${v} → ${got.tags[k] ?? "(absent)"}`).join(", ")}`,
      );
    }
    return `${got.id} ${got.name} at ${got.ips[0]}`;
  },
};
