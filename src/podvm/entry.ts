// Entry of the pod-VM bundle (`npm run build` → dist/podvm/caa-podvm.mjs): only what a pod VM runs,
// `podvm` (the local provider's boot chain) and `forwarder` (process-user-data + the
// agent-protocol-forwarder). Node's compile cache keeps the parsed bundle between boots.
import { enableCompileCache } from "node:module";
import { Command } from "@commander-js/extra-typings";
import { forwarderCommand, podVmCommand } from "./commands.ts";

enableCompileCache();
await new Command("caa-podvm")
  .description("the pod-VM side of the peer-pod cloud-api-adaptor")
  .addCommand(podVmCommand())
  .addCommand(forwarderCommand())
  .parseAsync(process.argv);
