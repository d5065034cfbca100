// The provider starts with its configuration verified against the cloud, and reports the sizes
// instance-type selection needs (docs/upstream-compat.md §6: the list is built at start-up).
import type { ConformanceCase } from "../types.ts";

export const startCase: ConformanceCase = {
  id: "start",
  title: "starts, verifies its configuration and lists sized instance types",
  needs: [],
  async run(ctx) {
    await ctx.provider.start({ verify: true, signal: ctx.signal });
    const types = ctx.provider.instanceTypes();
    if (types.length === 0)
      throw new Error(
        "instanceTypes() is empty after start(): it must hold the allow-list or the default type",
      );
    const seen = new Set<string>();
    for (const t of types) {
      if (seen.has(t.name)) throw new Error(`instanceTypes() lists ${t.name} twice`);
      seen.add(t.name);
      const sized =
        Number.isInteger(t.vcpus) && t.vcpus > 0 && Number.isInteger(t.memoryMiB) && t.memoryMiB > 0;
      if (!sized || !Number.isInteger(t.gpus) || t.gpus < 0) {
        throw new Error(
          `instance type ${t.name} has no usable sizes (vcpus ${t.vcpus}, memoryMiB ${t.memoryMiB}, gpus ${t.gpus}); ` +
            "best-fit selection needs them",
        );
      }
    }
    const def = ctx.provider.defaultInstanceType();
    if (def === "") throw new Error("defaultInstanceType() is empty");
    return `default ${def}; types ${types.map((t) => `${t.name} (${t.vcpus} vCPU, ${t.memoryMiB} MiB)`).join(", ")}`;
  },
};
