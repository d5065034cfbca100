// The pod-VM side's commands (`podvm`, `forwarder`, `process-user-data`), shared by `caa` and by
// the pod-VM bundle (src/podvm/entry.ts), so both parse the same flags. Each loads its code only
// when it runs.
import { Command } from "@commander-js/extra-typings";

function fail(err: unknown): never {
  console.error(`caa: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

/**
 * A command that hands its arguments, unparsed, to a main that parses its own (upstream's Go-style
 * flags) and returns the exit code; `load` imports that main when the command runs.
 */
export function passThroughCommand(
  name: string,
  description: string,
  load: () => Promise<(args: string[]) => Promise<number>>,
): Command<[string[]]> {
  return new Command(name)
    .description(description)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]")
    .action(async (args: string[]) => {
      const main = await load();
      process.exitCode = await main(args);
    });
}

export const forwarderCommand = (): Command<[string[]]> =>
  passThroughCommand(
    "forwarder",
    "the agent-protocol-forwarder that runs in the pod VM (flags as upstream's; -h lists them)",
    async () => (await import("../forwarder/main.ts")).forwarderMain,
  );

export const processUserDataCommand = (): Command<[string[]]> =>
  passThroughCommand(
    "process-user-data",
    "provision-files: the pod VM's files from its user-data (upstream's command; -h lists the flags)",
    async () => (await import("../forwarder/process-user-data.ts")).processUserDataMain,
  );

export function podVmCommand() {
  return new Command("podvm")
    .description("boot chain of a local pod VM (run by the local provider inside the VM namespace)")
    .requiredOption("--cidata <dir>", "directory holding user-data (as /media/cidata)")
    .requiredOption("--root <dir>", "the VM's root for /run/peerpod files")
    .option("--listen <addr>", "forwarder listen address", "0.0.0.0:15150")
    .option("--agent-command <cmd>", "kata agent command", "")
    .option("--boot-delay <duration>", "simulated boot time", "0ms")
    .option("--vm-netns <name>", "the VM's network namespace (local provider)")
    .option("--pod-netns <name>", "the pod network namespace inside the VM", "podns")
    .option("--host-interface <name>", "the VM's primary interface")
    .action(async (o) => {
      const { runPodVm } = await import("./main.ts");
      await runPodVm(o).catch(fail);
    });
}
