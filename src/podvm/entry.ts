// Entry of the pod-VM bundle (`npm run build` → dist/podvm/caa-podvm.cjs): only what a pod VM runs,
// `podvm` (the local provider's boot chain) and `forwarder` (process-user-data + the
// agent-protocol-forwarder). `forwarder` goes straight to the forwarder: every pod VM starts it, and
// the argument parser the other commands share would cost it start-up time and memory. Its flags
// are upstream's (parsed by the forwarder itself), so the result is what `caa forwarder` does.
// No top-level await: the bundle is CommonJS (src/podvm/bundle.ts).

async function main(argv: string[]): Promise<void> {
  if (argv[0] === "forwarder") {
    const { forwarderMain } = await import("../forwarder/main.ts");
    process.exitCode = await forwarderMain(argv.slice(1));
    return;
  }
  const { Command } = await import("@commander-js/extra-typings");
  const { forwarderCommand, podVmCommand } = await import("./commands.ts");
  await new Command("caa-podvm")
    .description("the pod-VM side of the peer-pod cloud-api-adaptor")
    .addCommand(podVmCommand())
    .addCommand(forwarderCommand())
    .parseAsync(process.argv);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`caa-podvm: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
