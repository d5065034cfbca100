// A streaming ttrpc load generator for the agent-path benchmark, run as its own process so the relay
// under test does not share its event loop:
//   node agent-path-client.ts <socket> <WriteStdin|ReadStdout> <chunkBytes> <inflight> <durationMs>
// Keeps `inflight` calls outstanding on one connection for `durationMs`; prints {"bytes","ms","calls"}.
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { TtrpcClient } from "../../src/ttrpc/index.ts";

const [socket = "", method = "WriteStdin", sizeText = "1048576", inflightText = "8", durationText = "3000"] =
  process.argv.slice(2);
const size = Number(sizeText);
const inflight = Number(inflightText);
const duration = Number(durationText);

// WriteStreamRequest{1 container_id, 2 exec_id, 3 data} / ReadStreamRequest{1, 2, 3 len} (kata agent.proto).
const payload =
  method === "WriteStdin"
    ? new BinaryWriter()
        .uint32(0x0a)
        .string("c")
        .uint32(0x12)
        .string("e")
        .uint32(0x1a)
        .bytes(new Uint8Array(size))
        .finish()
    : new BinaryWriter().uint32(0x0a).string("c").uint32(0x12).string("e").uint32(0x18).uint32(size).finish();

const client = await TtrpcClient.connect(socket);
let bytes = 0;
let calls = 0;
const t0 = performance.now();
const end = t0 + duration;
async function lane(): Promise<void> {
  while (performance.now() < end) {
    const res = await client.call("grpc.AgentService", method, payload);
    bytes += method === "WriteStdin" ? size : res.length;
    calls++;
  }
}
await Promise.all(Array.from({ length: inflight }, lane));
const ms = performance.now() - t0;
client.close();
process.stdout.write(`${JSON.stringify({ bytes, ms, calls })}\n`);
