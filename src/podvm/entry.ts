// Entry of the pod-VM bundle (`npm run build` → dist/podvm/caa-podvm.cjs): only what a pod VM runs,
// `podvm` (the local provider's boot chain), `forwarder` (process-user-data + the
// agent-protocol-forwarder) and `process-user-data` (upstream's command of that name). The last two go
// straight to their code: every pod VM starts them, and the argument parser the other commands share
// would cost start-up time and memory. Their flags are upstream's (parsed by that code), so the
// result is what `caa forwarder` and `caa process-user-data` do.
// No top-level await: the bundle is CommonJS (src/podvm/bundle.ts).

async function main(argv: string[]): Promise<void> {
  if (argv[0] === "forwarder") {
    const { forwarderMain } = await import("../forwarder/main.ts");
    process.exitCode = await forwarderMain(argv.slice(1));
    return;
  }
  if (argv[0] === "process-user-data") {
    const { processUserDataMain } = await import("../forwarder/process-user-data.ts");
    process.exitCode = await processUserDataMain(argv.slice(1));
    return;
  }
  const { Command } = await import("@commander-js/extra-typings");
  const { forwarderCommand, podVmCommand, processUserDataCommand } = await import("./commands.ts");
  await new Command("caa-podvm")
    .description("the pod-VM side of the peer-pod cloud-api-adaptor")
    .addCommand(podVmCommand())
    .addCommand(forwarderCommand())
    .addCommand(processUserDataCommand())
    .parseAsync(process.argv);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`caa-podvm: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
