// Create one instance with user-data and owner tags; read the user-data back where the provider
// offers a way (Provider.readUserData), so a provider cannot silently drop or re-encode it.
import type { ConformanceCase } from "../types.ts";
import { checkInstance, createInstance, createRequest, ownerTags } from "./instances.ts";

export const createCase: ConformanceCase = {
  id: "create",
  title: "creates an instance with user-data and owner tags",
  needs: ["start"],
  async run(ctx) {
    const req = createRequest(ctx, ownerTags(ctx, "create"));
    ctx.step(`creating ${req.name} (${req.spec.instanceType})`);
    const inst = await createInstance(ctx, req);
    ctx.first = inst;
    checkInstance(inst, req, "create()");
    if (ctx.provider.readUserData === undefined)
      return `${inst.id} at ${inst.ips[0]}; user-data not read back (the provider offers no readUserData)`;
    const stored = await ctx.provider.readUserData(inst.id, ctx.signal);
    if (stored !== req.userData) {
      throw new Error(
        `user-data of ${inst.id} differs from what create() was given: sent ${JSON.stringify(req.userData)}, ` +
          `the cloud holds ${JSON.stringify(stored)}`,
      );
    }
    return `${inst.id} at ${inst.ips[0]}; user-data read back intact`;
  },
};
