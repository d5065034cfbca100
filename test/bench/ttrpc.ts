// The ttrpc baseline: containerd's Go client calling containerd's Go server, and the same Go
// client calling our server, in one run.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TtrpcServer } from "../../src/ttrpc/index.ts";
import { goBenchClient, startGoServer, type GoBenchResult } from "../helpers/go-peer.ts";

export interface TtrpcBench {
  goServer: GoBenchResult;
  ourServer: GoBenchResult;
}

export async function benchTtrpcUnary(n: number): Promise<TtrpcBench> {
  const dir = await mkdtemp(join(tmpdir(), "caa-tb-"));
  const goSock = join(dir, "go.sock");
  const ourSock = join(dir, "ours.sock");
  const go = await startGoServer(goSock);
  const ours = new TtrpcServer();
  ours.register("test.Echo", { Echo: (payload) => payload });
  await ours.listen(ourSock);
  try {
    const opts = { n, payloadSize: 64, warmup: 500 };
    const goServer = await goBenchClient(goSock, opts);
    const ourServer = await goBenchClient(ourSock, opts);
    return { goServer, ourServer };
  } finally {
    await go.stop();
    await ours.close();
    await rm(dir, { recursive: true, force: true });
  }
}
