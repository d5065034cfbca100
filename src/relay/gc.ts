// By default V8 weighs ArrayBuffer memory against the old generation's allocation limit, so a
// relay moving many MiB/s through short-lived socket reads (a socket that reads into fresh buffers:
// accepted ones did before reused-reads.ts adopted them, and still do where adoption is refused)
// starts a full mark-compact every ten-odd MiB, although the reads die young. Weighed against the
// global limit instead, they are freed by scavenges: in the agent bench the forwarder went from 5-6
// full GCs to 1-2 per 3 s upload and both relays spent about a third less CPU per MiB. Set at run
// time, before the relay starts, unless node was started with it (the pod VM's flags,
// src/podvm/node-flags.ts: node:v8 is then not loaded at all, 0.3 MiB less in every pod VM).
export const RELAY_GC_FLAG = "--external-memory-accounted-in-global-limit";

export function applyRelayGcFlag(): void {
  if (!process.execArgv.includes(RELAY_GC_FLAG))
    process.getBuiltinModule("node:v8").setFlagsFromString(RELAY_GC_FLAG);
}
