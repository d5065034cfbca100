// Entry of `caa podvm`: boot, then stay up until the local provider stops the VM.
import { parseGoDuration } from "../config/options.ts";
import { createLogger } from "../log/logger.ts";
import { bootPodVm } from "./boot.ts";

export async function runPodVm(o: {
  cidata: string;
  root: string;
  listen: string;
  agentCommand: string;
  bootDelay: string;
  vmNetns?: string;
  podNetns?: string;
  hostInterface?: string;
}): Promise<void> {
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? "info" }).child({ component: "podvm" });
  const bootDelayMs = parseGoDuration(o.bootDelay);
  if (bootDelayMs === undefined) throw new Error(`invalid --boot-delay ${JSON.stringify(o.bootDelay)}`);
  const vm = await bootPodVm({ ...o, bootDelayMs }, logger);
  const shutdown = () => {
    void vm.stop().finally(() => process.exit(0));
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
  setInterval(() => undefined, 1 << 30);
}
