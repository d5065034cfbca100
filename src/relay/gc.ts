// By default V8 weighs ArrayBuffer memory against the old generation's allocation limit, so a
// relay moving many MiB/s through short-lived socket reads (a socket that reads into fresh buffers:
// accepted ones did before reused-reads.ts adopted them, and still do where adoption is refused)
// starts a full mark-compact every ten-odd MiB, although the reads die young. Weighed against the
// global limit instead, they are freed by scavenges: in the agent bench the forwarder went from 5-6
// full GCs to 1-2 per 3 s upload and both relays spent about a third less CPU per MiB. Set at run
// time, before the relay starts.
import v8 from "node:v8";

v8.setFlagsFromString("--external-memory-accounted-in-global-limit");
