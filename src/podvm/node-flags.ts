// The node flags a pod VM runs the pod-VM side with: dist/podvm/caa-podvm (src/podvm/bundle.ts
// writes it) passes them, the local provider boots its VMs with them, the benches measure with them.
// - No optimising compilers (V8's Maglev and TurboFan; the baseline compiler stays): the first
//   optimisation pages in ~8 MB of their code from node's binary and their zones stay in malloc's
//   arenas: a forwarder that served 3000 agent calls sits at 69-71 MiB with node's defaults and at
//   57 MiB with these flags (footprint bench, BENCHMARKS.md). The relay's JS is little next to TLS
//   and syscalls: the two relays spend about a fifth more CPU per unary call and a tenth more per
//   MiB, and streaming stays well above socat (agent bench).
// - Semi-spaces of 1 MB (V8 grows them to 16 MB): the relay's garbage dies young, and a grown young
//   generation stays resident; another 1.3 MiB after 3000 calls. Only settable on the command line.
// - The relay's GC setting (src/relay/gc.ts), which it would otherwise set through node:v8.
import { RELAY_GC_FLAG } from "../relay/gc.ts";

export const PODVM_NODE_FLAGS: readonly string[] = [
  "--no-opt",
  "--no-maglev",
  "--max-semi-space-size=1",
  RELAY_GC_FLAG,
];
